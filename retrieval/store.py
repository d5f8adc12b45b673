"""The index on disk: article texts, chunks and sentences in SQLite, sentence vectors in Chroma.

`articles.sqlite` is the source of truth. It keeps each article's full clean text
(so any quote can be checked against it), the fingerprint of its source (so
unchanged files are never re-embedded), the index configuration (so a different
embedding model or chunking never mixes vectors), every chunk with an FTS5
full-text index for lexical (BM25) search, and every sentence's offsets. Chroma
(embedded in the index folder, or a server) holds one vector per sentence id: each
sentence is embedded once, and a chunk is scored from the sentences it holds. SQLite
keeps a copy of each vector too (float32, per Chroma collection): reading the found
passages' sentence vectors from it takes a millisecond where Chroma took twenty.

Reloads are atomic. A sync first adds the new vectors to Chroma, where nobody
sees them yet (readers only accept sentence ids SQLite lists), then switches
everything in one SQLite transaction, and only then deletes vectors nothing refers
to. A reader therefore sees the old index or the new one, never a mix; a process
killed part-way leaves the old index whole, and its vectors are reused by the
next sync (sentence ids name the article version, so they never change meaning).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.locking import EmbeddedIndexLock
from retrieval.models import Article, Chunk, Sentence, SplitArticle
from retrieval.vectors import ChromaServer, open_chroma, server_fault

T = TypeVar("T")

_LEGACY_COLLECTION = "chunks"  # the single collection of pipeline version 1
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
_ID_PAGE = 2000  # ids per Chroma get/delete call


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


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Run a store method under the store's lock: one thread at a time touches SQLite.

    A damaged file, a full disk or a read-only folder becomes `IndexUnavailable` with
    the next step, not a traceback; any other SQLite error is a bug and stays as it is.
    """

    @functools.wraps(method)
    def wrapper(self: IndexStore, *args: object, **kwargs: object) -> T:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as error:
                fault = index_fault(error, self.index_dir)
                if fault is None:
                    raise
                raise fault from error
            except Exception as error:  # a Chroma server that stopped answering, say
                fault = server_fault(error, self.chroma_server)
                if fault is None:
                    raise
                raise fault from error

    return wrapper


def index_fault(error: sqlite3.DatabaseError, index_dir: Path) -> IndexUnavailable | None:
    """The one-line message, with what to do, for a fault of the index's SQLite file."""
    code = getattr(error, "sqlite_errorname", None) or ""
    text = str(error)
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or (
        "malformed" in text or "not a database" in text
    ):
        return IndexUnavailable(
            f"The index in {index_dir} is damaged ({text}). Delete that folder (or move it "
            "aside) and run `python -m bot ingest` to rebuild it from the corpus."
        )
    if code.startswith("SQLITE_FULL") or "disk is full" in text:
        return IndexUnavailable(
            f"The disk holding the index in {index_dir} is full ({text}); the index was left "
            "as it was. Free some space, then run the sync again."
        )
    if code.startswith("SQLITE_READONLY") or "readonly database" in text:
        return IndexUnavailable(
            f"The index in {index_dir} is read-only ({text}). Reading it works; to change it, "
            "make the folder writable."
        )
    if code.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return IndexUnavailable(
            f"The disk holding the index in {index_dir} failed ({text}). Check the disk; if "
            "the error stays, delete the folder and run `python -m bot ingest` to rebuild it."
        )
    return None


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


def _make_writable(folder: Path) -> None:
    """Give the owner write access to everything below `folder`."""
    for parent, _, files in os.walk(folder):
        os.chmod(parent, 0o700)
        for name in files:
            os.chmod(Path(parent) / name, 0o600)


def _cannot_open(index_dir: Path, error: Exception) -> IndexUnavailable:
    return IndexUnavailable(
        f"Cannot open the index in {index_dir}: {error}. Check the folder is writable, or "
        "point --index / INDEX_DIR somewhere else."
    )


class IndexStore:
    """Open (or create) the index in `index_dir`, with vectors embedded or on `chroma_server`.

    Safe to share between threads (the Discord bot answers in a worker thread while a
    reload writes in another): each method runs under one re-entrant lock. Several
    processes may share one index when its vectors are on a Chroma server.
    """

    def __init__(self, index_dir: Path, chroma_server: ChromaServer | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.chroma_server = chroma_server
        self.read_only = _read_only(self.index_dir)
        try:
            self._db = self._open_database()
        except sqlite3.DatabaseError as error:
            fault = index_fault(error, self.index_dir) or _cannot_open(self.index_dir, error)
            raise fault from error
        except OSError as error:
            raise _cannot_open(self.index_dir, error) from error
        self._claim: EmbeddedIndexLock | None = None
        self._chroma = None  # opened on first use: `status` needs only SQLite
        self._vector_copy: tempfile.TemporaryDirectory | None = None
        self._collections: dict[str, object] = {}
        self._lock = threading.RLock()
        self._snapshot_depth = 0
        if chroma_server is not None:
            self._client  # noqa: B018 - connect now: a down server is reported at start-up
        if not self.read_only and self.get_meta("index_uid") is None:
            self.set_meta("index_uid", uuid.uuid4().hex[:12])

    def _open_database(self) -> sqlite3.Connection:
        """The SQLite connection: read-write (created if new), or read-only when it must be."""
        database = self.index_dir / "articles.sqlite"
        if self.read_only:
            return _connect_read_only(database)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        # Shared by the answer worker and a reload thread; every use holds self._lock.
        db = sqlite3.connect(database, check_same_thread=False, timeout=30)
        # WAL: readers in other processes keep their snapshot while a reload commits.
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db

    @property
    def _client(self):  # noqa: ANN202 - chromadb's ClientAPI
        """The Chroma client, opened (and embedded vectors claimed) on first use."""
        with self._lock:
            if self._chroma is None and self.read_only and self.chroma_server is None:
                self._chroma = self._open_vector_copy()
            if self._chroma is None:
                if self.chroma_server is None:
                    self._claim = EmbeddedIndexLock(self.index_dir)
                self._chroma = open_chroma(self.index_dir, self.chroma_server)
            return self._chroma

    def _open_vector_copy(self):  # noqa: ANN202 - chromadb's ClientAPI
        """Embedded Chroma on a private copy: Chroma writes even to read, and here it may not."""
        self._vector_copy = tempfile.TemporaryDirectory(prefix="index-vectors-")
        copy = Path(self._vector_copy.name)
        if (self.index_dir / "chroma").is_dir():
            shutil.copytree(self.index_dir / "chroma", copy / "chroma")
            _make_writable(copy / "chroma")  # the copy keeps the originals' read-only modes
        return open_chroma(copy)

    @_locked
    def close(self) -> None:
        """Release the SQLite connection, the claim on embedded vectors and any vector copy."""
        self._db.close()
        if self._claim is not None:
            self._claim.release()
        if self._vector_copy is not None:
            self._vector_copy.cleanup()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read one consistent state: a reload here or in another process waits or stays unseen.

        Wrap everything one question reads (search, passages, article texts) in it.
        """
        with self._lock:
            if self._snapshot_depth == 0 and not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._snapshot_depth += 1
            try:
                yield
            finally:
                self._snapshot_depth -= 1
                if self._snapshot_depth == 0 and self._db.in_transaction:
                    self._db.execute("COMMIT")

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
    def corpus_folder(self) -> str | None:
        """The resolved corpus folder the index was last synced from (None: not recorded)."""
        return self.get_meta("corpus_dir")

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
    def article_summaries(self) -> list[ArticleSummary]:
        """Every indexed article's id, title, source and path (no text), by title."""
        rows = self._db.execute(
            "SELECT article_id, title, source, path FROM articles "
            "ORDER BY title COLLATE NOCASE, article_id"
        )
        return [ArticleSummary(*row) for row in rows]

    @_locked
    def same_article(self, text: str, sources: Sequence[str] = ()) -> Article | None:
        """An indexed article with exactly this clean text or one of these sources (URLs):
        what `/add` calls a duplicate."""
        marks = ",".join("?" * len(sources))
        row = self._db.execute(
            "SELECT article_id, title, text, source, path, fingerprint, date FROM articles "
            f"WHERE text = ? OR source IN ({marks}) LIMIT 1",
            (text, *sources),
        ).fetchone()
        return Article(*row) if row else None

    @_locked
    def article_count(self) -> int:
        """How many articles are indexed."""
        return self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    @_locked
    def chunk_count(self) -> int:
        """How many chunks are indexed (each has a vector and a full-text entry)."""
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    @_locked
    def sentence_count(self) -> int:
        """How many sentences are indexed (each has a vector)."""
        return self._db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]

    @_locked
    def vector_count(self) -> int:
        """How many vectors the active collection holds (equals `sentence_count` after a sync)."""
        active = self._active()
        return active.count() if active is not None else 0

    @_locked
    def missing_vectors(self, open_vectors: bool = True) -> str | None:
        """Why indexed passages have no vectors (a deleted chroma/ folder, a new server), or None.

        Without `open_vectors`, only what needs no Chroma is checked (for `status`, which
        must not claim the embedded vectors of a running bot).
        """
        sentences = self.sentence_count()
        if sentences == 0:
            return None
        folder = self.index_dir / "chroma"
        if self.chroma_server is None and not folder.is_dir():
            return f"the vector folder {folder} is gone"
        vectors = self.vector_count() if open_vectors else sentences
        if vectors < sentences:
            return f"only {vectors} of the {sentences} sentences have a vector"
        return None

    @_locked
    def chunks_of(self, article_id: str) -> list[Chunk]:
        """An article's indexed chunks, in order."""
        rows = self._db.execute(
            "SELECT chunk_id, article_id, idx, text, start, end FROM chunks "
            "WHERE article_id = ? ORDER BY idx",
            (article_id,),
        )
        return [Chunk(*row) for row in rows]

    # -- searching ----------------------------------------------------------------
    @_locked
    def dense_query(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """Indexed sentence ids nearest to `vector`, with cosine similarity, best first.

        Vectors a reload has added but not yet committed are skipped, so the query
        asks for more until it has `limit` indexed ones (or the collection is exhausted).
        Chroma returns fewer than asked only when it has no more; asking it to count
        first cost 14 ms a question on the BBC index.
        """
        active = self._active()
        if active is None or limit <= 0:
            return []
        asked = limit
        while True:
            got = active.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=asked,
                include=["distances"],
            )
            pairs = list(zip(got["ids"][0], got["distances"][0], strict=True))
            indexed = self._indexed_ids([sid for sid, _ in pairs])
            found = [(sid, 1.0 - dist) for sid, dist in pairs if sid in indexed]
            if len(found) >= limit or len(pairs) < asked:
                return found[:limit]
            asked *= 2

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
    def chunks_holding(self, sentence_ids: Sequence[str]) -> dict[str, list[str]]:
        """The chunk ids each sentence lies in (two, where chunks overlap)."""
        holding: dict[str, list[str]] = {}
        for chunk_id, sentence_id, _, _ in self._containing("s.sentence_id", sentence_ids):
            holding.setdefault(sentence_id, []).append(chunk_id)
        return holding

    @_locked
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
        return self._db.execute(
            "SELECT c.chunk_id, s.sentence_id, s.start, s.end FROM chunks c JOIN sentences s "
            "ON s.article_id = c.article_id AND c.start <= s.start AND s.end <= c.end "
            f"WHERE {column} IN ({marks}) ORDER BY c.start, s.start",
            tuple(ids),
        ).fetchall()

    @_locked
    def vectors(self, sentence_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each sentence id (from SQLite's copy, not from Chroma)."""
        collection = self.get_meta("collection")
        if not sentence_ids or collection is None:
            return {}
        found: dict[str, np.ndarray] = {}
        for at in range(0, len(sentence_ids), _ID_PAGE):
            page = tuple(sentence_ids[at : at + _ID_PAGE])
            marks = ",".join("?" * len(page))
            rows = self._db.execute(
                "SELECT sentence_id, vector FROM sentence_vectors "
                f"WHERE collection = ? AND sentence_id IN ({marks})",
                (collection, *page),
            )
            found.update((sid, np.frombuffer(blob, dtype=np.float32)) for sid, blob in rows)
        return found

    # -- writing (a sync calls these while holding the reload lock) -----------------
    @_locked
    def collection_for(self, config: dict) -> str:
        """The Chroma collection that holds vectors built with `config` (created if new).

        The name carries this index's id, so indexes sharing one Chroma server never
        touch each other's vectors.
        """
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        name = f"chunks-{self.get_meta('index_uid')}-{digest}"
        self._collection(name)
        return name

    @_locked
    def vector_ids(self, collection: str, sentence_ids: Sequence[str]) -> set[str]:
        """Those of `sentence_ids` with a vector in `collection`, in Chroma and in SQLite's
        copy (reusable: a killed sync's vectors are not embedded again)."""
        found: set[str] = set()
        target = self._collection(collection)
        for at in range(0, len(sentence_ids), _ID_PAGE):
            page = list(sentence_ids[at : at + _ID_PAGE])
            marks = ",".join("?" * len(page))
            copied = {
                row[0]
                for row in self._db.execute(
                    "SELECT sentence_id FROM sentence_vectors "
                    f"WHERE collection = ? AND sentence_id IN ({marks})",
                    (collection, *page),
                )
            }
            found.update(sid for sid in target.get(ids=page, include=[])["ids"] if sid in copied)
        return found

    @_locked
    def add_vectors(
        self, collection: str, sentences: Sequence[Sentence], vectors: np.ndarray
    ) -> None:
        """Add sentence vectors to `collection`; invisible to readers until `commit` lists them."""
        target = self._collection(collection)
        size = self._client.get_max_batch_size()
        for at in range(0, len(sentences), size):
            part = sentences[at : at + size]
            target.upsert(
                ids=[sentence.sentence_id for sentence in part],
                embeddings=np.asarray(vectors[at : at + size], dtype=np.float32),
                metadatas=[{"article_id": sentence.article_id} for sentence in part],
            )
        # The copy goes in after Chroma's: a sentence counts as embedded once both hold it.
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO sentence_vectors VALUES (?, ?, ?)",
                [
                    (collection, sentence.sentence_id, np.asarray(vector, np.float32).tobytes())
                    for sentence, vector in zip(sentences, vectors, strict=True)
                ],
            )

    @_locked
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
        if self._db.in_transaction:  # a snapshot of our own must not swallow the switch
            self._db.execute("COMMIT")
        changed = [(split.article.article_id,) for split in written] + [(aid,) for aid in removed]
        meta = {"config": json.dumps(config, sort_keys=True), "collection": collection}
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if replace_all:
                for table in ("chunks", "sentences", "articles"):
                    self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            for table in ("chunks", "sentences", "articles"):
                self._db.executemany(f"DELETE FROM {table} WHERE article_id = ?", changed)  # noqa: S608
            self._db.executemany(
                "INSERT INTO chunks (chunk_id, article_id, idx, start, end, text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, c.article_id, c.index, c.start, c.end, c.text)
                    for split in written
                    for c in split.chunks
                ],
            )
            self._db.executemany(
                "INSERT INTO sentences (sentence_id, article_id, start, end) VALUES (?, ?, ?, ?)",
                [
                    (s.sentence_id, s.article_id, s.start, s.end)
                    for split in written
                    for s in split.sentences
                ],
            )
            self._db.executemany(
                "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_article_row(split) for split in written],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [*meta.items(), *(extra_meta or {}).items()],
            )

    @_locked
    def articles_missing_vectors(self) -> set[str]:
        """Indexed articles some of whose sentences have no vector, in Chroma (a new Chroma
        server, say) or in SQLite's copy."""
        copied = self._copied_ids()
        if self.vector_count() == self.sentence_count() == len(copied):
            return set()
        have = self._all_vector_ids() & copied
        rows = self._db.execute("SELECT sentence_id, article_id FROM sentences").fetchall()
        return {article_id for sentence_id, article_id in rows if sentence_id not in have}

    @_locked
    def collect_garbage(self) -> int:
        """Delete vectors no indexed sentence refers to, and collections of old configurations."""
        active_name = self.get_meta("collection")
        prefix = f"chunks-{self.get_meta('index_uid')}-"
        for existing in self._client.list_collections():
            name = getattr(existing, "name", existing)
            stale = name.startswith(prefix) or (
                name == _LEGACY_COLLECTION and self.chroma_server is None
            )
            if stale and name != active_name:
                self._client.delete_collection(name)
                self._collections.pop(name, None)
        active = self._active()
        if active is None:
            return 0
        with self._db:
            self._db.execute(
                "DELETE FROM sentence_vectors WHERE collection != ? "
                "OR sentence_id NOT IN (SELECT sentence_id FROM sentences)",
                (active_name,),
            )
        indexed = {row[0] for row in self._db.execute("SELECT sentence_id FROM sentences")}
        orphans = sorted(self._all_vector_ids() - indexed)
        for at in range(0, len(orphans), _ID_PAGE):
            active.delete(ids=orphans[at : at + _ID_PAGE])
        return len(orphans)

    # -- helpers ------------------------------------------------------------------
    def _collection(self, name: str):  # noqa: ANN202 - chromadb's Collection type
        if name not in self._collections:
            self._collections[name] = self._client.get_or_create_collection(
                name, metadata={"hnsw:space": "cosine"}
            )
        return self._collections[name]

    def _active(self):  # noqa: ANN202
        """The collection the committed state points at (re-read: another process may switch it)."""
        name = self.get_meta("collection")
        return self._collection(name) if name else None

    def _all_vector_ids(self) -> set[str]:
        active = self._active()
        found: set[str] = set()
        if active is None:
            return found
        total = active.count()
        for offset in range(0, total, _ID_PAGE):
            found.update(active.get(include=[], limit=_ID_PAGE, offset=offset)["ids"])
        return found

    def _copied_ids(self) -> set[str]:
        """Sentence ids whose vector SQLite holds for the active collection."""
        rows = self._db.execute(
            "SELECT sentence_id FROM sentence_vectors WHERE collection = ?",
            (self.get_meta("collection"),),
        )
        return {row[0] for row in rows}

    def _indexed_ids(self, sentence_ids: Sequence[str]) -> set[str]:
        if not sentence_ids:
            return set()
        marks = ",".join("?" * len(sentence_ids))
        rows = self._db.execute(
            f"SELECT sentence_id FROM sentences WHERE sentence_id IN ({marks})",
            tuple(sentence_ids),
        )
        return {row[0] for row in rows}
