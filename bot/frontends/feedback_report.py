"""What moderators see of the feedback log: `/feedback`'s text and `feedback export`'s lines.

Pure functions over `bot.feedback.log`'s dataclasses, so both are tested without
Discord or a database. Exported lines are `eval` QA lines of type "unreviewed":
a moderator puts the right answer in "answers" (or sets "type": "unanswerable"
when the articles do not hold it), and `python -m bot eval FILE` measures them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.answering.outcomes import Decline
from bot.errors import BotError
from bot.evaluation.scoring import UNREVIEWED
from bot.feedback.log import FeedbackSummary, LoggedAnswer, question_key
from bot.frontends.discord.formatting import MESSAGE_LIMIT, escape_markdown
from retrieval.cleaning import shorten

EXPORT_HINT = (
    "To measure these questions: `python -m bot feedback export FILE`, fill in the right "
    "answers, then `python -m bot eval FILE --answers`."
)
NOTHING_YET = "No questions logged yet: answers and 👍 / 👎 votes appear here as members ask."
# Why the bot declined, in a few words a moderator can act on. Declines a moderator would
# act on alike share a label, and are counted together under it.
DECLINE_LABELS = {
    Decline.EMPTY_QUESTION: "empty question",
    Decline.NOTHING_RELEVANT: "nothing relevant in the articles",
    Decline.NO_SENTENCES: "nothing relevant in the articles",
    Decline.SLOW: "model too slow",
    Decline.FAILED: "model failed",
    Decline.MODEL_NOT_FOUND: "the model found no answer",
    Decline.ORDERED_BY_ARTICLE: "refused: an article gives the model orders",
    Decline.ANSWER_NOT_IN_SENTENCES: "answer not in the quoted text",
    Decline.NO_QUOTE_VERIFIED: "answer not in the quoted text",
    Decline.UNSURE: "low confidence",
}


def decline_label(decline: Decline | None) -> str:
    """A decline as a moderator reads it."""
    return DECLINE_LABELS[decline] if decline is not None else "declined"


def label_counts(counts: Iterable[tuple[Decline | None, int]]) -> list[tuple[str, int]]:
    """Declines counted under their labels, most frequent first."""
    merged: dict[str, int] = {}
    for decline, count in counts:
        label = decline_label(decline)
        merged[label] = merged.get(label, 0) + count
    return sorted(merged.items(), key=lambda item: -item[1])


def _flat(text: str, limit: int) -> str:
    return escape_markdown(shorten(" ".join(text.split()), limit))


def _down_block(number: int, item: LoggedAnswer) -> str:
    lines = [
        f"{number}. **{_flat(item.question, 120)}** (👎 {item.downs} · 👍 {item.ups}, "
        f"{item.asked_at[:10]})",
        f"→ {_flat(item.answer, 150)}",
    ]
    lines += [f"> {_flat(q.text, 150)} — *{_flat(q.title, 60)}*" for q in item.quotes[:2]]
    return "\n".join(lines)


def format_feedback(summary: FeedbackSummary, limit: int = MESSAGE_LIMIT) -> str:
    """`/feedback`'s reply: totals, recent 👎 answers with quotes, frequent declines.

    Within `limit`, the oldest of the recent 👎 answers give way first.
    """
    if not summary.answers:
        return NOTHING_YET
    for shown in range(len(summary.recent_downs), -1, -1):
        text = _feedback_text(summary, shown)
        if len(text) <= limit:
            return text
    return text[:limit]


def _feedback_text(summary: FeedbackSummary, recent: int) -> str:
    blocks = [
        "**Feedback on this server's answers**\n"
        f"👍 {summary.ups} · 👎 {summary.downs} · {summary.answers} questions · "
        f"{summary.declines} declined"
    ]
    downs = summary.recent_downs[:recent]
    if downs:
        items = [_down_block(n, item) for n, item in enumerate(downs, 1)]
        blocks.append("\n".join(["**Recent 👎 answers**", *items]))
    if summary.frequent_declines:
        lines = ["**Most declined questions** (an article may be missing)"]
        lines += [
            f"• {item.count}× {_flat(item.question, 110)} — {decline_label(item.decline)}"
            for item in summary.frequent_declines
        ]
        blocks.append("\n".join(lines))
    if summary.decline_counts:
        counted = label_counts(summary.decline_counts)
        reasons = " · ".join(f"{label} {count}" for label, count in counted)
        blocks.append(f"**Why declined:** {_flat(reasons, 300)}")
    blocks.append(EXPORT_HINT)
    return "\n\n".join(blocks)


def qa_line(item: LoggedAnswer) -> dict:
    """One unreviewed `eval` QA line for a 👎 answer or a declined question."""
    if item.abstained:
        note = f"declined: {decline_label(item.decline)}; asked {item.asked_at[:10]}"
    else:
        quoted = ", ".join(dict.fromkeys(q.article_id for q in item.quotes)) or "nothing"
        note = (
            f"bot answered {shorten(item.answer, 200)!r} quoting {quoted}; "
            f"{item.downs} 👎, {item.ups} 👍; asked {item.asked_at[:10]}"
        )
    return {
        "id": f"feedback-{item.answer_id}",
        "question": item.question,
        "answers": [],
        "type": UNREVIEWED,
        "doc": item.quotes[0].article_id if item.quotes else None,
        "note": note,
    }


def export_lines(items: Iterable[LoggedAnswer], existing: Iterable[dict] = ()) -> list[dict]:
    """QA lines for `items`, one per question, leaving out questions `existing` already has."""
    seen = {question_key(str(record.get("question", ""))) for record in existing}
    seen |= {""}
    lines = []
    for item in items:
        key = question_key(item.question)
        if key not in seen:
            seen.add(key)
            lines.append(qa_line(item))
    return lines


def read_existing(path: Path) -> list[dict]:
    """The lines already in an export file, so a second export keeps a moderator's edits."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise BotError(
                f"{path}:{number} is not a JSON line ({error}), so new questions cannot be "
                "added to it safely. Fix that line, or export to a new file."
            ) from error
    return records


def append_lines(path: Path, lines: Sequence[dict]) -> None:
    """Add lines at the end of `path` (created if new); lines already there stay as they are."""
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    with path.open("a", encoding="utf-8") as file:
        if file.tell() and not path.read_text(encoding="utf-8").endswith("\n"):
            file.write("\n")
        file.write(text)
