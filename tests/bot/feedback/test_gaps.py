"""/gaps' grouping and text over synthetic questions, and its reads of a real feedback log."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.answering.engine import Answer
from bot.answering.outcomes import Decline
from bot.feedback.gaps import NO_GAPS, format_gaps, group_gaps, same_gap, since
from bot.feedback.log import AskedQuestion, FeedbackLog
from bot.frontends.cli import main
from bot.frontends.discord.formatting import escape_markdown

GUILD, CHANNEL, STAFF = 111, 333, 444
ALICE, BOB, CAROL = 1001, 1002, 1003
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def asked(question: str, asker: str, days_ago: float = 1, decline=Decline.NOTHING_RELEVANT):
    when = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return AskedQuestion(question, asker, when, decline)


def declined(question: str, decline: Decline = Decline.NOTHING_RELEVANT) -> Answer:
    return Answer(question, "I couldn't find that in the articles.", (), True, decline=decline)


def test_rewordings_of_one_question_are_one_gap_and_other_questions_stay_apart() -> None:
    gaps = group_gaps([
        asked("When does the pool open?", "a", 5),
        asked("when does the POOL open", "b", 4),
        asked("What time does the swimming pool open?", "c", 3),
        asked("When does the pool close?", "a", 2),
        asked("Where can I park my bike near the market?", "b", 1),
    ])  # fmt: skip
    assert [(g.askers, g.times) for g in gaps] == [(3, 3), (1, 1), (1, 1)]
    assert gaps[0].example in {"When does the pool open?", "when does the POOL open"}
    assert gaps[1].example == "Where can I park my bike near the market?", "latest first"
    assert gaps[2].example == "When does the pool close?"


def test_members_are_counted_once_however_often_they_ask() -> None:
    gaps = group_gaps([asked("Is the ferry running on Sunday?", "a", d) for d in (3, 2, 1)])
    assert [(g.askers, g.times) for g in gaps] == [(1, 3)]
    assert gaps[0].last_asked.startswith("2026-05-31")


def test_the_most_asked_wording_is_the_example() -> None:
    gaps = group_gaps([
        asked("Is the ferry running on Sunday?", "a", 3),
        asked("is the ferry running on sunday", "b", 2),
        asked("Ferry running Sunday??", "c", 1),
    ])  # fmt: skip
    assert len(gaps) == 1 and gaps[0].example == "is the ferry running on sunday"


def test_declines_that_say_nothing_about_coverage_are_no_gaps() -> None:
    gaps = group_gaps([
        asked("Who runs the bakery on Mill Lane?", "a", decline=Decline.SLOW),
        asked("Who runs the bakery on Mill Lane?", "b", decline=Decline.ORDERED_BY_ARTICLE),
        asked("Who runs the bakery on Mill Lane?", "c", decline=Decline.UNSURE),
    ])  # fmt: skip
    assert [(g.askers, g.times) for g in gaps] == [(1, 1)]


def test_questions_of_stop_words_only_match_only_their_own_wording() -> None:
    assert same_gap("What is it?", "what is it")
    assert not same_gap("What is it?", "Who is he?")
    assert not same_gap("What is it?", "What is the pool?")


def test_the_text_escapes_markdown_and_fits_the_limit() -> None:
    many = [  # thirty questions sharing no content word
        asked(f"Why is **{n}street** shut _{n}day_ {f'{n}word ' * 30}?", str(n)) for n in range(30)
    ]
    gaps = group_gaps(many)
    text = format_gaps(gaps, 28, escape_markdown, limit=2000)
    assert len(text) <= 2000 and "**0street" not in text and "\\*\\*0street" in text
    assert text.splitlines()[-1].startswith("… and ") and "more" in text
    assert format_gaps([], 7) == NO_GAPS.format(days="7")


@pytest.fixture
def log(tmp_path: Path) -> FeedbackLog:
    return FeedbackLog(tmp_path / "index")


def test_the_log_lists_public_declines_in_readable_channels_since_a_day(log) -> None:
    recent = NOW.isoformat(timespec="seconds")
    old = (NOW - timedelta(days=40)).isoformat(timespec="seconds")
    log.record(declined("When does the pool open?"), GUILD, CHANNEL, private=False,
               asked_at=recent, member_id=ALICE)  # fmt: skip
    log.record(declined("when does the pool open"), GUILD, CHANNEL, private=False,
               asked_at=recent, member_id=BOB)  # fmt: skip
    log.record(declined("When does the pool open?"), GUILD, CHANNEL, private=True,
               asked_at=recent, member_id=CAROL)  # fmt: skip
    log.record(declined("Who cleans the staff kitchen?"), GUILD, STAFF, private=False,
               asked_at=recent, member_id=CAROL)  # fmt: skip
    log.record(declined("Was the pool open last month?"), GUILD, CHANNEL, private=False,
               asked_at=old, member_id=CAROL)  # fmt: skip
    cutoff = since(28, NOW)
    seen = log.declined_since(cutoff, GUILD, {CHANNEL})
    assert [q.question for q in seen] == ["When does the pool open?", "when does the pool open"]
    assert len({q.asker for q in seen}) == 2 and str(ALICE) not in seen[0].asker
    everywhere = log.declined_since(cutoff)  # the command line: every channel, never private
    assert {q.question for q in everywhere} == {
        "When does the pool open?", "when does the pool open", "Who cleans the staff kitchen?"
    }  # fmt: skip


def test_a_log_from_before_askers_were_kept_counts_each_old_question_once(log) -> None:
    log.path.parent.mkdir(parents=True)
    with sqlite3.connect(log.path) as db:  # the columns of a log from before `member`
        db.execute(
            "CREATE TABLE answers (answer_id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at TEXT "
            "NOT NULL, guild_id INTEGER, question TEXT NOT NULL, question_key TEXT NOT NULL, "
            "answer TEXT NOT NULL, abstained INTEGER NOT NULL, reason TEXT NOT NULL, decline "
            "TEXT NOT NULL, quotes TEXT NOT NULL, confidence REAL, channel_id INTEGER, "
            "private INTEGER)"
        )
        for _ in range(2):
            db.execute(
                "INSERT INTO answers (asked_at, guild_id, question, question_key, answer, "
                "abstained, reason, decline, quotes, channel_id, private) VALUES "
                "(?, ?, 'Is the ferry late?', 'is the ferry late', '', 1, '', "
                "'nothing_relevant', '[]', ?, 0)",
                (NOW.isoformat(timespec="seconds"), GUILD, CHANNEL),
            )
    [gap] = group_gaps(log.declined_since(since(28, NOW), GUILD, {CHANNEL}))
    assert (gap.askers, gap.times) == (2, 2)


def test_the_command_line_prints_the_gaps(log, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for member in (ALICE, BOB):
        log.record(declined("Where is the nearest *charging* point?"), GUILD, CHANNEL,
                   private=False, member_id=member)  # fmt: skip
    assert main(["gaps", "--index", str(log.folder), "--days", "7"]) == 0
    out = capsys.readouterr().out
    assert "last 7 days" in out
    assert "• 2 members (2×) · Where is the nearest *charging* point?" in out, "no escapes"
    assert main(["gaps", "--index", str(tmp_path / "empty"), "--json"]) == 0
    assert capsys.readouterr().out == ""
