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

from retrieval.errors import IndexBusy

LOCK_FILE = "reload.lock"


@contextmanager
def reload_lock(
    index_dir: Path, *, wait: bool = False, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the index's reload lock; if taken, wait (`wait=True`) or raise `IndexBusy`."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            message = f"Another reload of the index in {index_dir} is running (process {holder})."
            if not wait:
                raise IndexBusy(message + " Wait for it to finish, then try again.") from None
            if on_wait is not None:
                on_wait(message + " Waiting for it to finish…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
