"""What the community asks and the articles do not cover: `/gaps` and `python -m bot gaps`.

The declined questions of the last weeks, grouped by near-duplicate wording, most
askers first. Two questions are the same gap when their content words (lower case, no
punctuation or stop words, plurals folded: `retrieval.text.content_words`) overlap by at
least `SAME_GAP` (Jaccard). That is cheap, needs no model, and is easy to explain to a
moderator; it misses paraphrases that share no words, which then show as two gaps.
Pure functions over `bot.feedback.log.AskedQuestion`, so both front ends show the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.answering.outcomes import FALLBACKS, Decline
from bot.feedback.log import AskedQuestion, question_key
from retrieval.cleaning import shorten
from retrieval.search import jaccard
from retrieval.text import content_words

SAME_GAP = 0.5  # "When does the pool open?" ~ "What time does the swimming pool open?"
DEFAULT_DAYS = 28
SHOWN = 10
# Declines that say nothing about what the articles cover: nothing was asked, the model
# was slow or failed, or an article gave the model orders (it is there, and hostile).
NOT_GAPS = frozenset({Decline.EMPTY_QUESTION, Decline.ORDERED_BY_ARTICLE, *FALLBACKS})
NO_GAPS = "No declined questions in the last {days} days (of those asked in public in Discord)."


@dataclass(frozen=True)
class Gap:
    """Questions asked in near-identical words that the bot declined."""

    example: str  # the wording asked most often (the latest of equals)
    askers: int  # distinct members
    times: int  # how often it was asked in all
    last_asked: str  # ISO time


def gap_words(question: str) -> frozenset[str]:
    """What two wordings of one question share: content words, plurals folded."""
    return frozenset(content_words(question))


def same_gap(a: str, b: str) -> bool:
    """Whether two questions read as the same one."""
    return _matches(_Wording.of(a), _Wording.of(b))


@dataclass(frozen=True)
class _Wording:
    """A question's words, worked out once for all its comparisons."""

    key: str
    words: frozenset[str]

    @classmethod
    def of(cls, question: str) -> _Wording:
        return cls(question_key(question), gap_words(question))


def _matches(a: _Wording, b: _Wording) -> bool:
    """Content words overlapping by `SAME_GAP`; a question of stop words only ("What is
    it?") matches only when identical but for case and punctuation."""
    if not a.words or not b.words:
        return a.key == b.key
    return jaccard(a.words, b.words) >= SAME_GAP


def group_gaps(asked: Iterable[AskedQuestion]) -> list[Gap]:
    """Declined questions grouped by near-duplicate wording, most askers first (then most
    asked, then most recent). A question joins the first group holding one it matches;
    declines in `NOT_GAPS` are left out."""
    groups: list[list[tuple[AskedQuestion, _Wording]]] = []
    for item in sorted(asked, key=lambda q: q.asked_at):
        if item.decline in NOT_GAPS:
            continue
        wording = _Wording.of(item.question)
        home = next((g for g in groups if any(_matches(wording, w) for _, w in g)), None)
        if home is None:
            groups.append([(item, wording)])
        else:
            home.append((item, wording))
    found = (_gap([item for item, _ in group]) for group in groups)
    gaps = sorted(found, key=lambda g: g.last_asked, reverse=True)
    return sorted(gaps, key=lambda g: (-g.askers, -g.times))  # stable: the latest first


def _gap(group: Sequence[AskedQuestion]) -> Gap:
    wordings = Counter(question_key(q.question) for q in group)
    latest = {question_key(q.question): (q.asked_at, q.question) for q in group}
    key = max(wordings, key=lambda k: (wordings[k], latest[k][0]))
    return Gap(
        example=latest[key][1],
        askers=len({q.asker for q in group}),
        times=len(group),
        last_asked=max(q.asked_at for q in group),
    )


def since(days: float, now: datetime | None = None) -> str:
    """The ISO time `days` ago, in the form the feedback log stores."""
    start = (now or datetime.now(UTC)) - timedelta(days=days)
    return start.isoformat(timespec="seconds")


def format_gaps(
    gaps: Sequence[Gap],
    days: float,
    quote: Callable[[str], str] = str,
    shown: int = SHOWN,
    limit: int | None = None,
) -> str:
    """The gaps as lines: `• 3 members (4×) · When does the pool open? · last 2026-05-01`;
    `quote` escapes the member-typed wording (Discord's markdown). Within `limit`
    characters, the least asked give way first."""
    if not gaps:
        return NO_GAPS.format(days=f"{days:g}")
    lines = [f"Most asked questions the articles did not answer, last {days:g} days:"]
    for gap in gaps[:shown]:
        who = "1 member" if gap.askers == 1 else f"{gap.askers} members"
        example = quote(shorten(" ".join(gap.example.split()), 150))
        lines.append(f"• {who} ({gap.times}×) · {example} · last {gap.last_asked[:10]}")
    while True:
        more = len(gaps) - (len(lines) - 1)
        text = "\n".join(lines + ([f"… and {more} more, each asked less."] if more else []))
        if limit is None or len(text) <= limit or len(lines) == 1:
            return text[:limit] if limit else text
        lines.pop()
