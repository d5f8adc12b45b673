"""The index on disk: chunk vectors in Chroma, article texts and the sync manifest in SQLite.

Chroma holds one record per chunk (vector, text, offsets, article metadata).
Beside it, `articles.sqlite` keeps each article's full clean text (so any quote
can be checked against it), the fingerprint of its source (so unchanged files
are never re-embedded), the index configuration (so a different embedding
model or chunking never mixes vectors), and the chunks again with an FTS5
full-text index for lexical (BM25) search, written in the same transaction as
their article so the two searches never disagree about what exists.

Writes go Chroma first, then SQLite: if a run dies in between, the manifest
still shows the old fingerprint and the next sync redoes that article, deleting
any chunks it had half-written.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.models import Article, Chunk

T = TypeVar("T")

COLLECTION = "chunks"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id  TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    title       TEXT NOT NULL,
    source      TEXT NOT NULL,
    date        TEXT,
    text        TEXT NOT NULL,
    chunk_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rowid       INTEGER PRIMARY KEY,
    chunk_id    TEXT UNIQUE NOT NULL,
    article_id  TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
"""
_DELETE_BATCH = 500


@dataclass(frozen=True)
class ManifestEntry:
    """What the index knows about an article's source, to decide whether to re-embed it."""

    path: str
    fingerprint: str


@dataclass(frozen=True)
class IndexedArticle:
    """An article and the vectors of its chunks, ready to write."""

    article: Article
    chunks: Sequence[Chunk]
    vectors: np.ndarray


@dataclass(frozen=True)
class StoredPassage:
    """A chunk as stored, with the metadata of its article."""

    chunk_id: str
    article_id: str
    title: str
    source: str
    date: str | None
    text: str
    start: int
    end: int


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Run a store method under the store's lock: one thread at a time touches SQLite."""

    @functools.wraps(method)
    def wrapper(self: IndexStore, *args: object, **kwargs: object) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class IndexStore:
    """Open (or create) the index in `index_dir`.

    Safe to share between threads (the Discord bot answers in a worker thread while a
    reload writes in another): each method runs under one re-entrant lock.
    """

    def __init__(self, index_dir: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.index_dir = Path(index_dir)
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(self.index_dir / "chroma"),
                settings=ChromaSettings(anonymized_telemetry=False),
            )
            # Shared by the answer worker and a reload thread; every use holds self._lock.
            self._db = sqlite3.connect(self.index_dir / "articles.sqlite", check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise IndexUnavailable(
                f"Cannot open the index in {self.index_dir}: {error}. Check the folder is "
                "writable, or point --index / INDEX_DIR somewhere else."
            ) from error
        self._chunks = self._open_collection()
        self._max_batch = self._client.get_max_batch_size()
        self._lock = threading.RLock()

    def _open_collection(self):  # noqa: ANN202 - chromadb's Collection type
        return self._client.get_or_create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})

    @_locked
    def close(self) -> None:
        """Release the SQLite connection (Chroma needs no explicit close)."""
        self._db.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata -----------------------------------------------------------------
    @_locked
    def get_meta(self, key: str) -> str | None:
        """A stored value from the meta table (config, last sync time)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @_locked
    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @_locked
    def config(self) -> dict | None:
        """The configuration the stored vectors were built with, or None for a new index."""
        raw = self.get_meta("config")
        return json.loads(raw) if raw else None

    # -- reading ------------------------------------------------------------------
    @_locked
    def manifest(self) -> dict[str, ManifestEntry]:
        """Every indexed article id with its source path and fingerprint."""
        rows = self._db.execute("SELECT article_id, path, fingerprint FROM articles")
        return {row[0]: ManifestEntry(row[1], row[2]) for row in rows}

    @_locked
    def article(self, article_id: str) -> Article | None:
        """The stored article, with the exact clean text its chunks' offsets point into."""
        row = self._db.execute(
            "SELECT article_id, title, text, source, path, fingerprint, date "
            "FROM articles WHERE article_id = ?",
            (article_id,),
        ).fetchone()
        return Article(*row) if row else None

    @_locked
    def article_count(self) -> int:
        """How many articles are indexed."""
        return self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    @_locked
    def chunk_count(self) -> int:
        """How many chunk vectors Chroma holds."""
        return self._chunks.count()

    @_locked
    def chunks_of(self, article_id: str) -> list[Chunk]:
        """An article's chunks as stored in Chroma, in order."""
        got = self._chunks.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        chunks = [
            Chunk(cid, meta["article_id"], meta["index"], doc, meta["start"], meta["end"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda chunk: chunk.index)

    # -- searching ----------------------------------------------------------------
    @_locked
    def dense_query(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """Chunk ids nearest to `vector`, with cosine similarity, best first."""
        count = self._chunks.count()
        if count == 0:
            return []
        got = self._chunks.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=min(limit, count),
            include=["distances"],
        )
        return [
            (cid, 1.0 - dist) for cid, dist in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    @_locked
    def lexical_query(self, expression: str, limit: int) -> list[tuple[str, float]]:
        """Chunk ids matching an FTS5 expression, with BM25 score (higher is better), best first."""
        try:
            rows = self._db.execute(
                "SELECT c.chunk_id, -bm25(chunks_fts) AS score FROM chunks_fts "
                "JOIN chunks c ON c.rowid = chunks_fts.rowid "
                "WHERE chunks_fts MATCH ? ORDER BY score DESC LIMIT ?",
                (expression, limit),
            ).fetchall()
        except sqlite3.OperationalError:  # an expression FTS5 cannot parse finds nothing
            return []
        return [(row[0], float(row[1])) for row in rows]

    @_locked
    def document_frequency(self, term: str) -> int:
        """How many chunks contain `term` (a word or phrase, stemmed as the index is)."""
        try:
            return self._db.execute(
                "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{term}"',)
            ).fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    @_locked
    def chunks_containing(self, term: str, chunk_ids: Sequence[str]) -> set[str]:
        """Those of `chunk_ids` whose text contains `term`."""
        if not chunk_ids:
            return set()
        marks = ",".join("?" * len(chunk_ids))
        try:
            rows = self._db.execute(
                "SELECT c.chunk_id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
                f"WHERE chunks_fts MATCH ? AND c.chunk_id IN ({marks})",
                (f'"{term}"', *chunk_ids),
            ).fetchall()
        except sqlite3.OperationalError:
            return set()
        return {row[0] for row in rows}

    @_locked
    def total_chunks(self) -> int:
        """Chunks in the lexical index (equals `chunk_count` once a sync has finished)."""
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    @_locked
    def passages(self, chunk_ids: Sequence[str]) -> dict[str, StoredPassage]:
        """Chunk text, offsets and article metadata for each id."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.execute(
            "SELECT c.chunk_id, c.article_id, a.title, a.source, a.date, c.text, c.start, c.end "
            f"FROM chunks c JOIN articles a ON a.article_id = c.article_id "
            f"WHERE c.chunk_id IN ({marks})",
            tuple(chunk_ids),
        ).fetchall()
        return {row[0]: StoredPassage(*row) for row in rows}

    @_locked
    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each chunk id."""
        if not chunk_ids:
            return {}
        got = self._chunks.get(ids=list(chunk_ids), include=["embeddings"])
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    # -- writing ------------------------------------------------------------------
    @_locked
    def write(self, batch: Iterable[IndexedArticle]) -> None:
        """Insert or replace articles and their chunks."""
        batch = list(batch)
        if not batch:
            return
        self._delete_chunks([item.article.article_id for item in batch])
        ids, vectors, documents, metadatas = [], [], [], []
        for item in batch:
            article = item.article
            for chunk, vector in zip(item.chunks, item.vectors, strict=True):
                ids.append(chunk.chunk_id)
                vectors.append(vector)
                documents.append(chunk.text)
                metadatas.append(
                    {
                        "article_id": article.article_id,
                        "title": article.title,
                        "source": article.source,
                        "date": article.date or "",
                        "index": chunk.index,
                        "start": chunk.start,
                        "end": chunk.end,
                    }
                )
        for at in range(0, len(ids), self._max_batch):
            end = at + self._max_batch
            self._chunks.add(
                ids=ids[at:end],
                embeddings=np.asarray(vectors[at:end]),
                documents=documents[at:end],
                metadatas=metadatas[at:end],
            )
        article_ids = [item.article.article_id for item in batch]
        with self._db:
            self._delete_chunk_rows(article_ids)
            self._db.executemany(
                "INSERT INTO chunks (chunk_id, article_id, idx, start, end, text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, c.article_id, c.index, c.start, c.end, c.text)
                    for item in batch
                    for c in item.chunks
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        item.article.article_id,
                        item.article.path,
                        item.article.fingerprint,
                        item.article.title,
                        item.article.source,
                        item.article.date,
                        item.article.text,
                        len(item.chunks),
                    )
                    for item in batch
                ],
            )

    @_locked
    def remove(self, article_ids: Sequence[str]) -> None:
        """Delete articles and every chunk they had."""
        self._delete_chunks(article_ids)
        with self._db:
            self._delete_chunk_rows(article_ids)
            self._db.executemany(
                "DELETE FROM articles WHERE article_id = ?", [(aid,) for aid in article_ids]
            )

    def _delete_chunk_rows(self, article_ids: Sequence[str]) -> None:
        """Delete SQLite chunk rows (and, by trigger, their full-text entries)."""
        self._db.executemany(
            "DELETE FROM chunks WHERE article_id = ?", [(aid,) for aid in article_ids]
        )

    def _delete_chunks(self, article_ids: Sequence[str]) -> None:
        for at in range(0, len(article_ids), _DELETE_BATCH):
            ids = list(article_ids[at : at + _DELETE_BATCH])
            self._chunks.delete(where={"article_id": {"$in": ids}})

    @_locked
    def reset(self, config: dict) -> None:
        """Drop every vector and article, and record the configuration the new index uses."""
        self._client.delete_collection(COLLECTION)
        self._chunks = self._open_collection()
        with self._db:
            self._db.execute("DELETE FROM chunks")
            self._db.execute("DELETE FROM articles")
            self._db.execute("DELETE FROM meta")
            self._db.execute(
                "INSERT INTO meta VALUES ('config', ?)", (json.dumps(config, sort_keys=True),)
            )
