"""Where the sentence vectors live: embedded Chroma in the index folder, or a Chroma server.

`VectorStore` is what the index needs of a vector database; `ChromaVectors` gives it
with Chroma. Both Chroma clients give the same `ClientAPI`, so the rest of the code
never knows which one it has. A server lets several bot processes share one set of
vectors; embedded Chroma must only be opened by one process at a time.
"""

from __future__ import annotations

import logging
import os
import pickletools
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import httpx
import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.guard import IndexGuard, locked
from retrieval.locking import EmbeddedIndexLock

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ChromaServer:
    """A `chroma run` server to use instead of the embedded database."""

    host: str
    port: int = 8000
    ssl: bool = False
    timeout: float = 10.0  # seconds any one request may take

    def __str__(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def open_chroma(index_dir: Path, server: ChromaServer | None = None) -> ClientAPI:
    """A Chroma client: the server when one is given, else the database in `index_dir/chroma`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if server is None:
        try:
            return chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=settings)
        except Exception as error:  # chromadb raises assorted errors for a bad folder
            raise IndexUnavailable(
                f"Cannot open the vector database in {index_dir / 'chroma'}: {error}. Check the "
                "folder is writable, or point --index / INDEX_DIR somewhere else."
            ) from error

    def connect() -> ClientAPI:
        _check_answers(server)  # chromadb's client would wait forever on a stuck server
        return chromadb.HttpClient(
            host=server.host, port=server.port, ssl=server.ssl, settings=settings
        )

    try:
        client = _within(server.timeout, connect)
        _limit_wait(client, server.timeout)
    except Exception as error:  # connection refused, DNS, TLS, wrong service, no reply...
        raise IndexUnavailable(
            f"Cannot reach the Chroma server at {server}: {error}. Start it with "
            f"`chroma run --path DATA_DIR --host {server.host} --port {server.port}`, or unset "
            "CHROMA_HOST to use the embedded database."
        ) from error
    return client


def _within(seconds: float, connect: Callable[[], T]) -> T:
    """`connect()`, waited for at most `seconds`: chromadb's client constructor makes its
    own requests with no time limit, so a server that answers the heartbeat and then
    stalls would hang it. It runs in a daemon thread, left behind if it never returns."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(connect())
        except Exception as error:  # handed to the caller
            outcome.append(error)

    worker = threading.Thread(target=run, name="chroma-connect", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise TimeoutError(
            f"it did not let the client connect within {seconds:g} s (CHROMA_TIMEOUT_SECONDS)"
        )
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def _check_answers(server: ChromaServer) -> None:
    """One heartbeat with a time limit, before chromadb's client (which has none) connects."""
    response = httpx.get(f"{server}/api/v2/heartbeat", timeout=server.timeout)
    response.raise_for_status()


def _limit_wait(client: ClientAPI, seconds: float) -> None:
    """Give every later request a time limit: chromadb's HTTP session has timeout=None
    and no setting for it, so a server that stops answering would hang the bot."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)
    else:
        log.warning("Cannot limit the Chroma client's wait (chromadb changed its internals)")


_ID_PAGE = 2000  # ids per Chroma get/delete call


class VectorStore(Protocol):
    """The vector database an index uses: named collections of sentence vectors."""

    shared: bool  # other indexes may keep collections here too (a server)

    def lost(self) -> str | None:
        """Why the stored vectors are gone without opening the database, or None."""

    def damaged(self, name: str) -> str | None:
        """Why the collection `name` cannot be read (a file cut short), without opening the
        database, or None."""

    def ensure_collection(self, name: str) -> None:
        """Create the collection `name` (cosine distance) unless it exists."""

    def collection_names(self) -> list[str]:
        """The names of all collections, of this index or others sharing the database."""

    def drop_collection(self, name: str) -> None:
        """Delete the collection `name` with all its vectors."""

    def discard(self, name: str) -> None:
        """Drop the collection `name` to fill it again, even from a damaged database."""

    def query(self, name: str, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` ids nearest to `vector`, with cosine similarity, best first."""

    def add(self, name: str, sentences: Sequence[tuple[str, str]], vectors: np.ndarray) -> None:
        """Add (or replace) the vector of each (sentence id, article id)."""

    def count(self, name: str) -> int:
        """How many vectors the collection holds."""

    def all_ids(self, name: str) -> set[str]:
        """Every id in the collection."""

    def ids_among(self, name: str, ids: Sequence[str]) -> set[str]:
        """Those of `ids` the collection holds."""

    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Delete these ids' vectors from the collection."""

    def close(self) -> None:
        """Let go of the database."""


class ChromaVectors:
    """`VectorStore` on Chroma: embedded in `index_dir/chroma`, or on `server`.

    Opened on first use (`status` needs only SQLite), claiming embedded vectors for this
    process. A read-only index is read from a private copy: Chroma writes even to read.
    Every public method runs under `guard`, shared with the other parts of the index.
    """

    def __init__(
        self, index_dir: Path, server: ChromaServer | None, read_only: bool, guard: IndexGuard
    ) -> None:
        self.index_dir = index_dir
        self.server = server
        self.shared = server is not None
        self._read_only = read_only
        self._guard = guard
        self._client = None
        self._claim: EmbeddedIndexLock | None = None
        self._copy: tempfile.TemporaryDirectory | None = None
        self._collections: dict[str, Collection] = {}

    @property
    @locked
    def client(self) -> ClientAPI:
        """The Chroma client, opened (and embedded vectors claimed) on first use."""
        if self._client is None and self._read_only and self.server is None:
            self._client = self._open_copy()
        if self._client is None:
            if self.server is None:
                self._claim = EmbeddedIndexLock(self.index_dir)
            self._client = open_chroma(self.index_dir, self.server)
        return self._client

    def _open_copy(self) -> ClientAPI:
        """Embedded Chroma on a private copy of the index's vectors."""
        self._copy = tempfile.TemporaryDirectory(prefix="index-vectors-")
        copy = Path(self._copy.name)
        if (self.index_dir / "chroma").is_dir():
            shutil.copytree(self.index_dir / "chroma", copy / "chroma")
            _make_writable(copy / "chroma")  # the copy keeps the originals' read-only modes
        return open_chroma(copy)

    @locked
    def close(self) -> None:
        """Release the claim on embedded vectors and any private copy."""
        if self._claim is not None:
            self._claim.release()
        if self._copy is not None:
            self._copy.cleanup()

    def lost(self) -> str | None:
        """Why the stored vectors are gone (a deleted chroma/ folder), without opening them."""
        folder = self.index_dir / "chroma"
        if self.server is None and not folder.is_dir():
            return f"the vector folder {folder} is gone"
        return None

    def damaged(self, name: str) -> str | None:
        """Why the embedded collection `name` cannot be read, without opening Chroma, or None.

        Chroma 1.5 rewrites a collection's `index_metadata.pickle` in place when it saves
        the collection (once 1,000 writes have piled up, as in a sync's collect step); a
        process killed meanwhile leaves it cut short, and every read and write of the
        collection then fails. The file is parsed, never unpickled: nothing in it runs.
        """
        catalogue = self._damaged_catalogue()
        if catalogue is not None:
            return catalogue
        folder = self._segment_folder(name)
        metadata = folder / "index_metadata.pickle" if folder else None
        if metadata is None or not metadata.exists() or _whole_pickle(metadata):
            return None
        return (
            f"the vector file {metadata} is damaged (cut short: a process was killed while "
            "Chroma saved it)"
        )

    def _damaged_catalogue(self) -> str | None:
        """Why Chroma's own database (`chroma/chroma.sqlite3`) cannot be read, or None.

        A disk fault, or a copy taken while it was written, leaves it malformed; Chroma
        then refuses to open at all. Checked read-only (a running bot may have it open).
        """
        catalogue = self._catalogue()
        if catalogue is None:
            return None
        try:
            verdict = _read_only_row(catalogue, "PRAGMA quick_check(1)")[0]
        except sqlite3.DatabaseError as error:
            # A write cut short leaves a journal only a writer can roll back: not damage.
            verdict = str(error)
            if not any(sign in verdict for sign in ("malformed", "not a database")):
                return None
        if verdict == "ok":
            return None
        return f"the vector database {catalogue} is damaged ({verdict})"

    @locked
    def discard(self, name: str) -> None:
        """Drop the collection `name` so it can be filled again.

        A damaged database cannot be opened to drop anything, so the whole `chroma/`
        folder is set aside (renamed beside it, never deleted: it is the operator's to
        remove) and a new, empty one takes its place.
        """
        damage = self._damaged_catalogue()
        if damage is None:
            self.drop_collection(name)
            return
        folder = self.index_dir / "chroma"
        aside = folder.with_name(f"chroma-damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        folder.rename(aside)
        log.warning("%s; set aside as %s", damage, aside)
        self._client = None
        self._collections.clear()

    def _catalogue(self) -> Path | None:
        """Chroma's own database file, when the vectors are embedded and it exists."""
        catalogue = self.index_dir / "chroma" / "chroma.sqlite3"
        return catalogue if self.server is None and catalogue.is_file() else None

    def _segment_folder(self, name: str) -> Path | None:
        """The folder of the embedded collection `name`'s vectors, from Chroma's own catalogue
        (read-only: a running bot may have Chroma open), or None."""
        catalogue = self._catalogue()
        if catalogue is None:
            return None
        try:
            row = _read_only_row(
                catalogue,
                "SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection "
                "WHERE c.name = ? AND s.scope = 'VECTOR'",
                (name,),
            )
        except sqlite3.Error:  # another Chroma version's catalogue: nothing to check
            return None
        if row is None or str(_uuid_or_none(row[0])) != row[0]:  # only ever a folder in chroma/
            return None
        return self.index_dir / "chroma" / row[0]

    @locked
    def collection(self, name: str) -> Collection:
        """The Chroma collection `name`, created (cosine distance) if new."""
        if name not in self._collections:
            self._collections[name] = self.client.get_or_create_collection(
                name, metadata={"hnsw:space": "cosine"}
            )
        return self._collections[name]

    def ensure_collection(self, name: str) -> None:
        """Create the collection `name` (cosine distance) unless it exists."""
        self.collection(name)

    @locked
    def collection_names(self) -> list[str]:
        """The names of all collections on this Chroma, of this index or others."""
        return [getattr(existing, "name", existing) for existing in self.client.list_collections()]

    @locked
    def drop_collection(self, name: str) -> None:
        """Delete the collection `name` with all its vectors.

        Embedded Chroma forgets the collection but leaves its folder, damaged or not;
        nothing uses that folder any more, so it goes too.
        """
        folder = self._segment_folder(name)
        self.client.delete_collection(name)
        self._collections.pop(name, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    @locked
    def query(self, name: str, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` ids nearest to `vector`, with cosine similarity, best first."""
        got = self.collection(name).query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=limit,
            include=["distances"],
        )
        return [
            (sid, 1.0 - dist) for sid, dist in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    @locked
    def add(self, name: str, sentences: Sequence[tuple[str, str]], vectors: np.ndarray) -> None:
        """Add (or replace) the vector of each (sentence id, article id), in batches Chroma
        accepts."""
        target = self.collection(name)
        size = self.client.get_max_batch_size()
        for at in range(0, len(sentences), size):
            part = sentences[at : at + size]
            target.upsert(
                ids=[sentence_id for sentence_id, _ in part],
                embeddings=np.asarray(vectors[at : at + size], dtype=np.float32),
                metadatas=[{"article_id": article_id} for _, article_id in part],
            )

    @locked
    def count(self, name: str) -> int:
        """How many vectors the collection holds."""
        return self.collection(name).count()

    @locked
    def all_ids(self, name: str) -> set[str]:
        """Every id in the collection, a page at a time."""
        target = self.collection(name)
        found: set[str] = set()
        for offset in range(0, target.count(), _ID_PAGE):
            found.update(target.get(include=[], limit=_ID_PAGE, offset=offset)["ids"])
        return found

    @locked
    def ids_among(self, name: str, ids: Sequence[str]) -> set[str]:
        """Those of `ids` the collection holds."""
        target = self.collection(name)
        found: set[str] = set()
        for at in range(0, len(ids), _ID_PAGE):
            found.update(target.get(ids=list(ids[at : at + _ID_PAGE]), include=[])["ids"])
        return found

    @locked
    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Delete these ids' vectors from the collection."""
        target = self.collection(name)
        for at in range(0, len(ids), _ID_PAGE):
            target.delete(ids=list(ids[at : at + _ID_PAGE]))


def _uuid_or_none(text: str) -> uuid.UUID | None:
    """`text` as a UUID (what Chroma names a segment's folder), or None."""
    try:
        return uuid.UUID(text)
    except (TypeError, ValueError):
        return None


def _read_only_row(database: Path, sql: str, parameters: tuple = ()) -> tuple | None:
    """The first row of `sql` on the SQLite file `database`, opened read-only."""
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
        return db.execute(sql, parameters).fetchone()


def _whole_pickle(path: Path) -> bool:
    """Whether the pickle file at `path` parses to its end (parsed only, never loaded)."""
    try:
        for _ in pickletools.genops(path.read_bytes()):
            pass
    except (OSError, ValueError):
        return False
    return True


def _make_writable(folder: Path) -> None:
    """Give the owner write access to everything below `folder`."""
    for parent, _, files in os.walk(folder):
        os.chmod(parent, 0o700)
        for name in files:
            os.chmod(Path(parent) / name, 0o600)
