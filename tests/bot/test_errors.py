"""Errors carry what happened; each front end words the step that fixes it.

No models: the errors are built as the sync raises them, and rendered as each front end does.
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import BotError, explained
from bot.frontends import cli, console
from bot.frontends.discord.cogs import errors as discord_errors
from retrieval.errors import IndexBusy, IndexInUse, KnownError, SyncRefused, SyncRisk

OTHER_FOLDER = SyncRefused(SyncRisk.OTHER_FOLDER, Path("/idx"), "/news", "/tmp/empty")
EMPTIED = SyncRefused(SyncRisk.MASS_REMOVAL, Path("/idx"), None, "/news", removing=3, indexed=4)


def test_a_refused_sync_says_what_it_would_do_from_its_fields() -> None:
    assert "built from the folder /news, but this sync reads /tmp/empty" in str(OTHER_FOLDER)
    assert "remove 3 of the 4 articles" in str(EMPTIED)
    assert "a folder it did not record" in str(EMPTIED)


def test_each_front_end_says_how_to_force_a_refused_sync_in_its_own_words() -> None:
    told = {
        "cli": explained(OTHER_FOLDER, cli.HINTS),
        "console": explained(OTHER_FOLDER, console.HINTS),
        "discord": discord_errors.error_text(OTHER_FOLDER, "in a test"),
    }
    for text in told.values():
        assert text.startswith(str(OTHER_FOLDER))  # the same facts everywhere
    assert "python -m bot ingest --force" in told["cli"] and "/reload" not in told["cli"]
    assert "/reload --force" in told["console"] and "force:True" not in told["console"]
    assert "/reload force:True" in told["discord"] and "--force" not in told["discord"]


def test_retrieval_messages_name_no_front_end_command() -> None:
    for error in (OTHER_FOLDER, EMPTIED, IndexInUse(Path("/idx"), "process 7")):
        message = str(error)
        assert "/reload" not in message and "python -m bot" not in message, message


def test_an_error_without_a_hint_is_shown_as_it_is() -> None:
    busy = IndexBusy("Another reload of the index in /idx is running (process 7).")
    assert explained(busy, cli.HINTS) == str(busy)
    assert discord_errors.error_text(BotError("No such thing."), "in a test") == "No such thing."


def test_the_command_line_tells_another_process_holding_the_index_to_reload_there() -> None:
    text = explained(IndexInUse(Path("/idx"), "process 7"), cli.HINTS)
    assert "open in another process (process 7)" in text and "/reload" in text


def test_the_first_hint_that_fits_wins() -> None:
    hints = {SyncRefused: "forced", KnownError: "anything"}
    assert explained(EMPTIED, hints).endswith("forced")
    assert explained(BotError("x."), hints) == "x. anything"


def test_an_unknown_error_in_discord_is_the_one_apology_with_its_traceback_logged(caplog) -> None:
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as error:
        text = discord_errors.error_text(error, "in /status")
    assert text == discord_errors.APOLOGY and "disk on fire" not in text
    [record] = [r for r in caplog.records if r.name == "bot.discord"]
    assert "in /status" in record.getMessage() and record.exc_info is not None
