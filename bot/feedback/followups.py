"""Declined questions members asked to be told about, until an article answers them.

A member who presses "Tell me if this gets answered" under a decline opens the question
here: `followups.sqlite` in the index folder (each server's own with CORPUS_PER_GUILD).
It is a file of its own, not a table in `feedback.sqlite`, because it keeps the member's
id (needed to mention them in the reply) and the feedback log must stay shareable
without any: a row is deleted as soon as the question is answered or `FOLLOWUP_DAYS`
have passed.

Which articles changed is read from the index itself, not from one sync's report: the
file also keeps the fingerprint of every article the open questions were last asked
against (`checked`), and the articles whose fingerprint differs, or that are new, are
the changed ones. So every way the articles change (`/add`, `/reload`, a feed poll,
`/restore`, and `python -m bot ingest` while the bot is stopped) is seen the same way,
at the bot's next sync or start.

Every method opens its own connection, so it can run in a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.answering.outcomes import Decline
from bot.local_sqlite import transaction
from retrieval.articles import ManifestEntry

FOLLOWUPS_FILE = "followups.sqlite"
BUSY_SECONDS = 2.0
# Declines no new article can turn into an answer: nothing was asked, or an article is
# there and gives the model orders.
NOT_FOLLOWED = frozenset({Decline.EMPTY_QUESTION, Decline.ORDERED_BY_ARTICLE})
_SCHEMA = """
CREATE TABLE IF NOT EXISTS open_questions (
    question_id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id   INTEGER NOT NULL,
    guild_id    INTEGER,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    member_id   INTEGER NOT NULL,
    question    TEXT NOT NULL,
    asked_at    TEXT NOT NULL,
    UNIQUE (answer_id, member_id)
);
CREATE TABLE IF NOT EXISTS checked (
    article_id  TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class NewQuestion:
    """What a click on the button opens: the question and where to answer its asker."""

    answer_id: int  # the decline in the feedback log
    guild_id: int | None
    channel_id: int  # the channel or thread
    message_id: int  # the decline, which the answer replies to
    member_id: int
    question: str
    asked_at: str  # when the button was pressed (ISO, UTC); expiry counts from it


@dataclass(frozen=True)
class OpenQuestion(NewQuestion):
    """An open question as stored."""

    question_id: int = 0


def followable(decline: Decline | None) -> bool:
    """Whether a decline may come to be answered by an article added or changed later."""
    return decline is not None and decline not in NOT_FOLLOWED


def cutoff(days: float, now: datetime | None = None) -> str:
    """The ISO time `days` before `now`: questions opened before it have expired."""
    return ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat(timespec="seconds")


def changed_articles(
    manifest: Mapping[str, ManifestEntry], checked: Mapping[str, str]
) -> frozenset[str]:
    """The ids of articles new or changed since `checked` (id → fingerprint) was taken;
    removed ones are none: a removed article answers nothing."""
    return frozenset(
        article_id
        for article_id, entry in manifest.items()
        if checked.get(article_id) != entry.fingerprint
    )


class FollowUps:
    """Open questions and the fingerprints they were asked against, in one SQLite file."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FOLLOWUPS_FILE

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with transaction(self.path, _SCHEMA, BUSY_SECONDS) as db:
            yield db

    def open(
        self, question: NewQuestion, manifest: Callable[[], Mapping[str, ManifestEntry]]
    ) -> bool:
        """Open a question; False when this member already has it open. With no question
        open before, the articles it was declined against (`manifest()`, read only then)
        become the ones later syncs are compared with."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM open_questions LIMIT 1").fetchone() is None:
                _replace_checked(db, manifest())
            cursor = db.execute(
                "INSERT OR IGNORE INTO open_questions (answer_id, guild_id, channel_id, "
                "message_id, member_id, question, asked_at) VALUES (?,?,?,?,?,?,?)",
                (question.answer_id, question.guild_id, question.channel_id,
                 question.message_id, question.member_id, question.question,
                 question.asked_at),
            )  # fmt: skip
            return cursor.rowcount == 1

    def expire(self, before: str) -> int:
        """Delete the questions opened before `before` (ISO time); how many were."""
        with self._connect() as db:
            return db.execute("DELETE FROM open_questions WHERE asked_at < ?", (before,)).rowcount

    def open_questions(self) -> list[OpenQuestion]:
        """Every open question, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT answer_id, guild_id, channel_id, message_id, member_id, question, "
                "asked_at, question_id FROM open_questions ORDER BY question_id"
            ).fetchall()
        return [OpenQuestion(*row) for row in rows]

    def close(self, question_ids: Collection[int]) -> None:
        """Delete answered questions (and with them their askers' ids)."""
        with self._connect() as db:
            db.executemany(
                "DELETE FROM open_questions WHERE question_id=?", [(q,) for q in question_ids]
            )

    def changed(self, manifest: Mapping[str, ManifestEntry]) -> frozenset[str]:
        """The articles new or changed since the open questions were last asked."""
        with self._connect() as db:
            checked = dict(db.execute("SELECT article_id, fingerprint FROM checked"))
        return changed_articles(manifest, checked)

    def checked(self, manifest: Mapping[str, ManifestEntry]) -> None:
        """Record that the open questions have been asked against `manifest`'s articles."""
        with self._connect() as db:
            _replace_checked(db, manifest)


def _replace_checked(db: sqlite3.Connection, manifest: Mapping[str, ManifestEntry]) -> None:
    db.execute("DELETE FROM checked")
    db.executemany(
        "INSERT INTO checked (article_id, fingerprint) VALUES (?, ?)",
        [(article_id, entry.fingerprint) for article_id, entry in manifest.items()],
    )
