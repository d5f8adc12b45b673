"""The signals that say how far a candidate answer can be trusted, as pure functions.

Each signal is a number, not a verdict: the calibrated confidence
(`bot/answering/confidence.py`) weighs them together, with weights fitted on the `tune`
dev sets. Names of the signals are the features of that model, so renaming one
means refitting it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.evidence import Evidence
from bot.answering.question import Question
from retrieval.text import (
    MONTHS,
    NAME,
    NUMBER_WORDS,
    STOPWORDS,
    content_words,
    has_capitalised,
    has_word,
    numbers_in,
    weighted_coverage,
    words,
)

FEATURES = (
    "relevance",
    "top_score",
    "score_margin",
    "quote_score",
    "quote_cosine",
    "quote_rank",
    "answer_support",
    "question_coverage",
    "names_coverage",
    "cite_probability",
    "kind_match",
    "novelty",
    "from_headline",
    "answer_words",
    "judge_yes",
    "answer_probability",
    "answer_min_probability",
)


@dataclass(frozen=True)
class Candidate:
    """A reply the model gave, with the stored sentences it rests on."""

    answer: str
    quoted: tuple[Evidence, ...]  # verbatim spans: shown sentences, or an article's headline
    rank: int  # 1-based position among the shown sentences of the quoted one; 0 = a headline
    cite_probability: float | None  # the model's probability for the sentence it cited
    answer_probability: float | None = None  # geometric mean over the answer's tokens
    answer_min_probability: float | None = None  # its least likely token


def answer_support(answer: str, sentences: Sequence[str]) -> float:
    """Share of the answer's meaningful words found in `sentences`, 0..1.

    0 when a figure or a capitalised name of the answer is missing from them: an
    invented figure or name is the worst kind of wrong answer.
    """
    joined = " ".join(sentences)
    if numbers_in(answer) - numbers_in(joined):
        return 0.0
    names = {n for n in NAME.findall(answer) if n.lower() not in STOPWORDS}
    if any(not has_capitalised(name, joined) for name in names):
        return 0.0
    wanted = {w for w in content_words(answer) if not w.isdigit()}  # figures checked above
    if not wanted:
        return 1.0 if sentences else 0.0
    return len(wanted & content_words(joined)) / len(wanted)


def novelty(answer: str, question: str) -> float:
    """Share of the answer's meaningful words the question does not already hold, 0..1.

    "Who wrote the report?" → "the report" adds nothing.
    """
    wanted = content_words(answer)
    if not wanted:
        return 0.0
    return len(wanted - content_words(question)) / len(wanted)


def answer_kind_matches(kind: str, answer: str) -> float:
    """1 when the answer is of the kind the question asks for (or any will do), else 0."""
    lowered = words(answer)
    has_number = bool(numbers_in(answer)) or any(w in NUMBER_WORDS for w in lowered)
    has_date = bool(MONTHS.search(answer)) or any(
        w.endswith("day") or w in {"week", "month", "year", "ago", "season"} for w in lowered
    )
    has_name = any(n.lower() not in STOPWORDS for n in NAME.findall(answer))
    wanted = {
        "number": has_number,
        "date": has_date or has_number,
        "name": has_name,
        "place": has_name,
    }
    return 1.0 if not kind or wanted.get(kind, True) else 0.0


def names_coverage(names: Sequence[str], articles: Sequence[str]) -> float:
    """Share of the names the question asks about that the quoted articles mention, 0..1.

    A true sentence from an article about someone else is no answer.
    """
    if not names:
        return 1.0
    joined = "\n".join(articles)
    return sum(has_word(name, joined) for name in names) / len(names)


def question_coverage(weights: dict[str, float], quoted: Sequence[Evidence]) -> float:
    """IDF-weighted share of the question's terms in the quoted sentences and their titles."""
    if not weights:
        return 1.0
    return weighted_coverage(" ".join(f"{e.title} {e.text}" for e in quoted), weights)


def score_margin(evidence: Sequence[Evidence], cap: float) -> float:
    """How far the best shown sentence leads the next one (`cap` when it stands alone)."""
    if len(evidence) < 2:
        return cap
    return min(evidence[0].score - evidence[1].score, cap)


def compute(
    question: Question,
    relevance: float,
    evidence: Sequence[Evidence],
    candidate: Candidate,
    articles: Sequence[str],
    margin_cap: float,
    judge_yes: float | None = None,
) -> dict[str, float | None]:
    """Every signal for one candidate answer, by feature name."""
    quoted = candidate.quoted
    sentences = [e for e in quoted if e.score or e.cosine]  # a headline has neither
    return {
        "relevance": relevance,
        "top_score": evidence[0].score if evidence else 0.0,
        "score_margin": score_margin(evidence, margin_cap),
        "quote_score": max((e.score for e in sentences), default=0.0),
        "quote_cosine": max((e.cosine for e in sentences), default=0.0),
        "quote_rank": float(candidate.rank),
        "answer_support": answer_support(candidate.answer, [e.text for e in quoted]),
        "question_coverage": question_coverage(question.weights, quoted),
        "names_coverage": names_coverage(question.names, articles),
        "cite_probability": candidate.cite_probability,
        "kind_match": answer_kind_matches(question.kind, candidate.answer),
        "novelty": novelty(candidate.answer, question.text),
        "from_headline": 1.0 if candidate.rank == 0 else 0.0,
        "answer_words": math.log1p(len(words(candidate.answer))),
        "judge_yes": judge_yes,  # P(Yes) that the quote states it (`judge.py`)
        "answer_probability": candidate.answer_probability,
        "answer_min_probability": candidate.answer_min_probability,
    }
