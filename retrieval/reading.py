"""What answering a question reads of the index, as two roles of `IndexStore`.

Search and the engine only read; naming exactly what each calls keeps them off the
store's writing and upkeep (sync, repair, garbage collection) and lets a test hand
them anything that reads the same way. `IndexStore` has both roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from retrieval.articles import StoredPassage
    from retrieval.models import Article, Chunk


@runtime_checkable
class SearchIndex(Protocol):
    """What `retrieval.search.Searcher` reads: sentence vectors, full text and passages."""

    def dense_query(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """Indexed sentence ids nearest to `vector`, with cosine similarity, best first."""

    def chunks_holding(self, sentence_ids: Sequence[str]) -> dict[str, list[str]]:
        """The chunk ids each sentence lies in."""

    def lexical_query(self, expression: str, limit: int) -> list[tuple[str, float]]:
        """Chunk ids matching an FTS5 expression, with BM25 score, best first."""

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, StoredPassage]:
        """Chunk text, offsets and article metadata for each id."""

    def sentences_in(self, chunk_ids: Sequence[str]) -> dict[str, list[tuple[str, int, int]]]:
        """Each chunk's sentences as (sentence id, start, end) in article offsets, in order."""

    def vectors(self, sentence_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each sentence id."""

    def chunk_count(self) -> int:
        """How many chunks are indexed."""

    def document_frequency(self, term: str) -> int:
        """How many chunks contain `term`."""

    def chunks_containing(self, term: str, chunk_ids: Sequence[str]) -> set[str]:
        """Those of `chunk_ids` whose text contains `term`."""

    def chunks_of(self, article_id: str) -> list[Chunk]:
        """An article's indexed chunks, in order (a follow-up's conversation article)."""


@runtime_checkable
class ArticleTexts(Protocol):
    """What `bot.answering.engine.Engine` reads itself: one consistent state of the index, and
    the article texts every quote is checked against."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Read one consistent state: a reload meanwhile waits or stays unseen."""

    def article(self, article_id: str) -> Article | None:
        """The stored article, with the exact clean text its chunks' offsets point into."""
