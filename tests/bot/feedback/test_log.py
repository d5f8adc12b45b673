"""The feedback log (real SQLite in a temp folder), `/feedback`'s text and the QA export."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.answering import engine as answering
from bot.answering.engine import Answer, Quote
from bot.answering.outcomes import Decline
from bot.errors import BotError
from bot.evaluation.scoring import read_qa
from bot.feedback.log import DOWN, SALT_FILE, UP, FeedbackLog, stored_decline
from bot.frontends.cli import main
from bot.frontends.feedback_report import (
    DECLINE_LABELS,
    NOTHING_YET,
    decline_label,
    format_feedback,
)
from tests.conftest import TEST_SYNC, write_town_corpus

GUILD, OTHER_GUILD = 111, 222
CHANNEL, STAFF_CHANNEL = 333, 444
ALICE, BOB = 987654321012345678, 123456789098765432
QUOTE = Quote(
    "The bridge will cost £4.2m and is due to open in 2026, council leader Mara Quist said.",
    "glenfield_bridge.txt", "Glenfield backs riverside walkway", "glenfield_bridge.txt", 74, 160,
)  # fmt: skip


def shown(question: str, text: str = "Mara Quist") -> Answer:
    return Answer(question, text, (QUOTE,), False, confidence=0.9)


def declined(
    question: str, decline: Decline = Decline.NOTHING_RELEVANT, detail: str = ""
) -> Answer:
    return Answer(
        question, "I couldn't find that in the articles.", (), True, decline=decline, detail=detail
    )


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI commands here read no developer .env."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> FeedbackLog:
    return FeedbackLog(tmp_path / "index")


def test_votes_are_one_per_member_and_changeable(log: FeedbackLog) -> None:
    answer_id = log.record(shown("Who leads the council?"), GUILD, CHANNEL, private=False)
    first = log.vote(answer_id, ALICE, DOWN)
    assert first is not None and first.previous is None and not first.changed
    again = log.vote(answer_id, ALICE, DOWN)
    assert again is not None and again.previous == DOWN and not again.changed
    changed = log.vote(answer_id, ALICE, UP)
    assert changed is not None and changed.changed
    log.vote(answer_id, BOB, DOWN)
    summary = log.summary(GUILD, {CHANNEL})
    assert (summary.ups, summary.downs, summary.answers, summary.declines) == (1, 1, 1, 0)
    assert log.vote(answer_id + 1, ALICE, UP) is None, "no such answer: nothing recorded"


def test_member_ids_are_stored_only_salted_and_hashed(log: FeedbackLog) -> None:
    answer_id = log.record(shown("Who leads the council?"), GUILD, CHANNEL, private=False)
    log.vote(answer_id, ALICE, DOWN)
    salt_file = log.folder / SALT_FILE
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    expected = hashlib.sha256(salt_file.read_text().encode() + str(ALICE).encode()).hexdigest()
    with sqlite3.connect(log.path) as db:
        assert db.execute("SELECT member FROM votes").fetchall() == [(expected,)]
    stored = b"".join(p.read_bytes() for p in log.folder.iterdir() if p.is_file())
    assert str(ALICE).encode() not in stored and ALICE.to_bytes(8, "big") not in stored
    assert expected != hashlib.sha256(str(ALICE).encode()).hexdigest(), "salted, not bare"


def test_a_new_log_over_the_same_folder_knows_earlier_votes(log: FeedbackLog) -> None:
    answer_id = log.record(shown("Who leads the council?"), GUILD, CHANNEL, private=False)
    log.vote(answer_id, ALICE, DOWN)
    after_restart = FeedbackLog(log.folder)
    outcome = after_restart.vote(answer_id, ALICE, UP)
    assert outcome is not None and outcome.changed, "the same member, recognised by the salt"
    assert after_restart.summary(GUILD, {CHANNEL}).downs == 0


def test_declines_are_logged_with_their_reason_and_grouped(log: FeedbackLog) -> None:
    for question in (
        "When does the pool open?",
        "when does the POOL open",
        "When does the pool open",
    ):
        log.record(declined(question), GUILD, CHANNEL, private=False)
    unsure = declined("Who won?", Decline.UNSURE, "confidence 0.41 below 0.80")
    log.record(unsure, GUILD, CHANNEL, private=False)
    log.record(
        declined("Who designed it?", Decline.SLOW, "no answer began"),
        OTHER_GUILD,
        CHANNEL,
        private=False,
    )
    summary = log.summary(GUILD, {CHANNEL})
    assert summary.declines == 4 and summary.answers == 4
    assert summary.frequent_declines[0].count == 3
    assert summary.frequent_declines[0].decline is Decline.NOTHING_RELEVANT
    assert dict(summary.decline_counts) == {
        Decline.NOTHING_RELEVANT: 3,
        Decline.UNSURE: 1,
    }, "another server's questions are not shown"
    with sqlite3.connect(log.path) as db:
        stored = db.execute("SELECT decline, reason FROM answers WHERE question='Who won?'")
        assert stored.fetchall() == [("unsure", "unsure: confidence 0.41 below 0.80")]


def test_each_decline_gets_a_label_a_moderator_can_act_on() -> None:
    assert set(DECLINE_LABELS) == set(Decline), "every decline is named in the report"
    assert decline_label(Decline.UNSURE) == "low confidence"
    assert decline_label(Decline.SLOW) == "model too slow"
    assert decline_label(None) == "declined"


def test_the_report_counts_by_decline_whatever_the_message_says(
    log: FeedbackLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewording what members see changes no count: the decline decides, not the text."""
    monkeypatch.setattr(answering, "UNSURE", "Hmm, maybe this passage helps:")
    reworded = Answer("Who won?", answering.UNSURE, (), True, decline=Decline.UNSURE,
                      detail="confidence 0.41 below 0.80")  # fmt: skip
    log.record(reworded, GUILD, CHANNEL, private=False)
    log.record(declined("Where is the pool?", Decline.NO_SENTENCES), GUILD, CHANNEL, private=False)
    log.record(declined("Where is the pier?"), GUILD, CHANNEL, private=False)
    summary = log.summary(GUILD, {CHANNEL})
    assert dict(summary.decline_counts)[Decline.UNSURE] == 1
    text = format_feedback(summary)
    assert "**Why declined:** nothing relevant in the articles 2 · low confidence 1" in text


# (decline column, reason column) as logs before declines were values stored them
_LEGACY_ROWS = [
    ("nothing relevant in the articles", "nothing relevant found", Decline.NOTHING_RELEVANT),
    ("nothing relevant in the articles", "no sentences to quote", Decline.NO_SENTENCES),
    ("low confidence", "confidence 0.30 below 0.80", Decline.UNSURE),
    ("model too slow", "fallback: no answer began within the 20 s budget", Decline.SLOW),
    ("model failed", "fallback: the model failed: boom", Decline.FAILED),
    ("refused: an article gives the model orders",
     "answer is what an article sentence orders the model to say: x",
     Decline.ORDERED_BY_ARTICLE),
    ("the model found no answer", "model found no answer", Decline.MODEL_NOT_FOUND),
    ("answer not in the quoted text", "answer not in the sentences",
     Decline.ANSWER_NOT_IN_SENTENCES),
    ("answer not in the quoted text", "no quote verified", Decline.NO_QUOTE_VERIFIED),
    ("empty question", "empty question", Decline.EMPTY_QUESTION),
    ("declined", "", None),
    ("", "", None),
]  # fmt: skip


@pytest.mark.parametrize(("decline", "reason", "expected"), _LEGACY_ROWS)
def test_a_row_logged_before_declines_were_values_is_read_as_one(
    decline: str, reason: str, expected: Decline | None
) -> None:
    assert stored_decline(decline, reason) is expected


def test_a_decline_stored_as_its_value_reads_back_as_it() -> None:
    for decline in Decline:
        assert stored_decline(decline.value, "whatever the reason said") is decline


def test_feedback_text_shows_totals_quotes_and_declines_within_discords_limit(
    log: FeedbackLog,
) -> None:
    assert format_feedback(log.summary(GUILD, {CHANNEL})) == NOTHING_YET
    for n in range(8):
        answer_id = log.record(
            shown(f"Question {n} " + "very long words " * 40, "x " * 300),
            GUILD,
            CHANNEL,
            private=False,
        )
        log.vote(answer_id, ALICE, DOWN)
        log.record(declined(f"Missing topic {n} " + "padding " * 40), GUILD, CHANNEL, private=False)
    log.record(declined("Where is the *harbour* office?"), GUILD, CHANNEL, private=False)
    log.record(declined("where is the harbour office"), GUILD, CHANNEL, private=False)
    text = format_feedback(log.summary(GUILD, {CHANNEL}))
    assert len(text) <= 2000
    assert "👍 0 · 👎 8 · 18 questions · 10 declined" in text
    assert "Recent 👎 answers" in text and "Glenfield backs riverside walkway" in text
    assert "2× where is the harbour office — nothing relevant in the articles" in text
    assert "feedback export" in text


def _export(index: Path, file: Path, *flags: str) -> int:
    return main(["feedback", "export", str(file), "--index", str(index), *flags])


def test_export_writes_unreviewed_qa_lines_and_keeps_a_moderators_edits(
    log: FeedbackLog, tmp_path: Path, capsys
) -> None:
    wrong = log.record(
        shown("Who leads the council in Glenfield?", "Ivo Brandt"), GUILD, CHANNEL, private=False
    )
    liked = log.record(shown("What does the bridge cost?"), GUILD, CHANNEL, private=False)
    log.vote(wrong, ALICE, DOWN)
    log.vote(liked, ALICE, UP)
    log.record(declined("When does the pool open?"), GUILD, CHANNEL, private=False)
    qa = tmp_path / "feedback.jsonl"
    assert _export(log.folder, qa) == 0
    lines = [json.loads(line) for line in qa.read_text().splitlines()]
    assert [line["question"] for line in lines] == ["Who leads the council in Glenfield?"]
    assert lines[0]["answers"] == [] and lines[0]["type"] == "unreviewed"
    assert lines[0]["doc"] == "glenfield_bridge.txt" and "Ivo Brandt" in lines[0]["note"]
    assert "Added 1 questions" in capsys.readouterr().out
    with pytest.raises(BotError, match="none of its 1 questions has been reviewed"):
        read_qa(qa)

    lines[0]["answers"] = ["Mara Quist"]  # the moderator fills it in
    qa.write_text(json.dumps(lines[0]) + "\n")
    assert _export(log.folder, qa, "--declines") == 0
    qa_file = read_qa(qa)
    assert [(i.question, i.answers, i.answerable) for i in qa_file.items] == [
        ("Who leads the council in Glenfield?", ("Mara Quist",), True)
    ], "the filled line kept, not duplicated"
    assert len(qa_file.unfilled) == 1 and "unreviewed" in (qa_file.unfilled_note() or "")
    assert "When does the pool open?" in qa.read_text()
    assert "declined: nothing relevant in the articles" in qa.read_text(), "labelled for people"


def test_export_without_a_log_says_where_it_looked(tmp_path: Path, capsys) -> None:
    assert _export(tmp_path / "index", tmp_path / "out.jsonl") == 2
    assert "No feedback log" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_export_refuses_to_touch_a_file_it_cannot_read(log: FeedbackLog, tmp_path: Path, capsys):
    log.vote(log.record(shown("Who leads?"), GUILD, CHANNEL, private=False), ALICE, DOWN)
    qa = tmp_path / "feedback.jsonl"
    qa.write_text('{"question": "Who?", "answers": ["A"], "type": "answerable"}\n{oops\n')
    before = qa.read_bytes()
    assert _export(log.folder, qa) == 2
    assert "feedback.jsonl:2" in capsys.readouterr().err and qa.read_bytes() == before


@pytest.mark.slow
def test_eval_measures_the_filled_questions_and_names_the_rest(
    log: FeedbackLog, tmp_path: Path, embedder, capsys
) -> None:
    from retrieval.store import IndexStore
    from retrieval.sync import sync_corpus

    corpus = write_town_corpus(tmp_path / "corpus")
    log.vote(
        log.record(
            shown("Who leads the council in Glenfield?", "Ivo Brandt"),
            GUILD,
            CHANNEL,
            private=False,
        ),
        BOB,
        DOWN,
    )
    log.vote(
        log.record(shown("Who paid for the library works?", "Owen"), GUILD, CHANNEL, private=False),
        BOB,
        DOWN,
    )
    with IndexStore(log.folder) as store:  # a corpus sync into the same folder keeps the log
        sync_corpus(corpus, store, embedder, **TEST_SYNC)
    assert log.summary(GUILD, {CHANNEL}).downs == 2
    qa = tmp_path / "feedback.jsonl"
    assert _export(log.folder, qa) == 0
    capsys.readouterr()
    assert main(["eval", str(qa), "--index", str(log.folder)]) == 2
    assert "has been reviewed yet" in capsys.readouterr().err

    lines = [json.loads(line) for line in qa.read_text().splitlines()]
    filled = next(line for line in lines if "Glenfield" in line["question"])
    filled["answers"] = ["Mara Quist"]
    qa.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["eval", str(qa), "--index", str(log.folder), "--mode", "hybrid"]) == 0
    out, err = capsys.readouterr()
    assert f"{qa}: 1 questions" in out and "1 unreviewed questions not measured yet" in err


def test_reports_list_only_public_questions_from_channels_the_viewer_reads(
    log: FeedbackLog,
) -> None:
    """Counts cover the server; listed questions never a private one or an unreadable channel's."""
    log.record(declined("Where is the pool?"), GUILD, CHANNEL, private=False)
    log.record(declined("What is my diagnosis?"), GUILD, CHANNEL, private=True)
    log.record(declined("Who is being dismissed?"), GUILD, STAFF_CHANNEL, private=False)
    log.record(declined("Where was this asked?"), GUILD, None, private=False)
    secret = log.record(shown("Is my landlord allowed to?"), GUILD, CHANNEL, private=True)
    log.vote(secret, ALICE, DOWN)
    staff = log.record(shown("Who leads the staff?"), GUILD, STAFF_CHANNEL, private=False)
    log.vote(staff, ALICE, DOWN)
    assert log.channels(GUILD) == {CHANNEL, STAFF_CHANNEL}, "only public questions' channels"
    summary = log.summary(GUILD, {CHANNEL})
    assert (summary.answers, summary.declines, summary.downs) == (6, 4, 2)
    assert [d.question for d in summary.frequent_declines] == ["Where is the pool?"]
    assert summary.recent_downs == ()
    text = format_feedback(summary)
    for hidden in ("diagnosis", "dismissed", "this asked", "landlord", "staff"):
        assert hidden not in text
    both = log.summary(GUILD, {CHANNEL, STAFF_CHANNEL})
    assert [d.question for d in both.recent_downs] == ["Who leads the staff?"]


def test_export_leaves_private_questions_out_unless_asked_to(
    log: FeedbackLog, tmp_path: Path, capsys
) -> None:
    log.record(declined("Where is the pool?"), GUILD, CHANNEL, private=False)
    log.record(declined("What is my diagnosis?"), GUILD, CHANNEL, private=True)
    log.record(declined("Asked in a direct message?"), None, None, private=True)
    log.vote(
        log.record(shown("Is my landlord allowed to?"), GUILD, CHANNEL, private=True), BOB, DOWN
    )
    qa = tmp_path / "feedback.jsonl"
    assert _export(log.folder, qa, "--declines") == 0
    assert [json.loads(line)["question"] for line in qa.read_text().splitlines()] == [
        "Where is the pool?"
    ]
    assert "3 private questions left out (--include-private adds them)" in capsys.readouterr().out
    assert _export(log.folder, qa, "--declines", "--include-private") == 0
    questions = {json.loads(line)["question"] for line in qa.read_text().splitlines()}
    assert questions == {
        "Where is the pool?",
        "What is my diagnosis?",
        "Asked in a direct message?",
        "Is my landlord allowed to?",
    }


_SCHEMA_BEFORE_PRIVACY = """
CREATE TABLE answers (
    answer_id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at TEXT NOT NULL, guild_id INTEGER,
    question TEXT NOT NULL, question_key TEXT NOT NULL, answer TEXT NOT NULL,
    abstained INTEGER NOT NULL, reason TEXT NOT NULL, decline TEXT NOT NULL,
    quotes TEXT NOT NULL, confidence REAL
);
CREATE INDEX answers_by_guild ON answers(guild_id, abstained);
CREATE TABLE votes (
    answer_id INTEGER NOT NULL REFERENCES answers(answer_id), member TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (1, -1)), voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, member)
);
INSERT INTO answers VALUES (1, '2026-01-02T03:04:05+00:00', 111, 'Old secret question?',
    'old secret question', 'I couldn''t find that.', 1, 'nothing relevant found',
    'nothing relevant in the articles', '[]', NULL);
INSERT INTO answers VALUES (2, '2026-01-02T03:05:05+00:00', 111, 'Old unsure question?',
    'old unsure question', 'I''m not sure.', 1, 'confidence 0.41 below 0.80',
    'low confidence', '[]', NULL);
INSERT INTO votes VALUES (1, 'someone', -1, '2026-01-02T03:04:06+00:00');
"""


def test_a_log_from_before_privacy_was_recorded_keeps_working(
    log: FeedbackLog, tmp_path: Path, capsys
) -> None:
    """Its rows may have been private and name no channel: counted, never listed or exported
    unless asked."""
    log.folder.mkdir(parents=True)
    with sqlite3.connect(log.path) as db:
        db.executescript(_SCHEMA_BEFORE_PRIVACY)
    log.record(declined("Where is the pool?"), GUILD, CHANNEL, private=False)
    summary = log.summary(GUILD, {CHANNEL})
    assert (summary.answers, summary.declines) == (3, 3)
    assert [d.question for d in summary.frequent_declines] == ["Where is the pool?"]
    assert dict(summary.decline_counts) == {Decline.NOTHING_RELEVANT: 2, Decline.UNSURE: 1}
    old = log.declined(include_private=True)
    relevant, unsure = Decline.NOTHING_RELEVANT, Decline.UNSURE
    assert [d.decline for d in old] == [relevant, unsure, relevant], "newest first"
    assert FeedbackLog(log.folder).summary(GUILD, {CHANNEL}).answers == 3, "opened again"
    qa = tmp_path / "feedback.jsonl"
    assert _export(log.folder, qa, "--declines") == 0
    assert "Old secret" not in qa.read_text() and "Where is the pool?" in qa.read_text()
    assert _export(log.folder, qa, "--declines", "--include-private") == 0
    assert "Old secret question?" in qa.read_text()
