"""`python -m bot eval`: score retrieval and, with `--answers`, the answers on a QA file.

QA files hold one JSON object per line:
`{"question": ..., "answers": [gold strings], "type": "answerable" | "unanswerable"}`,
optionally with "id", "doc", "near" (where the answer is) and "note" (both for people).
"changed" marks a near miss: an unanswerable whose premise changes one detail of a real
sentence in the "near" article (`"changed": "year: 2003 -> 2001"`); the answer scores
report the share of them declined on a row of its own.
Any other field or type stops the run at its line: a misspelt field would otherwise
score wrong. Type "unreviewed" marks a question exported from members' feedback: once
a moderator fills in "answers" it counts as answerable; until then it is skipped and
reported.
A retrieved passage is a hit when it contains a gold string (case-insensitive).

A conversation line adds "turns", the earlier questions asked first
(`[{"question": ..., "answers": [...]}]`), and "standalone", the follow-up written
to stand alone. Its "question" is then the follow-up, scored after the earlier turns
were asked and answered in order (`score_conversations`); the same facts asked as
"standalone" are scored beside it.
"""

from __future__ import annotations

import difflib
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answering.conversation import Turn, remember, standalone_question
from bot.errors import BotError
from retrieval.search import SearchResults

if TYPE_CHECKING:
    from bot.answering.engine import Answer

RECALL_AT = (1, 3, 5)
QA_FIELDS = (
    "id",
    "question",
    "answers",
    "type",
    "doc",
    "near",
    "note",
    "changed",
    "turns",
    "standalone",
)
UNREVIEWED = "unreviewed"  # exported from feedback, waiting for a moderator's answer
QA_TYPES = ("answerable", "unanswerable", UNREVIEWED)
FILL_IN = (
    'put the right answer in "answers" (a short string the answer or its quote must '
    'contain), or set "type": "unanswerable" when the articles do not hold it'
)
QA_FORMAT = '{"question": ..., "answers": [...], "type": "answerable"|"unanswerable"}'
RANK_DEPTH = 10


@dataclass(frozen=True)
class QAItem:
    """One evaluation question."""

    question: str
    answers: tuple[str, ...]
    answerable: bool
    qid: str = ""
    near_miss: bool = False  # an unanswerable one detail away from a real sentence
    turns: tuple[QAItem, ...] = ()  # a conversation's earlier questions, asked first
    standalone: str = ""  # a follow-up written to stand alone: the same facts


@dataclass(frozen=True)
class QAFile:
    """A QA file's questions, and the ids of exported ones nobody has answered yet."""

    path: Path
    items: list[QAItem]
    unfilled: tuple[str, ...] = ()

    def unfilled_note(self) -> str | None:
        """What to tell the reader about skipped questions; None when there are none."""
        if not self.unfilled:
            return None
        shown = ", ".join(self.unfilled[:10]) + (" …" if len(self.unfilled) > 10 else "")
        return (
            f"{self.path}: {len(self.unfilled)} unreviewed questions not measured yet "
            f"({shown}); {FILL_IN}."
        )


@dataclass
class RetrievalScores:
    """Retrieval quality over a QA set."""

    mode: str
    answerable: int = 0
    unanswerable: int = 0
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    auc: float | None = None  # P(relevance of an answerable > that of an unanswerable)
    threshold: float = 0.0
    answerable_kept: float | None = None  # share of answerables at or above the threshold
    unanswerable_rejected: float | None = None  # share of unanswerables below it
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    misses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        data = dict(self.__dict__)
        data["recall"] = {f"@{n}": value for n, value in self.recall.items()}
        return data


@dataclass
class AnswerScores:
    """Answer quality over a QA set; every share comes with its 95 % Wilson interval."""

    answerable: int = 0
    unanswerable: int = 0
    answered: int = 0  # questions of either type given an answer
    correct: int = 0  # answerables answered with a gold string in the answer or its quotes
    precision: float | None = None  # correct / answered: how far a shown answer can be trusted
    accuracy: float | None = None  # correct / answerable
    false_abstention: float | None = None  # answerables the engine declined
    abstention: float | None = None  # unanswerables the engine declined (higher is better)
    near_miss: int = 0  # unanswerables marked "changed": one detail off a real sentence
    near_miss_abstention: float | None = None  # of those, the share declined
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    quote_validity: float | None = None  # quotes equal to the stored text at their offsets
    quotes: int = 0
    latency_p50: float = 0.0
    latency_p95: float = 0.0
    first_token_p50: float = 0.0
    fallbacks: int = 0  # answers the model could not give in time
    curve: list[dict] = field(default_factory=list)  # risk/coverage: precision per threshold
    wrong: list[str] = field(default_factory=list)  # answered but no gold string
    missed: list[str] = field(default_factory=list)  # abstained on an answerable
    invented: list[str] = field(default_factory=list)  # answered an unanswerable
    near_miss_invented: list[str] = field(default_factory=list)  # the near misses in `invented`
    details: list[dict] = field(default_factory=list)  # one record per question, for --json

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share: honest at small counts and near 0 or 1."""
    if total <= 0:
        return (0.0, 1.0)
    share = successes / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


SPLITS = ("tune", "holdout")


def expand_sets(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a set name (`eval/bbc`) stands for its tune and holdout files."""
    files: list[Path] = []
    for path in paths:
        split = [path.with_name(f"{path.name}_{name}.jsonl") for name in SPLITS]
        if not path.exists() and all(p.is_file() for p in split):
            files += split
        else:
            files.append(path)
    return files


def load_qa(path: Path) -> list[QAItem]:
    """The measurable questions of a QA .jsonl file (see `read_qa`)."""
    return read_qa(path).items


def read_qa(path: Path) -> QAFile:
    """Read a QA .jsonl file; a malformed line is an error naming its line number, and so
    is a file whose every question is still unreviewed (nothing to measure)."""
    if not path.is_file():
        raise BotError(f"QA file '{path}' does not exist.")
    items = []
    unfilled = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BotError(
                f"{path}:{number} is not a QA line ({error}); expected {QA_FORMAT}."
            ) from error
        problem = qa_record_problem(record)
        if problem:
            raise BotError(f"{path}:{number}: {problem}. Expected {QA_FORMAT}.")
        kind = record.get("type", "answerable" if record.get("answers") else "unanswerable")
        qid = str(record.get("id", number))
        if kind == UNREVIEWED and not record.get("answers"):
            unfilled.append(qid)
            continue
        items.append(
            QAItem(
                question=record["question"],
                answers=tuple(record.get("answers") or ()),
                answerable=kind != "unanswerable",
                qid=qid,
                near_miss="changed" in record,
                turns=tuple(
                    QAItem(
                        t["question"],
                        tuple(t.get("answers") or ()),
                        bool(t.get("answers")),
                        f"{qid}.{n}",
                    )  # fmt: skip
                    for n, t in enumerate(record.get("turns") or (), start=1)
                ),
                standalone=record.get("standalone", ""),
            )
        )
    if unfilled and not items:
        raise BotError(
            f"{path}: none of its {len(unfilled)} questions has been reviewed yet, so there "
            f"is nothing to measure. For each line, {FILL_IN}; then run eval again."
        )
    return QAFile(path, items, tuple(unfilled))


def qa_record_problem(record: object) -> str | None:
    """What is wrong with one QA record, naming the closest valid spelling; None if fine."""
    if not isinstance(record, dict):
        return "a QA line must be a JSON object"
    for key in record:
        if key not in QA_FIELDS:
            return f'unknown field "{key}"{_did_you_mean(key, QA_FIELDS)}'
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        return '"question" must be a non-empty string'
    answers = record.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        return '"answers" must be a list of strings'
    kind = record.get("type")
    if kind is not None and kind not in QA_TYPES:
        return f'"type" is "{kind}"; it must be "answerable" or "unanswerable"' + _did_you_mean(
            str(kind), QA_TYPES
        )
    if kind == "answerable" and not answers:
        return 'an "answerable" question needs at least one answer in "answers"'
    turns = record.get("turns", [])
    if not isinstance(turns, list) or not all(
        isinstance(t, dict)
        and isinstance(t.get("question"), str)
        and t["question"].strip()
        and set(t) <= {"question", "answers"}
        and isinstance(t.get("answers", []), list)
        for t in turns
    ):
        return '"turns" must be a list of {"question": ..., "answers": [...]}'
    if "standalone" in record and not (
        isinstance(record["standalone"], str) and record["standalone"].strip()
    ):
        return '"standalone" must be the follow-up written as a question of its own'
    if "changed" in record:
        changed = record["changed"]
        if not isinstance(changed, str) or not changed.strip():
            return '"changed" must name the detail changed, e.g. "year: 2003 -> 2001"'
        if kind not in (None, "unanswerable") or answers:
            return '"changed" marks a near miss: it must be "type": "unanswerable", no answers'
    return None


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    closest = difflib.get_close_matches(word, choices, n=1)
    return f' (did you mean "{closest[0]}"?)' if closest else ""


def hit_rank(results: SearchResults, answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage containing a gold answer, or None."""
    golds = [a.lower() for a in answers]
    for rank, passage in enumerate(results.passages, start=1):
        text = passage.text.lower()
        if any(gold in text for gold in golds):
            return rank
    return None


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def score_retrieval(
    items: Sequence[QAItem],
    search: Callable[[str], tuple[SearchResults, float]],
    mode: str,
    threshold: float,
) -> RetrievalScores:
    """Run `search` (returning results and milliseconds) on every item and score it."""
    scores = RetrievalScores(mode=mode, threshold=threshold)
    ranks: list[int | None] = []
    relevance_yes: list[float] = []
    relevance_no: list[float] = []
    latencies: list[float] = []
    for item in items:
        results, millis = search(item.question)
        latencies.append(millis)
        if item.answerable:
            rank = hit_rank(results, item.answers)
            ranks.append(rank)
            relevance_yes.append(results.relevance)
            if rank is None:
                scores.misses.append(item.qid)
        else:
            relevance_no.append(results.relevance)
    scores.answerable, scores.unanswerable = len(relevance_yes), len(relevance_no)
    if ranks:
        scores.recall = {
            n: sum(r is not None and r <= n for r in ranks) / len(ranks) for n in RECALL_AT
        }
        scores.mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
        scores.answerable_kept = sum(r >= threshold for r in relevance_yes) / len(relevance_yes)
    if relevance_no:
        scores.unanswerable_rejected = sum(r < threshold for r in relevance_no) / len(relevance_no)
    scores.auc = auc(relevance_yes, relevance_no)
    scores.latency_ms_p50 = statistics.median(latencies) if latencies else 0.0
    scores.latency_ms_p95 = percentile(latencies, 95)
    return scores


def format_retrieval(all_scores: Sequence[RetrievalScores]) -> str:
    """A small table, one row per search mode."""
    header = (
        f"{'mode':<8} {'n':>4} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR':>6} "
        f"{'AUC':>6} {'kept':>6} {'reject':>6} {'p50 ms':>7}"
    )
    lines = [header]
    for s in all_scores:

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f}"

        lines.append(
            f"{s.mode:<8} {s.answerable:>4} {pct(s.recall.get(1)):>6} {pct(s.recall.get(3)):>6} "
            f"{pct(s.recall.get(5)):>6} {pct(s.mrr):>6} {pct(s.auc):>6} "
            f"{pct(s.answerable_kept):>6} {pct(s.unanswerable_rejected):>6} "
            f"{s.latency_ms_p50:>7.1f}"
        )
    lines.append(
        f"(kept = answerables at or above the relevance threshold {all_scores[0].threshold}; "
        "reject = unanswerables below it)"
    )
    return "\n".join(lines)


def answer_is_correct(answer: Answer, golds: Sequence[str]) -> bool:
    """A gold string appears in the answer text or one of its quotes (case-insensitive)."""
    return _holds_gold(answer.answer, [q.text for q in answer.quotes], golds)


def _holds_gold(text: str, quotes: Sequence[str], golds: Sequence[str]) -> bool:
    haystack = " ".join([text, *quotes]).lower()
    return bool(golds) and any(gold.lower() in haystack for gold in golds)


def score_answers(
    items: Sequence[QAItem],
    ask: Callable[[str], object],
    quote_is_valid: Callable[[object], bool],
) -> AnswerScores:
    """Ask every question and score precision, accuracy, abstention, quotes and latency."""
    scores = AnswerScores()
    valid = 0
    latencies: list[float] = []
    first_tokens: list[float] = []
    for item in items:
        answer = ask(item.question)
        latencies.append(answer.timings.get("total", 0.0))
        if "first_token" in answer.timings:
            first_tokens.append(answer.timings["first_token"])
        scoring = answer.scoring  # None when the model's answer was never scored
        candidate = scoring.candidate if scoring else ""
        candidate_quotes = [q.text for q in scoring.candidate_quotes] if scoring else []
        scores.details.append(
            {
                "id": item.qid,
                "question": item.question,
                "searched": getattr(answer, "search_text", "")
                or getattr(answer, "standalone", "")
                or item.question,
                "read": getattr(answer, "standalone", "") or item.question,
                "follow_up": bool(getattr(answer, "follow_up", False)),
                "answerable": item.answerable,
                "near_miss": item.near_miss,
                "answer": answer.answer,
                "abstained": answer.abstained,
                "decline": answer.decline.value if answer.decline else None,
                "reason": answer.reason,
                "quotes": [q.text for q in answer.quotes],
                "related": answer.related.text if answer.related else None,
                "confidence": answer.confidence,
                "signals": scoring.signals if scoring else {},
                "candidate": candidate,
                "candidate_quotes": candidate_quotes,
                "candidate_titles": [q.title for q in scoring.candidate_quotes] if scoring else [],
                "candidate_correct": _holds_gold(candidate, candidate_quotes, item.answers)
                if scoring and scoring.signals
                else None,
                "seconds": answer.timings.get("total"),
                "rewrite_seconds": answer.timings.get("rewrite"),
            }
        )
        scores.fallbacks += bool(answer.fallback)
        scores.quotes += len(answer.quotes)
        valid += sum(quote_is_valid(quote) for quote in answer.quotes)
        scores.answered += not answer.abstained
        if item.answerable:
            scores.answerable += 1
            if answer.abstained:
                scores.missed.append(item.qid)
            elif answer_is_correct(answer, item.answers):
                scores.correct += 1
            else:
                scores.wrong.append(item.qid)
        else:
            scores.unanswerable += 1
            scores.near_miss += item.near_miss
            if not answer.abstained:
                scores.invented.append(item.qid)
                if item.near_miss:
                    scores.near_miss_invented.append(item.qid)
    _fill_shares(scores)
    scores.quote_validity = valid / scores.quotes if scores.quotes else None
    scores.latency_p50 = statistics.median(latencies) if latencies else 0.0
    scores.latency_p95 = percentile(latencies, 95)
    scores.first_token_p50 = statistics.median(first_tokens) if first_tokens else 0.0
    scores.curve = risk_coverage(scores.details)
    return scores


def _fill_shares(scores: AnswerScores) -> None:
    """Each share and its interval, from the counts."""
    shares = {
        "precision": (scores.correct, scores.answered),
        "accuracy": (scores.correct, scores.answerable),
        "false_abstention": (len(scores.missed), scores.answerable),
        "abstention": (scores.unanswerable - len(scores.invented), scores.unanswerable),
        "near_miss_abstention": (
            scores.near_miss - len(scores.near_miss_invented),
            scores.near_miss,
        ),
    }
    for name, (hits, total) in shares.items():
        setattr(scores, name, hits / total if total else None)
        if total:
            scores.intervals[name] = wilson(hits, total)


CURVE_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def risk_coverage(
    details: Sequence[dict], thresholds: Sequence[float] = CURVE_THRESHOLDS
) -> list[dict]:
    """Precision against the share answered, had MIN_CONFIDENCE been each threshold.

    Read off the recorded confidences, so one run draws the whole curve. A question
    with no candidate (nothing relevant, the model declined) is never answered.
    """
    total = len(details)
    answerable = sum(d["answerable"] for d in details)
    rows = []
    for threshold in thresholds:
        given = [
            d for d in details if d.get("confidence") is not None and d["confidence"] >= threshold
        ]
        right = sum(bool(d["candidate_correct"]) for d in given)
        rows.append(
            {
                "min_confidence": threshold,
                "answered": round(len(given) / total, 4) if total else 0.0,
                "precision": round(right / len(given), 4) if given else None,
                "accuracy": round(right / answerable, 4) if answerable else None,
                "unanswerables_abstained": round(
                    1 - sum(not d["answerable"] for d in given) / (total - answerable), 4
                )
                if total > answerable
                else None,
            }
        )
    return rows


def format_curve(curve: Sequence[dict]) -> list[str]:
    """Risk/coverage rows as text."""

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["    t     answered  precision  accuracy  unanswerables abstained"]
    for row in curve:
        lines.append(
            f"    {row['min_confidence']:.1f}   {share(row['answered']):>8}  "
            f"{share(row['precision']):>9}  {share(row['accuracy']):>8}  "
            f"{share(row['unanswerables_abstained']):>8}"
        )
    return lines


# The widest `share_with_interval` text: "100.0%  [100.0% – 100.0%]".
SHARE_WIDTH = 25


def share_with_interval(scores: AnswerScores, name: str) -> str:
    """The share `name` of `scores` with its 95 % interval, " 57.1%  [25.1% – 84.2%]", or
    "-" when nothing was counted: one format for every table of answer scores."""
    value = getattr(scores, name)
    if value is None:
        return "-"
    low, high = scores.intervals.get(name, (value, value))
    return f"{value:6.1%}  [{low:.1%} – {high:.1%}]"


def format_answers(scores: AnswerScores) -> str:
    """A readable block of answer scores, with 95 % intervals and the risk/coverage curve."""

    def pct(name: str) -> str:
        return share_with_interval(scores, name)

    lines = [
        f"answers: {scores.answerable} answerable, {scores.unanswerable} unanswerable "
        f"({scores.near_miss} of them near misses; 95 % Wilson intervals)",
        f"  precision                {pct('precision')}  ({scores.correct} of {scores.answered})",
        f"  accuracy on answerables  {pct('accuracy')}",
        f"  false abstentions        {pct('false_abstention')}",
        f"  unanswerables abstained  {pct('abstention')}",
        f"  near misses abstained    {pct('near_miss_abstention')}  "
        f"({scores.near_miss - len(scores.near_miss_invented)} of {scores.near_miss}, "
        "counted in the row above too)",
        f"  quote validity           "
        f"{'-' if scores.quote_validity is None else f'{scores.quote_validity:.1%}'} "
        f"of {scores.quotes} quotes",
        f"  latency p50 / p95        {scores.latency_p50:.2f} s / {scores.latency_p95:.2f} s "
        f"(first token p50 {scores.first_token_p50:.2f} s; {scores.fallbacks} fallbacks)",
        "  risk/coverage (had MIN_CONFIDENCE been t):",
        *format_curve(scores.curve),
    ]
    lines += [
        f"  wrong: {', '.join(scores.wrong) or '-'}",
        f"  abstained on answerable: {', '.join(scores.missed) or '-'}",
        f"  answered unanswerable: {', '.join(scores.invented) or '-'}",
    ]
    return "\n".join(lines)


@dataclass
class ConversationScores:
    """A conversation set: follow-ups after their earlier turns, the same facts asked
    standalone, and the earlier turns themselves."""

    followup: AnswerScores
    standalone: AnswerScores | None
    earlier: AnswerScores
    rewritten: int = 0  # follow-ups searched in another wording than typed

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "followup": self.followup.as_dict(),
            "standalone": self.standalone.as_dict() if self.standalone else None,
            "earlier_turns": self.earlier.as_dict(),
            "rewritten": self.rewritten,
        }


def run_conversation(item: QAItem, ask: Callable[[str, tuple], object], limit: int):  # noqa: ANN201
    """Ask the earlier turns in order, each with the turns before it, then the follow-up;
    returns the earlier answers and the follow-up's."""
    history: tuple = ()
    earlier = []
    for turn in item.turns:
        answer = ask(turn.question, history)
        earlier.append(answer)
        history = remember(history, answer.as_turn(turn.question), limit)
    return earlier, ask(item.question, history)


def score_conversations(
    items: Sequence[QAItem],
    ask: Callable[[str, tuple], object],
    quote_is_valid: Callable[[object], bool],
    limit: int = 3,
) -> ConversationScores:
    """Score each follow-up after its earlier turns, the standalone wording of the same
    facts (asked with no history), and the earlier turns."""
    followups, earlier_items, earlier_answers = [], [], []
    for item in items:
        before, answer = run_conversation(item, ask, limit)
        earlier_items += item.turns
        earlier_answers += before
        followups.append(answer)
    replay = iter(followups)
    followup = score_answers(items, lambda _q: next(replay), quote_is_valid)
    alone = [replace(item, question=item.standalone, turns=()) for item in items if item.standalone]
    standalone = score_answers(alone, lambda q: ask(q, ()), quote_is_valid) if alone else None
    replay_earlier = iter(earlier_answers)
    earlier = score_answers(earlier_items, lambda _q: next(replay_earlier), quote_is_valid)
    rewritten = sum(bool(getattr(a, "rewritten", False)) for a in followups)
    return ConversationScores(followup, standalone, earlier, rewritten)


def format_conversations(scores: ConversationScores) -> str:
    """Follow-up answers beside the same facts asked standalone, and the earlier turns."""

    def row(name: str, part: AnswerScores | None) -> str:
        if part is None:
            return f"  {name:<22} -"
        accuracy, precision, abstention = (
            share_with_interval(part, key) for key in ("accuracy", "precision", "abstention")
        )
        return (
            f"  {name:<22} {accuracy:>{SHARE_WIDTH}} {precision:>{SHARE_WIDTH}} "
            f"{abstention:>{SHARE_WIDTH}}  {part.correct}/{part.answerable} right, "
            f"{part.answered} answered"
        )

    lines = [
        f"conversations: {scores.followup.answerable + scores.followup.unanswerable} follow-ups "
        f"({scores.rewritten} searched as rewritten; 95 % Wilson intervals)",
        f"  {'':<22} {'accuracy':>{SHARE_WIDTH}} {'precision':>{SHARE_WIDTH}} "
        f"{'unans. abstained':>{SHARE_WIDTH}}",
        row("follow-ups", scores.followup),
        row("same facts standalone", scores.standalone),
        row("earlier turns", scores.earlier),
        f"  follow-ups wrong: {', '.join(scores.followup.wrong) or '-'}",
        f"  follow-ups declined: {', '.join(scores.followup.missed) or '-'}",
        f"  follow-ups invented: {', '.join(scores.followup.invented) or '-'}",
    ]
    return "\n".join(lines)


def rules_with_gold_history(
    item: QAItem, rewrite: Callable[[str, tuple], str] | None = None
) -> str:
    """The follow-up as `rewrite` (the rules by default) writes it when every earlier
    turn was answered with its gold answer: the rewrite's own quality, apart from the
    model's answers."""
    rewrite = rewrite or standalone_question
    history: tuple = ()
    for turn in item.turns:
        searched = rewrite(turn.question, history)
        answer = turn.answers[0] if turn.answers else ""
        history = remember(history, Turn(turn.question, searched, answer))
    return rewrite(item.question, history)
