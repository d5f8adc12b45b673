"""The feeds moderators follow and what became of each entry: SQLite in the index folder.

`feeds.sqlite` sits in `INDEX_DIR` beside the index, but a sync never touches it, so
a reload keeps every feed and every entry already seen. Per feed it holds the last
poll, the last error, the consecutive failures and when to try again (exponential
backoff, capped at a day); per entry, its state:

- `added`: its article was written and synced; `had`: that article was already indexed;
- `gave up`: its page failed `GIVE_UP_AFTER` polls in a row (the reason is kept);
- `failing`: its page failed, to be tried again on the next poll;
- `writing`: an add was under way. A poll killed there leaves this state behind, and
  the next poll syncs the folder first, so an article written but not yet indexed is
  found as "already have it" rather than written twice.

Only `added`, `had` and `gave up` count as seen. Every method opens its own
connection, so it can run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.local_sqlite import transaction

FEEDS_FILE = "feeds.sqlite"
BUSY_SECONDS = 5.0  # how long a write waits for another writer before giving up
GIVE_UP_AFTER = 3  # polls an entry's page may fail before it is skipped for good
MAX_BACKOFF = timedelta(hours=24)
SEEN_STATES = ("added", "had", "gave up")
_FAILING_SHOWN, _ERROR_SHOWN = 3, 200  # a status fits in one Discord message
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url        TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_at   TEXT NOT NULL,
    last_poll  TEXT,
    last_error TEXT,
    failures   INTEGER NOT NULL DEFAULT 0,
    next_try   TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    feed_url   TEXT NOT NULL,
    entry_key  TEXT NOT NULL,
    link       TEXT NOT NULL,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    note       TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, entry_key)
);
"""
_FEED_COLUMNS = "url, title, added_by, added_at, last_poll, last_error, failures, next_try"


@dataclass(frozen=True)
class FeedState:
    """One followed feed, as `/feed list` and `/status` show it."""

    url: str
    title: str
    added_by: str
    added_at: str
    last_poll: str | None = None
    last_error: str | None = None
    failures: int = 0
    next_try: str | None = None
    seen: int = 0  # entries added, already had, or given up

    @property
    def failing(self) -> bool:
        """True while the feed's last poll failed."""
        return self.failures > 0


@dataclass(frozen=True)
class EntryRef:
    """An entry of a feed: its stable key (the feed's id, else its link) and its link."""

    key: str
    link: str


def retry_delay(failures: int, base: timedelta) -> timedelta:
    """How long a feed that failed `failures` times in a row waits: base, 2x, 4x, … a day."""
    doublings = min(max(failures - 1, 0), 20)  # 2**20 bases is past any cap
    return min(base * 2**doublings, MAX_BACKOFF)


def stamp(moment: datetime) -> str:
    """A time as every row stores it (ISO, seconds); the same zone sorts as text."""
    return moment.isoformat(timespec="seconds")


class FeedStore:
    """Feeds and their entries in `INDEX_DIR/feeds.sqlite`; safe to call from any thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FEEDS_FILE

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA, BUSY_SECONDS)

    def add_feed(self, url: str, title: str, added_by: str, now: datetime) -> bool:
        """Follow a feed; False when it is followed already (nothing changes)."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO feeds (url, title, added_by, added_at) VALUES (?, ?, ?, ?)",
                (url, title, added_by, stamp(now)),
            )
            return cursor.rowcount == 1

    def remove_feed(self, url: str) -> FeedState | None:
        """Stop following a feed and forget its entries (its articles stay); None if unknown."""
        found = self.feed(url)
        if found is not None:
            with self._connect() as db:
                db.execute("DELETE FROM entries WHERE feed_url = ?", (url,))
                db.execute("DELETE FROM feeds WHERE url = ?", (url,))
        return found

    def feed(self, url: str) -> FeedState | None:
        """One followed feed, or None."""
        return next((f for f in self.feeds() if f.url == url), None)

    def feeds(self) -> list[FeedState]:
        """Every followed feed, in the order they were added."""
        if not self.path.exists():  # never create the file just to say there is nothing
            return []
        marks = ",".join("?" * len(SEEN_STATES))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_FEED_COLUMNS}, (SELECT COUNT(*) FROM entries e WHERE "
                f"e.feed_url = f.url AND e.state IN ({marks})) FROM feeds f ORDER BY rowid",
                SEEN_STATES,
            ).fetchall()
        return [FeedState(*row) for row in rows]

    def due(self, now: datetime) -> list[FeedState]:
        """The feeds to poll now: all but those waiting out a backoff."""
        return [f for f in self.feeds() if f.next_try is None or f.next_try <= stamp(now)]

    def record_success(self, url: str, title: str, now: datetime) -> None:
        """The feed answered: clear its failures and remember when."""
        with self._connect() as db:
            db.execute(
                "UPDATE feeds SET title = ?, last_poll = ?, last_error = NULL, failures = 0, "
                "next_try = NULL WHERE url = ?",
                (title, stamp(now), url),
            )

    def record_failure(self, url: str, error: str, now: datetime, base: timedelta) -> FeedState:
        """The feed failed: count it and set when to try again (`retry_delay`)."""
        failures = (self.feed(url) or FeedState(url, "", "", "")).failures + 1
        next_try = stamp(now + retry_delay(failures, base))
        with self._connect() as db:
            db.execute(
                "UPDATE feeds SET last_poll = ?, last_error = ?, failures = ?, next_try = ? "
                "WHERE url = ?",
                (stamp(now), error, failures, next_try, url),
            )
        return self.feed(url) or FeedState(url, "", "", "", stamp(now), error, failures, next_try)

    def seen(self, feed_url: str) -> set[str]:
        """The keys and links of the feed's entries that are done with (see SEEN_STATES)."""
        marks = ",".join("?" * len(SEEN_STATES))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT entry_key, link FROM entries WHERE feed_url = ? AND state IN ({marks})",
                (feed_url, *SEEN_STATES),
            ).fetchall()
        return {text for row in rows for text in row}

    def mark(
        self, feed_url: str, entries: Iterable[EntryRef], state: str, now: datetime, note: str = ""
    ) -> None:
        """Set the state of some of the feed's entries (attempts count only failures)."""
        with self._connect() as db:
            db.executemany(
                "INSERT INTO entries (feed_url, entry_key, link, state, note, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url, entry_key) DO UPDATE SET "
                "link = excluded.link, state = excluded.state, note = excluded.note, "
                "updated_at = excluded.updated_at",
                [(feed_url, e.key, e.link, state, note, stamp(now)) for e in entries],
            )

    def entry_failed(self, feed_url: str, entry: EntryRef, reason: str, now: datetime) -> bool:
        """Count a failed attempt at the entry's page; True when it is now given up."""
        with self._connect() as db:
            row = db.execute(
                "SELECT attempts FROM entries WHERE feed_url = ? AND entry_key = ?",
                (feed_url, entry.key),
            ).fetchone()
            attempts = (row[0] if row else 0) + 1
            state = "gave up" if attempts >= GIVE_UP_AFTER else "failing"
            db.execute(
                "INSERT INTO entries (feed_url, entry_key, link, state, attempts, note, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url, entry_key) "
                "DO UPDATE SET state = excluded.state, attempts = excluded.attempts, "
                "note = excluded.note, updated_at = excluded.updated_at",
                (feed_url, entry.key, entry.link, state, attempts, reason, stamp(now)),
            )
        return state == "gave up"

    def interrupted(self) -> bool:
        """True when an earlier poll stopped while adding (entries left `writing`)."""
        if not self.path.exists():
            return False
        with self._connect() as db:
            found = db.execute("SELECT 1 FROM entries WHERE state = 'writing' LIMIT 1")
            return found.fetchone() is not None

    def settle_interrupted(self) -> None:
        """After the recovery sync: entries left `writing` are tried again (and found as
        already had if their article made it into the index)."""
        with self._connect() as db:
            db.execute("UPDATE entries SET state = 'failing' WHERE state = 'writing'")


def feeds_summary(index_dir: Path) -> str:
    """One line for every front end's status: how many feeds, and each failing one's error."""
    feeds = FeedStore(index_dir).feeds()
    failing = [f for f in feeds if f.failing]
    if not feeds:
        return "none (moderators add them with /feed add)"
    text = f"{len(feeds)} followed, {len(failing)} failing"
    details = [
        f"{f.url} ({f.failures}x: {(f.last_error or '')[:_ERROR_SHOWN]}; next try {f.next_try})"
        for f in failing[:_FAILING_SHOWN]
    ]
    more = [f"and {len(failing) - _FAILING_SHOWN} more"] if len(failing) > _FAILING_SHOWN else []
    return text + (": " + "; ".join(details + more) if details else "")
