"""The index on disk, as one object: what the bot, a sync and the tests open.

`IndexStore` only wires together the parts that do the work and keeps one API for
them: the articles, chunks, sentences and vector copy in SQLite (`retrieval.articles`),
full-text search (`retrieval.lexical`), the sentence vectors in Chroma
(`retrieval.vectors`), the order that makes reloads atomic (`retrieval.atomic`), and the
lock and fault messages they share (`retrieval.guard`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.articles import ArticleStore, ArticleSummary, ManifestEntry, StoredPassage
from retrieval.atomic import AtomicIndex
from retrieval.guard import IndexGuard, index_fault, locked
from retrieval.lexical import LexicalIndex
from retrieval.models import Article, Chunk, Sentence, SplitArticle
from retrieval.vectors import ChromaServer, ChromaVectors

if TYPE_CHECKING:
    import sqlite3

    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["ArticleSummary", "IndexStore", "ManifestEntry", "StoredPassage", "index_fault"]


class IndexStore:
    """Open (or create) the index in `index_dir`, with vectors embedded or on `chroma_server`.

    Safe to share between threads (the Discord bot answers in a worker thread while a
    reload writes in another): each method runs under one re-entrant lock. Several
    processes may share one index when its vectors are on a Chroma server.
    """

    def __init__(self, index_dir: Path, chroma_server: ChromaServer | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.chroma_server = chroma_server
        self._guard = IndexGuard(self.index_dir, chroma_server)
        self._articles = ArticleStore(self.index_dir, self._guard)
        self.read_only = self._articles.read_only
        self._lexical = LexicalIndex(self._articles.db, self._guard)
        self._vectors = ChromaVectors(self.index_dir, chroma_server, self.read_only, self._guard)
        self._index = AtomicIndex(self._articles, self._vectors, self._guard)
        if chroma_server is not None:
            self._vectors.client  # noqa: B018 - connect now: a down server is reported at start-up
        if not self.read_only and self.get_meta("index_uid") is None:
            self.set_meta("index_uid", uuid.uuid4().hex[:12])

    @locked
    def close(self) -> None:
        """Release the SQLite connection, the claim on embedded vectors and any vector copy."""
        self._articles.close()
        self._vectors.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> AbstractContextManager[None]:
        """Read one consistent state: a reload here or in another process waits or stays unseen.

        Wrap everything one question reads (search, passages, article texts) in it.
        """
        return self._articles.snapshot()

    # -- metadata -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored value from the meta table (config, last sync time)."""
        return self._articles.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        self._articles.set_meta(key, value)

    def corpus_folder(self) -> str | None:
        """The resolved corpus folder the index was last synced from (None: not recorded)."""
        return self.get_meta("corpus_dir")

    def config(self) -> dict | None:
        """The configuration the stored vectors were built with, or None for a new index."""
        raw = self.get_meta("config")
        return json.loads(raw) if raw else None

    # -- reading ------------------------------------------------------------------
    def manifest(self) -> dict[str, ManifestEntry]:
        """Every indexed article id with its source path and fingerprint."""
        return self._articles.manifest()

    def article(self, article_id: str) -> Article | None:
        """The stored article, with the exact clean text its chunks' offsets point into."""
        return self._articles.article(article_id)

    def article_summaries(self) -> list[ArticleSummary]:
        """Every indexed article's id, title, source and path (no text), by title."""
        return self._articles.article_summaries()

    def same_article(self, text: str, sources: Sequence[str] = ()) -> Article | None:
        """An indexed article with exactly this clean text or one of these sources (URLs):
        what `/add` calls a duplicate."""
        return self._articles.same_article(text, sources)

    def article_count(self) -> int:
        """How many articles are indexed."""
        return self._articles.article_count()

    def chunk_count(self) -> int:
        """How many chunks are indexed (each has a vector and a full-text entry)."""
        return self._articles.chunk_count()

    def sentence_count(self) -> int:
        """How many sentences are indexed (each has a vector)."""
        return self._articles.sentence_count()

    def vector_count(self) -> int:
        """How many vectors the active collection holds (equals `sentence_count` after a sync)."""
        return self._index.vector_count()

    def missing_vectors(self, open_vectors: bool = True) -> str | None:
        """Why indexed passages have no vectors (a deleted chroma/ folder, a new server), or None.

        Without `open_vectors`, only what needs no Chroma is checked (for `status`, which
        must not claim the embedded vectors of a running bot).
        """
        return self._index.missing_vectors(open_vectors)

    def chunks_of(self, article_id: str) -> list[Chunk]:
        """An article's indexed chunks, in order."""
        return self._articles.chunks_of(article_id)

    # -- searching ----------------------------------------------------------------
    def dense_query(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """Indexed sentence ids nearest to `vector`, with cosine similarity, best first."""
        return self._index.dense_query(vector, limit)

    def lexical_query(self, expression: str, limit: int) -> list[tuple[str, float]]:
        """Chunk ids matching an FTS5 expression, with BM25 score (higher is better), best first."""
        return self._lexical.lexical_query(expression, limit)

    def document_frequency(self, term: str) -> int:
        """How many chunks contain `term` (a word or phrase, stemmed as the index is)."""
        return self._lexical.document_frequency(term)

    def chunks_containing(self, term: str, chunk_ids: Sequence[str]) -> set[str]:
        """Those of `chunk_ids` whose text contains `term`."""
        return self._lexical.chunks_containing(term, chunk_ids)

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, StoredPassage]:
        """Chunk text, offsets and article metadata for each id."""
        return self._articles.passages(chunk_ids)

    def chunks_holding(self, sentence_ids: Sequence[str]) -> dict[str, list[str]]:
        """The chunk ids each sentence lies in (two, where chunks overlap)."""
        return self._articles.chunks_holding(sentence_ids)

    def sentences_in(self, chunk_ids: Sequence[str]) -> dict[str, list[tuple[str, int, int]]]:
        """Each chunk's sentences as (sentence id, start, end) in article offsets, in order."""
        return self._articles.sentences_in(chunk_ids)

    def vectors(self, sentence_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each sentence id (from SQLite's copy, not from Chroma)."""
        return self._articles.vectors(sentence_ids)

    # -- writing (a sync calls these while holding the reload lock) -----------------
    def collection_for(self, config: dict) -> str:
        """The Chroma collection that holds vectors built with `config` (created if new)."""
        return self._index.collection_for(config)

    def vector_ids(self, collection: str, sentence_ids: Sequence[str]) -> set[str]:
        """Those of `sentence_ids` with a vector in `collection`, in Chroma and in SQLite's copy."""
        return self._index.vector_ids(collection, sentence_ids)

    def add_vectors(
        self, collection: str, sentences: Sequence[Sentence], vectors: np.ndarray
    ) -> None:
        """Add sentence vectors to `collection`; invisible to readers until `commit` lists them."""
        self._index.add_vectors(collection, sentences, vectors)

    def commit(
        self,
        collection: str,
        config: dict,
        written: Sequence[SplitArticle],
        removed: Sequence[str],
        *,
        replace_all: bool = False,
        extra_meta: dict[str, str] | None = None,
    ) -> None:
        """Switch to the new state in one transaction: readers see all of it or none of it."""
        self._index.commit(
            collection, config, written, removed, replace_all=replace_all, extra_meta=extra_meta
        )

    def articles_missing_vectors(self) -> set[str]:
        """Indexed articles some of whose sentences have no vector (in Chroma or SQLite's copy)."""
        return self._index.articles_missing_vectors()

    def repair_vectors(self) -> str | None:
        """Refill the active collection from SQLite's copy if Chroma can no longer read it
        (a kill while Chroma saved it); what was repaired, or None."""
        return self._index.repair_vectors()

    def collect_garbage(self) -> int:
        """Delete vectors no indexed sentence refers to, and collections of old configurations."""
        return self._index.collect_garbage()

    # -- for tests that look underneath -----------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        """The SQLite connection."""
        return self._articles.db

    @property
    def _client(self) -> ClientAPI:
        """The Chroma client, opened on first use."""
        return self._vectors.client

    def _active(self) -> Collection | None:
        """The Chroma collection the committed state points at, or None."""
        name = self._index.active()
        return self._vectors.collection(name) if name else None
