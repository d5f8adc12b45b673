"""Question to ranked passages: dense + BM25 fused, de-duplicated, with a relevance signal.

Dense search (Chroma, over every sentence's vector) finds paraphrases; a passage
is ranked by its closest sentence, and scored half by that sentence and half by all
its sentences pooled (`passage_cosine`). Lexical search (SQLite FTS5,
BM25, over passages) finds names, figures and exact phrases. Their rankings are fused with
reciprocal rank fusion, and the fused candidates are re-scored with two
features both sides can be measured on: cosine similarity to the question and
IDF-weighted coverage of the question's terms (score = rrf_weight * RRF + cosine
+ coverage; on the dev sets this beats dense and BM25 alone on recall and MRR).
Near-duplicate passages (the same story syndicated
by several sites) are dropped after the first, best-ranked one, so the top
results show different evidence.

The relevance signal tells the answer layer whether the corpus has anything
on the question at all: it mixes how close the best passage is in meaning
(cosine) with how much of the question's rare vocabulary it actually contains
(IDF-weighted term coverage). A question about a name or thing no article
mentions scores low even when its topic is close.

The numbers behind all of this are `SearchRules`, one per `Searcher`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

from retrieval.embedding import Embedder
from retrieval.lexical import match_expression, query_terms
from retrieval.reading import SearchIndex
from retrieval.text import words


class _HasText(Protocol):
    text: str


T = TypeVar("T", bound=_HasText)
MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class SearchRules:
    """The numbers that rank and score passages: `candidates` is the SEARCH_CANDIDATES
    setting, the others are fixed (each comment says why it is what it is)."""

    candidates: int = 30  # passages each of dense and lexical search proposes
    rrf_k: int = 60  # the constant of the original RRF paper: an id scores 1 / (60 + rank)
    # score = rrf_weight * RRF + cosine + coverage. RRF is at most 2/61, so at 30 two
    # rankings' agreement weighs about as much as the cosine or the coverage (0..1 each).
    rrf_weight: float = 30.0
    # Word-set overlap at which a passage is a copy (a syndicated story) of a better one.
    duplicate_jaccard: float = 0.6
    # Dense sentence hits asked for per passage wanted: a passage often has several near the top.
    sentences_per_passage: int = 4
    # A passage's cosine: this share from its closest sentence, the rest from all its sentences
    # pooled. On tune, 0.5 ranked better (BBC R@1 0.829 vs 0.816) and told answerable from
    # unanswerable questions better (relevance AUC 0.698 vs 0.666) than the closest alone.
    closest_sentence_share: float = 0.5
    # Relevance = cosine_weight * cosine + (1 - cosine_weight) * coverage; calibrated on eval/.
    cosine_weight: float = 0.7
    # A follow-up's conversation articles: their best `context_passages` passages are
    # always among those returned, leaving the other places (ANSWER_PASSAGES, 4) to the
    # search's own finds, for a follow-up that turns to another article.
    context_passages: int = 2


@dataclass(frozen=True)
class PassageSentence:
    """A sentence of a found passage, with its stored vector: evidence selection reads
    these instead of embedding the sentences again for every question."""

    start: int  # offsets into the article's stored clean text
    end: int
    cosine: float  # similarity in meaning to the question
    vector: np.ndarray = field(compare=False, repr=False)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: `text == article text[start:end]`."""

    article_id: str
    title: str
    source: str
    text: str
    start: int
    end: int
    score: float  # fused rank score; only the order matters
    relevance: float  # 0..1, comparable across questions
    chunk_id: str = ""
    date: str | None = None
    sentences: tuple[PassageSentence, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class SearchResults:
    """Ranked passages and how relevant the best of them is."""

    question: str
    passages: tuple[Passage, ...]
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def relevance(self) -> float:
        """The relevance of the best passage (0 when nothing was found)."""
        return max((p.relevance for p in self.passages), default=0.0)


def reciprocal_rank_fusion(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Fuse ranked id lists: each id scores the sum of 1 / (k + rank) over the lists."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def rank_by_best_sentence(
    hits: list[tuple[str, float]], holding: dict[str, list[str]], limit: int
) -> list[tuple[str, float]]:
    """Passages in the order of their closest sentence, with that sentence's cosine.

    `hits` are sentence ids with cosines, best first; `holding` names the passages
    each sentence lies in.
    """
    ranked: dict[str, float] = {}
    for sentence_id, cosine in hits:
        for chunk_id in holding.get(sentence_id, ()):
            ranked.setdefault(chunk_id, cosine)
        if len(ranked) >= limit:
            break
    return list(ranked.items())[:limit]


def passage_cosine(
    sentences: list[PassageSentence], query: np.ndarray, closest_share: float
) -> float:
    """How close a passage is to the question, from its sentences' stored vectors alone:
    its closest sentence (a passage holding the one sentence that answers is close), for
    `closest_share`, mixed with the normalised sum of them all (close on the whole, as a
    passage vector is)."""
    closest = max(s.cosine for s in sentences)
    summed = np.sum([s.vector for s in sentences], axis=0)
    pooled = float(summed @ query) / max(float(np.linalg.norm(summed)), 1e-9)
    return closest_share * closest + (1 - closest_share) * pooled


def word_set(text: str) -> frozenset[str]:
    """The distinct lower-cased words of a text."""
    return frozenset(words(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Word-set overlap, 0..1."""
    return len(a & b) / len(a | b) if a and b else 0.0


def drop_near_duplicates(passages: list[T], threshold: float, limit: int) -> list[T]:
    """The first `limit` passages in order, skipping any too similar to one already kept."""
    kept: list[tuple[T, frozenset[str]]] = []
    for passage in passages:
        words = word_set(passage.text)
        if all(jaccard(words, other) < threshold for _, other in kept):
            kept.append((passage, words))
            if len(kept) == limit:
                break
    return [passage for passage, _ in kept]


def idf(document_frequency: int, total: int) -> float:
    """BM25's inverse document frequency; a term found nowhere weighs most."""
    return math.log((total - document_frequency + 0.5) / (document_frequency + 0.5) + 1.0)


class Searcher:
    """Search one index with one embedding model (both loaded once by the caller)."""

    def __init__(
        self, store: SearchIndex, embedder: Embedder, rules: SearchRules = SearchRules()
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.rules = rules

    def search(
        self, question: str, k: int = 5, mode: str = "hybrid", context: Sequence[str] = ()
    ) -> SearchResults:
        """The `k` best distinct passages for `question`.

        `context` names the articles a conversation is about (a follow-up's): their best
        passages (`SearchRules.context_passages`) are always among those returned, so
        "and how fast is it growing?" is read in the article the last answer came from.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        question = " ".join(question.split())
        if not question:
            return SearchResults(question, ())
        terms = query_terms(question)
        vector = self.embedder.embed([question])[0]

        rules = self.rules
        rankings: list[list[str]] = []
        if mode in ("hybrid", "dense"):
            wanted = rules.candidates * rules.sentences_per_passage
            hits = self.store.dense_query(vector, wanted)
            holding = self.store.chunks_holding([sid for sid, _ in hits])
            dense = rank_by_best_sentence(hits, holding, rules.candidates)
            rankings.append([cid for cid, _ in dense])
        if mode in ("hybrid", "lexical") and terms:
            lexical = self.store.lexical_query(match_expression(terms), rules.candidates)
            rankings.append([cid for cid, _ in lexical])
        fused = reciprocal_rank_fusion(rankings, rules.rrf_k)
        in_context = self._context_chunks(context) if mode == "hybrid" else set()
        for cid in in_context:
            fused.setdefault(cid, 0.0)
        if not fused:
            return SearchResults(question, ())
        candidates = list(fused)
        found = self._sentences(candidates, vector)
        # A passage whose sentence vectors are all missing (a repair under way) has no cosine.
        cosines = {
            cid: passage_cosine(s, vector, rules.closest_sentence_share)
            for cid, s in found.items()
            if s
        }
        coverage = self._coverage(terms, candidates)
        if mode == "hybrid":
            score = {
                cid: rules.rrf_weight * fused[cid] + cosines.get(cid, 0.0) + coverage.get(cid, 0.0)
                for cid in candidates
            }
        else:
            score = fused  # a single ranking: keep its own order, for honest baselines
        order = sorted(candidates, key=score.__getitem__, reverse=True)
        favoured = [cid for cid in order if cid in in_context][: rules.context_passages]
        order = favoured + [cid for cid in order if cid not in favoured]
        rows = self.store.passages(order)
        kept = drop_near_duplicates(
            [rows[cid] for cid in order if cid in rows], rules.duplicate_jaccard, k
        )
        kept.sort(key=lambda row: score[row.chunk_id], reverse=True)
        passages = [
            Passage(
                article_id=row.article_id,
                title=row.title,
                source=row.source,
                text=row.text,
                start=row.start,
                end=row.end,
                score=round(score[row.chunk_id], 6),
                relevance=self._relevance(
                    cosines.get(row.chunk_id, 0.0), coverage.get(row.chunk_id, 0.0)
                ),
                chunk_id=row.chunk_id,
                date=row.date,
                sentences=tuple(found.get(row.chunk_id, ())),
            )
            for row in kept
        ]
        return SearchResults(question, tuple(passages), vector)

    def _context_chunks(self, article_ids: Sequence[str]) -> set[str]:
        """The chunk ids of the conversation's articles (an article since removed has none)."""
        return {c.chunk_id for article_id in article_ids for c in self.store.chunks_of(article_id)}

    def _sentences(
        self, chunk_ids: list[str], vector: np.ndarray
    ) -> dict[str, list[PassageSentence]]:
        """Each passage's sentences with their stored vectors and cosine to `vector`."""
        spans = self.store.sentences_in(chunk_ids)
        vectors = self.store.vectors(sorted({sid for rows in spans.values() for sid, _, _ in rows}))
        return {
            cid: [
                PassageSentence(start, end, float(vectors[sid] @ vector), vectors[sid])
                for sid, start, end in rows
                if sid in vectors
            ]
            for cid, rows in spans.items()
        }

    def _relevance(self, cosine: float, coverage: float) -> float:
        share = self.rules.cosine_weight
        mixed = share * max(cosine, 0.0) + (1 - share) * coverage
        return round(min(max(mixed, 0.0), 1.0), 4)

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """Each term's IDF over the indexed chunks: rare terms say most about a question."""
        total = self.store.chunk_count()
        return {term: idf(self.store.document_frequency(term), total) for term in terms}

    def _coverage(self, terms: list[str], chunk_ids: list[str]) -> dict[str, float]:
        """IDF-weighted share of the question's terms each chunk contains."""
        if not terms:
            return {}
        weights = self.term_weights(terms)
        whole = sum(weights.values())
        covered = dict.fromkeys(chunk_ids, 0.0)
        for term, weight in weights.items():
            for cid in self.store.chunks_containing(term, chunk_ids):
                covered[cid] += weight
        return {cid: value / whole for cid, value in covered.items()}
