"""The small SQLite files the bot keeps beside the index (feedback, feeds), opened one way.

Each use opens its own connection (so any worker thread may call it), in WAL mode (a
reader never waits for a writer), with the schema created if missing, and runs as one
transaction: committed on success, rolled back on error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def transaction(path: Path, schema: str, busy_seconds: float) -> Iterator[sqlite3.Connection]:
    """A connection to `path` for one transaction; waits `busy_seconds` for another writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=busy_seconds)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(schema)
        with connection:
            yield connection
    finally:
        connection.close()
