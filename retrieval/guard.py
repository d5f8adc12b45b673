"""One lock per open index, and the faults it turns into one-line messages.

The bot answers in a worker thread while a reload writes in another, and every part
of the index (SQLite, FTS5, Chroma) must see one thread at a time. A damaged file, a
full disk, a read-only folder or a Chroma server that stopped answering is not a bug:
it becomes `IndexUnavailable` with the next step, where any other error stays as it is.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from retrieval.errors import IndexUnavailable

if TYPE_CHECKING:
    from retrieval.vectors import ChromaServer

T = TypeVar("T")


class IndexGuard:
    """The re-entrant lock shared by the parts of one open index, and its fault mapping."""

    def __init__(self, index_dir: Path, chroma_server: ChromaServer | None) -> None:
        self.index_dir = index_dir
        self.chroma_server = chroma_server
        self.lock = threading.RLock()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock; a known SQLite, Chroma server or vector file fault leaves as
        `IndexUnavailable`."""
        with self.lock:
            try:
                yield
            except sqlite3.DatabaseError as error:
                fault = index_fault(error, self.index_dir)
                if fault is None:
                    raise
                raise fault from error
            except Exception as error:  # a server that stopped answering, a damaged file
                if self.chroma_server is None:
                    fault = vector_fault(error, self.index_dir)
                else:
                    fault = server_fault(error, self.chroma_server)
                if fault is None:
                    raise
                raise fault from error


def locked(method: Callable[..., T]) -> Callable[..., T]:
    """Run a method of an index part under its guard (`self._guard`): one thread at a time."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: object, **kwargs: object) -> T:
        with self._guard.held():
            return method(self, *args, **kwargs)

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


def server_fault(error: Exception, server: ChromaServer | None) -> IndexUnavailable | None:
    """The one-line message for a Chroma server that stopped answering, or None."""
    if server is None or not isinstance(error, httpx.TransportError):
        return None
    return IndexUnavailable(
        f"The Chroma server at {server} did not answer ({type(error).__name__}) within "
        f"{server.timeout:g} s. Check that `chroma run` is up and reachable; "
        "CHROMA_TIMEOUT_SECONDS sets how long to wait."
    )


# How Chroma's SQLite and file writes say the disk refused them (full, too large, read-only).
_WRITE_FAILED = ("disk I/O error", "disk is full", "No space left", "File too large", "readonly")


def vector_fault(error: Exception, index_dir: Path) -> IndexUnavailable | None:
    """The one-line message for embedded vector files Chroma cannot read, or None.

    A collection whose `index_metadata.pickle` was cut short is repaired by the next
    sync (`AtomicIndex.repair_vectors`); any other damaged vector file lands here.
    Deleting the folder loses nothing: the next ingest embeds the kept texts again.
    """
    chroma_errors = sys.modules.get("chromadb.errors")  # not loaded: not a Chroma error
    if chroma_errors is None or not isinstance(error, chroma_errors.InternalError):
        return None
    text = str(error)
    if any(sign in text for sign in _WRITE_FAILED):
        return IndexUnavailable(
            f"Could not write the vectors in {index_dir / 'chroma'} ({text}): the disk is "
            "probably full, or the folder read-only. The index was left as it was; free some "
            "space (or make the folder writable), then run the sync again."
        )
    if "hnsw" not in text.lower():
        return None
    return IndexUnavailable(
        f"The vectors in {index_dir / 'chroma'} cannot be read ({error}). Delete that folder "
        "and run `python -m bot ingest`: it embeds the articles again from the texts the "
        "index keeps."
    )
