"""What members asked and how they rated it: a small SQLite log in the index folder.

`feedback.sqlite` sits in `INDEX_DIR` beside the index, but a sync never touches it:
corpus reloads keep every question and vote. It holds each answer the bot gave
(question, answer, quoted article ids and offsets, why it declined, when) and one
vote per member per answer. Members are stored only as a salted SHA-256 of their
id; the salt is a separate file (`feedback-salt`), so the log alone can be shared
without anyone being able to tell whether a known member voted.

Each question also keeps its asker as that salted hash, so `/gaps` can count how many
members asked a question without knowing who they were.

Questions asked privately (`/ask private:True`, direct messages) are marked so and
never listed to anyone else; each question keeps its channel, so a moderator's report
lists only questions from channels that moderator can read. A log written before these
columns existed gains them on first use; its rows name no channel and count as private.

A decline is stored as its `Decline` value, so rewording a message changes no count;
rows logged before then named it in words, and `stored_decline` reads those.

Every method opens its own connection, so it can run in a worker thread
(`asyncio.to_thread`) and never on the event loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.answering.engine import Answer
from bot.answering.outcomes import Decline
from bot.local_sqlite import transaction

FEEDBACK_FILE = "feedback.sqlite"
SALT_FILE = "feedback-salt"
BUSY_SECONDS = 2.0  # how long a write waits for another writer before giving up
UP, DOWN = 1, -1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at     TEXT NOT NULL,
    guild_id     INTEGER,
    question     TEXT NOT NULL,
    question_key TEXT NOT NULL,
    answer       TEXT NOT NULL,
    abstained    INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    decline      TEXT NOT NULL,
    quotes       TEXT NOT NULL,
    confidence   REAL,
    channel_id   INTEGER,
    private      INTEGER,
    member       TEXT
);
CREATE INDEX IF NOT EXISTS answers_by_guild ON answers(guild_id, abstained);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers(answer_id),
    member    TEXT NOT NULL,
    vote      INTEGER NOT NULL CHECK (vote IN (1, -1)),
    voted_at  TEXT NOT NULL,
    PRIMARY KEY (answer_id, member)
);
"""
# Columns added since the first version, with their types: a row from before has NULL,
# which lists nowhere (no channel) and counts as private (it may have been).
_ADDED_COLUMNS = (("channel_id", "INTEGER"), ("private", "INTEGER"), ("member", "TEXT"))
_LISTABLE = "private=0"  # a question someone other than the asker may see
_NOT_WORDS = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class LoggedQuote:
    """A quote as logged: enough to find it in the article again."""

    article_id: str
    title: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class LoggedAnswer:
    """One answer from the log, with its current votes."""

    answer_id: int
    asked_at: str
    question: str
    answer: str
    abstained: bool
    decline: Decline | None  # None for an answer (or a decline no version named)
    quotes: tuple[LoggedQuote, ...]
    ups: int = 0
    downs: int = 0


@dataclass(frozen=True)
class FrequentDecline:
    """A question declined `count` times, as last phrased, with the last reason."""

    question: str
    count: int
    decline: Decline | None


@dataclass(frozen=True)
class AskedQuestion:
    """One declined public question, for `/gaps`: who asked (a salted hash; for a row
    logged before askers were, a key of its own) and when."""

    question: str
    asker: str
    asked_at: str
    decline: Decline | None


@dataclass(frozen=True)
class FeedbackSummary:
    """What `/feedback` shows: totals, recent 👎 answers and the most frequent declines."""

    answers: int
    declines: int
    ups: int
    downs: int
    recent_downs: tuple[LoggedAnswer, ...]
    frequent_declines: tuple[FrequentDecline, ...]
    decline_counts: tuple[tuple[Decline | None, int], ...]  # most frequent first


@dataclass(frozen=True)
class VoteOutcome:
    """What a click did: a new vote, a changed one, or the same vote again."""

    previous: int | None
    vote: int

    @property
    def changed(self) -> bool:
        """True when the member had voted the other way before."""
        return self.previous is not None and self.previous != self.vote


# Logs written before declines were values hold a moderator's label in `decline` and the
# engine's sentence in `reason`; this is the one place that reads those sentences.
_LEGACY_REASONS = {
    "empty question": Decline.EMPTY_QUESTION,
    "nothing relevant found": Decline.NOTHING_RELEVANT,
    "no sentences to quote": Decline.NO_SENTENCES,
    "model found no answer": Decline.MODEL_NOT_FOUND,
    "answer not in the sentences": Decline.ANSWER_NOT_IN_SENTENCES,
    "no quote verified": Decline.NO_QUOTE_VERIFIED,
}
_LEGACY_LABELS = {  # for the reasons that carried a detail (a figure, an error, a sentence)
    "low confidence": Decline.UNSURE,
    "model too slow": Decline.SLOW,
    "model failed": Decline.FAILED,
    "refused: an article gives the model orders": Decline.ORDERED_BY_ARTICLE,
}


def stored_decline(decline: str, reason: str) -> Decline | None:
    """The decline a logged row records: its stored value, or for a row logged before
    declines were values, the one its reason or label names; None for an answer."""
    if not decline:
        return None
    try:
        return Decline(decline)
    except ValueError:
        return _LEGACY_REASONS.get(reason) or _LEGACY_LABELS.get(decline)


def question_key(question: str) -> str:
    """The question without case, punctuation or extra spaces: the same question, grouped."""
    return " ".join(_NOT_WORDS.sub(" ", question.lower()).split())


def now_text() -> str:
    """The current time, as every row stores it (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class FeedbackLog:
    """Answers and votes in `INDEX_DIR/feedback.sqlite`; safe to call from any thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FEEDBACK_FILE
        self._salt: bytes | None = None
        self._upgraded = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with transaction(self.path, _SCHEMA, BUSY_SECONDS) as db:
            if not self._upgraded:
                _add_missing_columns(db)
                self._upgraded = True
            yield db

    def member_hash(self, member_id: int) -> str:
        """A salted SHA-256 of a member id: the same member matches, the id is not kept."""
        return hashlib.sha256(self._read_salt() + str(member_id).encode()).hexdigest()

    def _read_salt(self) -> bytes:
        """The salt file's bytes, created (readable by the bot's user only) on first use."""
        if self._salt is None:
            path = self.folder / SALT_FILE
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "w") as file:
                    file.write(secrets.token_hex(32))
            self._salt = path.read_text().strip().encode()
        return self._salt

    def record(
        self,
        answer: Answer,
        guild_id: int | None,
        channel_id: int | None,
        *,
        private: bool,
        asked_at: str | None = None,
        member_id: int | None = None,
    ) -> int:
        """Log one answer or decline; returns its id (what the vote buttons carry).

        `private`: only the asker saw it, so no report may list it. `member_id`, the
        asker, is stored only as its salted hash.
        """
        member = None if member_id is None else self.member_hash(member_id)
        quotes = [
            {"article_id": q.article_id, "title": q.title, "start": q.start, "end": q.end,
             "text": q.text}
            for q in answer.quotes
        ]  # fmt: skip
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO answers (asked_at, guild_id, question, question_key, answer, "
                "abstained, reason, decline, quotes, confidence, channel_id, private, member) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    asked_at or now_text(),
                    guild_id,
                    # a follow-up as it was read (its standalone question), so it can be
                    # asked again, and grouped with its kin, without its conversation
                    answer.standalone or answer.question,
                    question_key(answer.standalone or answer.question),
                    answer.answer,
                    int(answer.abstained),
                    answer.reason,
                    answer.decline.value if answer.abstained and answer.decline else "",
                    json.dumps(quotes, ensure_ascii=False),
                    answer.confidence,
                    channel_id,
                    int(private),
                    member,
                ),
            )
            return int(cursor.lastrowid)

    def vote(self, answer_id: int, member_id: int, vote: int) -> VoteOutcome | None:
        """Set a member's vote on an answer (changeable); None when the answer is not logged."""
        member = self.member_hash(member_id)
        with self._connect() as db:
            known = db.execute("SELECT 1 FROM answers WHERE answer_id=?", (answer_id,))
            if known.fetchone() is None:
                return None
            row = db.execute(
                "SELECT vote FROM votes WHERE answer_id=? AND member=?", (answer_id, member)
            ).fetchone()
            db.execute(
                "INSERT INTO votes (answer_id, member, vote, voted_at) VALUES (?,?,?,?) "
                "ON CONFLICT(answer_id, member) DO UPDATE SET vote=excluded.vote, "
                "voted_at=excluded.voted_at",
                (answer_id, member, vote, now_text()),
            )
        return VoteOutcome(None if row is None else row[0], vote)

    def channels(self, guild_id: int) -> set[int]:
        """The channels of one server that public questions were asked in (for a caller to
        keep those its viewer can read)."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT DISTINCT channel_id FROM answers WHERE guild_id=? AND {_LISTABLE} "
                "AND channel_id IS NOT NULL",
                (guild_id,),
            ).fetchall()
        return {row[0] for row in rows}

    def summary(
        self, guild_id: int, readable: Collection[int], recent: int = 3, frequent: int = 5
    ) -> FeedbackSummary:
        """One server's totals, and the recent 👎 answers and most frequent declines among its
        public questions asked in the `readable` channels (those the viewer can read)."""
        where, args = "guild_id=?", (guild_id,)
        listed = f"{where} AND {_LISTABLE} AND channel_id IN (SELECT value FROM json_each(?))"
        listed_args = (guild_id, json.dumps(sorted(readable)))
        with self._connect() as db:
            answers, declines = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(abstained), 0) FROM answers WHERE {where}", args
            ).fetchone()
            ups, downs = db.execute(
                "SELECT COALESCE(SUM(vote=1), 0), COALESCE(SUM(vote=-1), 0) FROM votes "
                f"JOIN answers USING (answer_id) WHERE {where}",
                args,
            ).fetchone()
            frequent_rows = db.execute(  # bare columns come from the latest row (SQLite max())
                "SELECT question, COUNT(*) AS n, decline, reason, MAX(answer_id) AS latest "
                f"FROM answers WHERE {listed} AND abstained=1 GROUP BY question_key "
                "ORDER BY n DESC, latest DESC LIMIT ?",
                (*listed_args, frequent),
            ).fetchall()
            declined = db.execute(  # counted below: an old row names its decline in words
                f"SELECT decline, reason FROM answers WHERE {where} AND abstained=1", args
            ).fetchall()
            downs_rows = self._voted_down(db, listed, listed_args, recent)
        counts = Counter(stored_decline(decline, reason) for decline, reason in declined)
        frequent_declines = tuple(
            FrequentDecline(question, n, stored_decline(decline, reason))
            for question, n, decline, reason, _ in frequent_rows
        )
        return FeedbackSummary(
            answers, declines, ups, downs, tuple(downs_rows), frequent_declines,
            tuple(counts.most_common()),
        )  # fmt: skip

    def declined_since(
        self, since: str, guild_id: int | None = None, readable: Collection[int] | None = None
    ) -> list[AskedQuestion]:
        """The public questions declined at or after `since` (an ISO time), oldest first:
        of one server in its `readable` channels, or with `guild_id` None of every server
        in every channel (the command line's view)."""
        where, args = f"abstained=1 AND {_LISTABLE} AND asked_at >= ?", [since]
        if guild_id is not None:
            where += " AND guild_id=? AND channel_id IN (SELECT value FROM json_each(?))"
            args += [guild_id, json.dumps(sorted(readable or ()))]
        with self._connect() as db:
            rows = db.execute(
                "SELECT answer_id, question, member, asked_at, decline, reason FROM answers "
                f"WHERE {where} ORDER BY answer_id",
                args,
            ).fetchall()
        return [_asked(row) for row in rows]

    def asked(self, answer_id: int) -> AskedQuestion | None:
        """One logged question with its asker (a salted hash), for the button under its
        decline; None when the log has no such answer."""
        with self._connect() as db:
            row = db.execute(
                "SELECT answer_id, question, member, asked_at, decline, reason FROM answers "
                "WHERE answer_id=?",
                (answer_id,),
            ).fetchone()
        return None if row is None else _asked(row)

    def voted_down(
        self, limit: int | None = None, *, include_private: bool = False
    ) -> list[LoggedAnswer]:
        """Answers with at least one 👎 and no more 👍 than 👎, newest first (every server);
        private ones only when `include_private`."""
        with self._connect() as db:
            return self._voted_down(db, "1" if include_private else _LISTABLE, (), limit)

    def declined(self, *, include_private: bool = False) -> list[LoggedAnswer]:
        """Every declined question, newest first (every server); private ones only when
        `include_private`."""
        where = "1" if include_private else _LISTABLE
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_ANSWER_COLUMNS}, 0, 0 FROM answers WHERE abstained=1 AND {where} "
                "ORDER BY answer_id DESC"
            ).fetchall()
        return [_logged(row) for row in rows]

    @staticmethod
    def _voted_down(
        db: sqlite3.Connection, where: str, args: tuple, limit: int | None
    ) -> list[LoggedAnswer]:
        rows = db.execute(
            f"SELECT {_ANSWER_COLUMNS}, SUM(v.vote=1) AS ups, SUM(v.vote=-1) AS downs "
            f"FROM answers JOIN votes v USING (answer_id) WHERE {where} "
            "GROUP BY answer_id HAVING downs > 0 AND downs >= ups "
            "ORDER BY MAX(v.voted_at) DESC, answer_id DESC LIMIT ?",
            (*args, -1 if limit is None else limit),
        ).fetchall()
        return [_logged(row) for row in rows]


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a log from an earlier version up to the current columns, in place."""
    present = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            try:
                db.execute(f"ALTER TABLE answers ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as error:  # another process added it just now
                if "duplicate column" not in str(error):
                    raise


def _asked(row: tuple) -> AskedQuestion:
    """A row of (answer_id, question, member, asked_at, decline, reason)."""
    answer_id, question, member, asked_at, decline, reason = row
    asker = member or f"answer-{answer_id}"  # logged before askers were: one of its own
    return AskedQuestion(question, asker, asked_at, stored_decline(decline, reason))


_ANSWER_COLUMNS = "answer_id, asked_at, question, answer, abstained, decline, reason, quotes"


def _logged(row: tuple) -> LoggedAnswer:
    answer_id, asked_at, question, answer, abstained, decline, reason, quotes, ups, downs = row
    logged_quotes = tuple(LoggedQuote(**quote) for quote in json.loads(quotes))
    return LoggedAnswer(
        answer_id, asked_at, question, answer, bool(abstained),
        stored_decline(decline, reason), logged_quotes, ups, downs,
    )  # fmt: skip
