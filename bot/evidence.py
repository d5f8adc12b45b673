"""Pick the few sentences that best support an answer, from the passages search found.

The model sees sentences, not whole chunks: the prompt stays small (fast on two
cores) and every sentence has exact offsets into its article, so whatever the
model cites can be quoted verbatim from the stored text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def sentences_of(passages: tuple[Passage, ...] | list[Passage]) -> list[Evidence]:
    """Every distinct sentence of the passages, with article offsets.

    `score` holds the rank of the passage the sentence came from (0 = best) until
    `select_evidence` scores it.
    """
    seen: set[tuple[str, int]] = set()
    found: list[Evidence] = []
    for rank, passage in enumerate(passages):
        for start, end in split_sentences(passage.text):
            key = (passage.article_id, passage.start + start)
            if key in seen:
                continue  # overlapping chunks repeat sentences
            seen.add(key)
            found.append(
                Evidence(
                    number=0,
                    article_id=passage.article_id,
                    title=passage.title,
                    source=passage.source,
                    text=passage.text[start:end],
                    start=passage.start + start,
                    end=passage.start + end,
                    score=float(rank),
                )
            )
    return found


def select_evidence(
    question: str,
    passages: tuple[Passage, ...] | list[Passage],
    embedder: Embedder,
    limit: int,
    weights: dict[str, float],
) -> list[Evidence]:
    """The `limit` sentences most related to the question, numbered 1..limit, best first.

    Score = cosine to the question + IDF-weighted coverage of its terms (`weights`)
    - a small penalty per rank of the sentence's passage.
    """
    sentences = [
        s
        for s in sentences_of(passages)
        if len(s.text.split()) >= _MIN_WORDS and not looks_like_instruction(s.text)
    ]
    if not sentences:
        return []
    vectors = embedder.embed([question, *[s.text for s in sentences]])
    cosines = vectors[1:] @ vectors[0]
    scored = []
    for sentence, cosine in zip(sentences, np.asarray(cosines).tolist(), strict=True):
        coverage = weighted_coverage(sentence.text, weights)
        score = cosine + coverage - _RANK_PENALTY * sentence.score
        scored.append((score, cosine, sentence))
    scored.sort(key=lambda item: item[0], reverse=True)
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
        for n, (score, cosine, s) in enumerate(scored[:limit], start=1)
    ]
