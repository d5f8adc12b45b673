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
_COVERAGE_WEIGHT = 0.5


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


def looks_like_instruction(text: str) -> bool:
    """A sentence addressed to an AI ("ignore previous instructions…"): a prompt injection."""
    return _INSTRUCTION.search(text) is not None


def sentences_of(passages: tuple[Passage, ...] | list[Passage]) -> list[Evidence]:
    """Every distinct sentence of the passages, with article offsets (unscored)."""
    seen: set[tuple[str, int]] = set()
    found: list[Evidence] = []
    for passage in passages:
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
                    score=0.0,
                )
            )
    return found


def select_evidence(
    question: str, passages: tuple[Passage, ...] | list[Passage], embedder: Embedder, limit: int
) -> list[Evidence]:
    """The `limit` sentences most related to the question, numbered 1..limit, best first."""
    sentences = [
        s
        for s in sentences_of(passages)
        if len(s.text.split()) >= _MIN_WORDS and not looks_like_instruction(s.text)
    ]
    if not sentences:
        return []
    vectors = embedder.embed([question, *[s.text for s in sentences]])
    cosines = vectors[1:] @ vectors[0]
    wanted = content_words(question)
    scored = []
    for sentence, cosine in zip(sentences, np.asarray(cosines).tolist(), strict=True):
        coverage = len(wanted & content_words(sentence.text)) / len(wanted) if wanted else 0.0
        scored.append((cosine + _COVERAGE_WEIGHT * coverage, cosine, sentence))
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
