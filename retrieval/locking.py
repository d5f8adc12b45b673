"""One reload at a time per index, across threads and processes.

An exclusive `flock` on `reload.lock` in the index folder. The operating system
releases it when its holder exits, even on SIGKILL, so a crashed reload never
leaves the index locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from retrieval.errors import IndexBusy, IndexInUse, IndexUnavailable

LOCK_FILE = "reload.lock"


@contextmanager
def reload_lock(
    index_dir: Path, *, wait: bool = False, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the index's reload lock; if taken, wait (`wait=True`) or raise `IndexBusy`."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / LOCK_FILE, "a+", encoding="utf-8")
    except OSError as error:
        raise IndexUnavailable(
            f"Cannot sync the index in {index_dir}: {error.strerror or error}. Make the folder "
            "writable (reading the index works without), or point --index / INDEX_DIR elsewhere."
        ) from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            message = f"Another reload of the index in {index_dir} is running (process {holder})."
            if not wait:
                raise IndexBusy(message + " Wait for it to finish, then try again.") from None
            if on_wait is not None:
                on_wait(message + " Waiting for it to finish…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            _mark_holder(handle, str(os.getpid()))
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class EmbeddedIndexLock:
    """Claim an index's embedded Chroma for this process: other processes are refused.

    Embedded Chroma keeps its state in memory, so a second process writing the same
    folder would leave the first reading stale vectors. A POSIX record lock is held
    per process, so one process may open several stores on the same index.
    """

    def __init__(self, index_dir: Path) -> None:
        self._handle = open(index_dir / "embedded.lock", "a+", encoding="utf-8")
        try:
            fcntl.lockf(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(self._handle)
            self._handle.close()
            raise IndexInUse(index_dir, holder) from None
        _mark_holder(self._handle, f"process {os.getpid()}")

    def release(self) -> None:
        """Let other processes open the index."""
        if not self._handle.closed:
            self._handle.close()  # closing drops the record lock


def _holder(handle: IO[str]) -> str:
    """Who holds a lock file, as its holder wrote it."""
    handle.seek(0)
    return handle.read().strip() or "unknown"


def _mark_holder(handle: IO[str], holder: str) -> None:
    """Write who holds the lock, for the message another process will show."""
    handle.seek(0)
    handle.truncate()
    handle.write(holder)
    handle.flush()
