"""The index's SQLite file, `articles.sqlite`: the source of truth.

It keeps each article's full clean text (so any quote can be checked against it), the
fingerprint of its source (so unchanged files are never re-embedded), the index
configuration (so a different embedding model or chunking never mixes vectors), every
chunk (with the FTS5 table `retrieval.lexical` searches) and every sentence's offsets.
It also keeps a float32 copy of each sentence vector, per Chroma collection: reading
the found passages' sentence vectors from it takes a millisecond where Chroma took twenty.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.guard import IndexGuard, index_fault, locked
from retrieval.models import Article, Chunk, Sentence, SplitArticle

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
CREATE INDEX IF NOT EXISTS chunks_by_article_start ON chunks(article_id, start);
CREATE TABLE IF NOT EXISTS sentences (
    sentence_id TEXT PRIMARY KEY,
    article_id  TEXT NOT NULL,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id, start);
CREATE TABLE IF NOT EXISTS sentence_vectors (
    collection  TEXT NOT NULL,
    sentence_id TEXT NOT NULL,
    vector      BLOB NOT NULL,
    PRIMARY KEY (collection, sentence_id)
) WITHOUT ROWID;
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
_ID_PAGE = 2000  # ids per `IN (...)` query on the vector copy
_ARTICLE_TABLES = ("chunks", "sentences", "articles")


@dataclass(frozen=True)
class ManifestEntry:
    """What the index knows about an article's source, to decide whether to re-embed it."""

    path: str
    fingerprint: str


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


@dataclass(frozen=True)
class ArticleSummary:
    """An indexed article without its text: what a list of titles shows."""

    article_id: str
    title: str
    source: str
    path: str


class ArticleStore:
    """Articles, chunks, sentences, meta and the vector copy in `index_dir/articles.sqlite`.

    Read-only when the folder or file may not be written (reading still works).
    Every public method runs under `guard`, shared with the other parts of the index.
    """

    def __init__(self, index_dir: Path, guard: IndexGuard) -> None:
        self.index_dir = index_dir
        self.read_only = _read_only(index_dir)
        self._guard = guard
        self._snapshot_depth = 0
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as error:
            raise (index_fault(error, index_dir) or _cannot_open(index_dir, error)) from error
        except OSError as error:
            raise _cannot_open(index_dir, error) from error

    def _open(self) -> sqlite3.Connection:
        """The SQLite connection: read-write (created if new), or read-only when it must be."""
        database = self.index_dir / "articles.sqlite"
        if self.read_only:
            return _connect_read_only(database)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        # Shared by the answer worker and a reload thread; every use holds the guard's lock.
        db = sqlite3.connect(database, check_same_thread=False, timeout=30)
        # WAL: readers in other processes keep their snapshot while a reload commits.
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db

    @locked
    def close(self) -> None:
        """Release the SQLite connection."""
        self.db.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read one consistent state: a reload here or in another process waits or stays unseen."""
        with self._guard.lock:
            if self._snapshot_depth == 0 and not self.db.in_transaction:
                self.db.execute("BEGIN")
            self._snapshot_depth += 1
            try:
                yield
            finally:
                self._snapshot_depth -= 1
                if self._snapshot_depth == 0 and self.db.in_transaction:
                    self.db.execute("COMMIT")

    # -- metadata -----------------------------------------------------------------
    @locked
    def get_meta(self, key: str) -> str | None:
        """A stored value from the meta table (config, last sync time)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @locked
    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- articles -----------------------------------------------------------------
    @locked
    def manifest(self) -> dict[str, ManifestEntry]:
        """Every indexed article id with its source path and fingerprint."""
        rows = self.db.execute("SELECT article_id, path, fingerprint FROM articles")
        return {row[0]: ManifestEntry(row[1], row[2]) for row in rows}

    @locked
    def article(self, article_id: str) -> Article | None:
        """The stored article, with the exact clean text its chunks' offsets point into."""
        row = self.db.execute(
            "SELECT article_id, title, text, source, path, fingerprint, date "
            "FROM articles WHERE article_id = ?",
            (article_id,),
        ).fetchone()
        return Article(*row) if row else None

    @locked
    def article_summaries(self) -> list[ArticleSummary]:
        """Every indexed article's id, title, source and path (no text), by title."""
        rows = self.db.execute(
            "SELECT article_id, title, source, path FROM articles "
            "ORDER BY title COLLATE NOCASE, article_id"
        )
        return [ArticleSummary(*row) for row in rows]

    @locked
    def same_article(self, text: str, sources: Sequence[str] = ()) -> Article | None:
        """An indexed article with exactly this clean text or one of these sources (URLs)."""
        marks = ",".join("?" * len(sources))
        row = self.db.execute(
            "SELECT article_id, title, text, source, path, fingerprint, date FROM articles "
            f"WHERE text = ? OR source IN ({marks}) LIMIT 1",
            (text, *sources),
        ).fetchone()
        return Article(*row) if row else None

    @locked
    def article_count(self) -> int:
        """How many articles are indexed."""
        return self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    @locked
    def chunk_count(self) -> int:
        """How many chunks are indexed."""
        return self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    @locked
    def sentence_count(self) -> int:
        """How many sentences are indexed."""
        return self.db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]

    # -- chunks and sentences -----------------------------------------------------
    @locked
    def chunks_of(self, article_id: str) -> list[Chunk]:
        """An article's indexed chunks, in order."""
        rows = self.db.execute(
            "SELECT chunk_id, article_id, idx, text, start, end FROM chunks "
            "WHERE article_id = ? ORDER BY idx",
            (article_id,),
        )
        return [Chunk(*row) for row in rows]

    @locked
    def passages(self, chunk_ids: Sequence[str]) -> dict[str, StoredPassage]:
        """Chunk text, offsets and article metadata for each id."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            "SELECT c.chunk_id, c.article_id, a.title, a.source, a.date, c.text, c.start, c.end "
            f"FROM chunks c JOIN articles a ON a.article_id = c.article_id "
            f"WHERE c.chunk_id IN ({marks})",
            tuple(chunk_ids),
        ).fetchall()
        return {row[0]: StoredPassage(*row) for row in rows}

    @locked
    def chunks_holding(self, sentence_ids: Sequence[str]) -> dict[str, list[str]]:
        """The chunk ids each sentence lies in (two, where chunks overlap)."""
        holding: dict[str, list[str]] = {}
        for chunk_id, sentence_id, _, _ in self._containing("s.sentence_id", sentence_ids):
            holding.setdefault(sentence_id, []).append(chunk_id)
        return holding

    @locked
    def sentences_in(self, chunk_ids: Sequence[str]) -> dict[str, list[tuple[str, int, int]]]:
        """Each chunk's sentences as (sentence id, start, end) in article offsets, in order."""
        found: dict[str, list[tuple[str, int, int]]] = {}
        for chunk_id, sentence_id, start, end in self._containing("c.chunk_id", chunk_ids):
            found.setdefault(chunk_id, []).append((sentence_id, start, end))
        return found

    def _containing(self, column: str, ids: Sequence[str]) -> list[tuple[str, str, int, int]]:
        """(chunk id, sentence id, sentence start, end) for each sentence lying in a chunk,
        where `column` (the chunk's or the sentence's id) is one of `ids`; in text order."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self.db.execute(
            "SELECT c.chunk_id, s.sentence_id, s.start, s.end FROM chunks c JOIN sentences s "
            "ON s.article_id = c.article_id AND c.start <= s.start AND s.end <= c.end "
            f"WHERE {column} IN ({marks}) ORDER BY c.start, s.start",
            tuple(ids),
        ).fetchall()

    @locked
    def indexed_ids(self, sentence_ids: Sequence[str]) -> set[str]:
        """Those of `sentence_ids` the committed state lists."""
        if not sentence_ids:
            return set()
        marks = ",".join("?" * len(sentence_ids))
        rows = self.db.execute(
            f"SELECT sentence_id FROM sentences WHERE sentence_id IN ({marks})",
            tuple(sentence_ids),
        )
        return {row[0] for row in rows}

    @locked
    def all_sentence_ids(self) -> set[str]:
        """Every indexed sentence id."""
        return {row[0] for row in self.db.execute("SELECT sentence_id FROM sentences")}

    @locked
    def sentence_articles(self) -> list[tuple[str, str]]:
        """(sentence id, article id) of every indexed sentence."""
        return self.db.execute("SELECT sentence_id, article_id FROM sentences").fetchall()

    # -- the vector copy ------------------------------------------------------------
    @locked
    def vectors(self, sentence_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each sentence id, in the committed collection."""
        collection = self.get_meta("collection")
        if not sentence_ids or collection is None:
            return {}
        found: dict[str, np.ndarray] = {}
        for page in _pages(sentence_ids):
            rows = self._copy_rows("sentence_id, vector", collection, page)
            found.update((sid, np.frombuffer(blob, dtype=np.float32)) for sid, blob in rows)
        return found

    @locked
    def copied_among(self, collection: str, sentence_ids: Sequence[str]) -> set[str]:
        """Those of `sentence_ids` whose vector in `collection` the copy holds."""
        found: set[str] = set()
        for page in _pages(sentence_ids):
            found.update(row[0] for row in self._copy_rows("sentence_id", collection, page))
        return found

    def _copy_rows(self, columns: str, collection: str, page: Sequence[str]) -> sqlite3.Cursor:
        """`columns` of the vector copy's rows for `page`'s sentence ids in `collection`."""
        marks = ",".join("?" * len(page))
        return self.db.execute(
            f"SELECT {columns} FROM sentence_vectors "  # fixed column names
            f"WHERE collection = ? AND sentence_id IN ({marks})",
            (collection, *page),
        )

    @locked
    def copied_ids(self, collection: str | None) -> set[str]:
        """Sentence ids whose vector in `collection` the copy holds."""
        rows = self.db.execute(
            "SELECT sentence_id FROM sentence_vectors WHERE collection = ?", (collection,)
        )
        return {row[0] for row in rows}

    @locked
    def copy_vectors(
        self, collection: str, sentences: Sequence[Sentence], vectors: np.ndarray
    ) -> None:
        """Keep a float32 copy of each sentence's vector in `collection`."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO sentence_vectors VALUES (?, ?, ?)",
                [
                    (collection, sentence.sentence_id, np.asarray(vector, np.float32).tobytes())
                    for sentence, vector in zip(sentences, vectors, strict=True)
                ],
            )

    @locked
    def drop_stale_copies(self, collection: str) -> None:
        """Delete copies of other collections' vectors and of sentences no longer indexed."""
        with self.db:
            self.db.execute(
                "DELETE FROM sentence_vectors WHERE collection != ? "
                "OR sentence_id NOT IN (SELECT sentence_id FROM sentences)",
                (collection,),
            )

    # -- switching ------------------------------------------------------------------
    @locked
    def switch(
        self,
        written: Sequence[SplitArticle],
        removed: Sequence[str],
        meta: dict[str, str],
        *,
        replace_all: bool = False,
    ) -> None:
        """Replace the written and removed articles and store `meta`, in one transaction."""
        if self.db.in_transaction:  # a snapshot of our own must not swallow the switch
            self.db.execute("COMMIT")
        changed = [(split.article.article_id,) for split in written] + [(aid,) for aid in removed]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if replace_all:
                for table in _ARTICLE_TABLES:
                    self.db.execute(f"DELETE FROM {table}")  # fixed names
            for table in _ARTICLE_TABLES:
                self.db.executemany(f"DELETE FROM {table} WHERE article_id = ?", changed)
            self._insert(written)
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))

    def _insert(self, written: Sequence[SplitArticle]) -> None:
        """Insert the chunks, sentences and article rows of `written` (inside `switch`)."""
        self.db.executemany(
            "INSERT INTO chunks (chunk_id, article_id, idx, start, end, text) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (c.chunk_id, c.article_id, c.index, c.start, c.end, c.text)
                for split in written
                for c in split.chunks
            ],
        )
        self.db.executemany(
            "INSERT INTO sentences (sentence_id, article_id, start, end) VALUES (?, ?, ?, ?)",
            [
                (s.sentence_id, s.article_id, s.start, s.end)
                for split in written
                for s in split.sentences
            ],
        )
        self.db.executemany(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_article_row(split) for split in written],
        )


def _pages(ids: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """`ids` in pages small enough for one `IN (...)` query."""
    for at in range(0, len(ids), _ID_PAGE):
        yield tuple(ids[at : at + _ID_PAGE])


def _article_row(split: SplitArticle) -> tuple:
    """The `articles` table row of an article just indexed."""
    a = split.article
    return (
        a.article_id,
        a.path,
        a.fingerprint,
        a.title,
        a.source,
        a.date,
        a.text,
        len(split.chunks),
    )


def _read_only(index_dir: Path) -> bool:
    """Whether this process may only read an existing index (a read-only folder or file)."""
    database = index_dir / "articles.sqlite"
    if not database.is_file():
        return False
    return not (os.access(index_dir, os.W_OK) and os.access(database, os.W_OK))


def _connect_read_only(database: Path) -> sqlite3.Connection:
    """Open the index's SQLite file for reading only.

    `mode=ro` needs the WAL side files or leave to create them; in a read-only folder
    after a clean close there are none, and `immutable=1` reads the file as it is.
    """
    uri = database.as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        db.execute("SELECT COUNT(*) FROM meta").fetchone()
        return db
    except sqlite3.OperationalError:  # no WAL side files, and none can be made here
        db.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)


def _cannot_open(index_dir: Path, error: Exception) -> IndexUnavailable:
    """The message for an index folder or file that cannot be opened at all."""
    return IndexUnavailable(
        f"Cannot open the index in {index_dir}: {error}. Check the folder is writable, or "
        "point --index / INDEX_DIR somewhere else."
    )
