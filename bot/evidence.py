"""Pick the few sentences that best support an answer, from the passages search found.

The model sees sentences, not whole chunks: the prompt stays small (fast on two
cores) and every sentence has exact offsets into its article, so whatever the
model cites can be quoted verbatim from the stored text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from retrieval.chunking import split_sentences
from retrieval.embedding import Embedder
from retrieval.lexical import STOPWORDS
from retrieval.search import Passage

_WORD = re.compile(r"\w+")
# Sentences that talk to the model rather than report news are never shown to it.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,20}\b(?:previous|prior|above|earlier|all|your|any)\b"
    r".{0,20}\b(?:instructions|prompts?|rules)\b|"
    r"\byou are now\b|\bsystem prompt\b|\bas an ai\b|^\s*(?:system|assistant)\s*:",
    re.IGNORECASE,
)
_MIN_WORDS = 4
_RANK_PENALTY = 0.05  # sentences from lower-ranked passages need a little more to win
# A sentence read with the one before it ("It aims to extend this figure to 99.4%") may
# match the question only through that context; the pair wins if it scores this much more.
_CONTEXT_COSINE_DISCOUNT = 0.05
_CONTEXT_COVERAGE_DISCOUNT = 0.15
_TYPE_MISMATCH_PENALTY = 0.15  # a "how many" question's answer sentence holds a number
_WANTS_NUMBER = re.compile(
    r"\bhow (?:many|much|fast|big|long|far|old|large|high|tall|heavy)\b|"
    r"\bwhat (?:share|percentage|proportion|level|price|amount|figure|sum|year|date)\b|"
    r"\b(?:at|by) what (?:level|price|rate)\b|\bin (?:which|what) year\b|^\s*when\b",
    re.IGNORECASE,
)
_WANTS_NAME = re.compile(
    r"^\s*(?:who|whom|whose)\b|\bwhich (?:person|man|woman|player|singer|actor|comedian|"
    r"prince|director|minister|executive|boss|star)\b",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+")


@dataclass(frozen=True)
class Evidence:
    """A sentence offered to the model, numbered from 1 in the prompt."""

    number: int
    article_id: str
    title: str
    source: str
    text: str
    start: int  # offsets into the article's stored clean text
    end: int
    score: float  # ranking score: cosine plus term coverage
    cosine: float = 0.0  # similarity in meaning to the question


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (no stopwords), crudely de-pluralised."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def mentions(words: str, term: str) -> bool:
    """Whether space-joined lower-case words contain a term, allowing plural/verb endings."""
    parts = term.split()
    stem = " ".join(parts[:-1] + [parts[-1].rstrip("s")]) if len(parts[-1]) > 3 else term
    return re.search(rf"(?<!\w){re.escape(stem)}", words) is not None


def weighted_coverage(text: str, weights: dict[str, float]) -> float:
    """Share of the question's term weight (IDF) whose terms appear in `text`, 0..1."""
    total = sum(weights.values())
    if not total:
        return 0.0
    words = " ".join(_WORD.findall(text.lower()))
    return sum(w for term, w in weights.items() if mentions(words, term)) / total


def looks_like_instruction(text: str) -> bool:
    """A sentence addressed to an AI ("ignore previous instructions…"): a prompt injection."""
    return _INSTRUCTION.search(text) is not None


def sentences_in_context(
    passages: tuple[Passage, ...] | list[Passage],
) -> list[tuple[Evidence, Evidence | None]]:
    """Every distinct sentence, paired with the span of it and the sentence before it.

    The pair is stored text too (one slice of the passage), so it can be quoted
    exactly; it is None for a passage's first sentence. The article's headline is
    left out: every sentence is shown with its title already. `score` holds the rank
    of the passage the sentence came from (0 = best) until `select_evidence` scores it.
    """
    seen: set[tuple[str, int]] = set()
    found: list[tuple[Evidence, Evidence | None]] = []
    for rank, passage in enumerate(passages):
        previous: int | None = None
        headline = _words(passage.title)
        for start, end in split_sentences(passage.text):
            if _words(passage.text[start:end]) == headline:
                previous = None  # the prompt shows the title beside every sentence anyway
                continue
            key = (passage.article_id, passage.start + start)
            lead, previous = previous, start
            if key in seen:
                continue  # overlapping chunks repeat sentences
            seen.add(key)
            found.append(
                (
                    _span(passage, start, end, rank),
                    None if lead is None else _span(passage, lead, end, rank),
                )
            )
    return found


def headline_of(evidence: Evidence, article_text: str) -> Evidence | None:
    """The article's headline as a quotable span, when its stored text opens with it.

    The model sees each sentence's title, and sometimes answers from it ("which
    newspaper…?" → the headline "…, writes Wall Street Journal."). The headline is
    never offered as a sentence, but it is stored text and can be quoted.
    """
    spans = split_sentences(article_text[:1000])
    if not spans:
        return None
    start, end = spans[0]
    text = article_text[start:end]
    if _words(text) != _words(evidence.title):
        return None
    # Only the article details carry over: the sentence's score and similarity are not its.
    return replace(evidence, text=text, start=start, end=end, score=0.0, cosine=0.0)


def _words(text: str) -> list[str]:
    """Lower-cased words in order: a headline matches its title whatever the punctuation."""
    return _WORD.findall(text.lower())


def _span(passage: Passage, start: int, end: int, rank: int) -> Evidence:
    return Evidence(
        number=0,
        article_id=passage.article_id,
        title=passage.title,
        source=passage.source,
        text=passage.text[start:end],
        start=passage.start + start,
        end=passage.start + end,
        score=float(rank),
    )


def expected_answer(question: str) -> str:
    """What kind of answer the question asks for: "number", "name" or "" (anything)."""
    if _WANTS_NUMBER.search(question):
        return "number"
    if _WANTS_NAME.search(question):
        return "name"
    return ""


def could_answer(kind: str, question: str, text: str) -> bool:
    """Whether `text` holds something of the kind asked for that the question lacks."""
    if kind == "number":
        given = set(_DIGITS.findall(question))
        return any(n not in given for n in _DIGITS.findall(text))
    if kind == "name":  # a capitalised word past the first, since every sentence has one
        given = content_words(question)
        rest = "".join(text.split(None, 1)[1:])
        return any(_stem(w.lower()) not in given for w in _CAPITALISED.findall(rest))
    return True


def select_evidence(
    question: str,
    passages: tuple[Passage, ...] | list[Passage],
    embedder: Embedder,
    limit: int,
    weights: dict[str, float],
    margin: float = float("inf"),
) -> list[Evidence]:
    """The `limit` sentences most related to the question, numbered 1..limit, best first.

    Score = cosine to the question + IDF-weighted coverage of its terms (`weights`)
    - a small penalty per rank of the sentence's passage - a penalty when it holds
    nothing of the kind asked for (no new number for "how many"). A sentence that
    matches only together with the sentence before it is offered as that pair.
    A sentence scoring more than `margin` below the best is left out: a small model
    answers from such distractors far more often than they hold the answer.
    """
    candidates = [
        (s, None if pair is None or looks_like_instruction(pair.text) else pair)
        for s, pair in sentences_in_context(passages)
        if len(s.text.split()) >= _MIN_WORDS and not looks_like_instruction(s.text)
    ]
    if not candidates:
        return []
    pairs = [pair for _, pair in candidates if pair is not None]
    texts = [question, *[s.text for s, _ in candidates], *[p.text for p in pairs]]
    vectors = embedder.embed(texts)
    cosines = np.asarray(vectors[1:] @ vectors[0]).tolist()
    alone, together = cosines[: len(candidates)], iter(cosines[len(candidates) :])
    kind = expected_answer(question)
    scored = []
    for (sentence, pair), cosine in zip(candidates, alone, strict=True):
        coverage = weighted_coverage(sentence.text, weights)
        best = (cosine + coverage, cosine, sentence)
        if pair is not None:
            pair_cosine = max(cosine, next(together) - _CONTEXT_COSINE_DISCOUNT)
            pair_coverage = weighted_coverage(pair.text, weights) - _CONTEXT_COVERAGE_DISCOUNT
            pair_score = pair_cosine + max(coverage, pair_coverage)
            if pair_score > best[0]:
                best = (pair_score, pair_cosine, pair)
        penalty = _RANK_PENALTY * sentence.score
        if kind and not could_answer(kind, question, sentence.text):
            penalty += _TYPE_MISMATCH_PENALTY
        scored.append((best[0] - penalty, best[1], best[2]))
    scored.sort(key=lambda item: item[0], reverse=True)
    chosen: list[tuple[float, float, Evidence]] = []
    for item in scored:
        if item[0] < scored[0][0] - margin:
            break
        _add_span(chosen, item)
        if len(chosen) == limit:
            break
    return [
        Evidence(
            n,
            s.article_id,
            s.title,
            s.source,
            s.text,
            s.start,
            s.end,
            round(score, 4),
            round(cosine, 4),
        )  # fmt: skip
        for n, (score, cosine, s) in enumerate(chosen, start=1)
    ]


def _add_span(chosen: list[tuple[float, float, Evidence]], item: tuple) -> None:
    """Add a scored span unless it repeats text already chosen; a pair replaces its lead."""
    span = item[2]
    for index, other in enumerate(chosen):
        if not _overlaps(span, other[2]):
            continue
        if span.start <= other[2].start and other[2].end <= span.end:
            chosen[index] = (other[0], max(other[1], item[1]), span)
        return
    chosen.append(item)


def _overlaps(a: Evidence, b: Evidence) -> bool:
    return a.article_id == b.article_id and a.start < b.end and b.start < a.end
