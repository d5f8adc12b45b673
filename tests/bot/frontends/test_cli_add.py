"""`python -m bot add PATH-or-URL` end to end on a temp corpus, and the console's /add."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.frontends.cli import main
from bot.frontends.console import handle_line
from bot.library.managed import added_folder
from retrieval.loading import split_front_matter
from retrieval.store import IndexStore
from tests.bot.frontends.test_console import console_engine  # noqa: F401 - a fixture
from tests.conftest import write_town_corpus
from tests.web_pages import ARTICLE_TITLE, web_server

pytestmark = pytest.mark.slow
FERRY = (
    "# Ferry timetable changes\n\nThe Dunmore ferry will leave at 7:15 from Monday, the "
    "harbour office said. The last crossing of the day moves to 21:40.\n"
)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A town corpus and an index folder, as --corpus/--index; no .env or environment."""
    monkeypatch.chdir(tmp_path)
    for key in ("CORPUS_DIR", "INDEX_DIR", "FETCH_ALLOW_PRIVATE", "MAX_ARTICLE_BYTES"):
        monkeypatch.delenv(key, raising=False)
    corpus = write_town_corpus(tmp_path / "corpus")
    return ["--corpus", str(corpus), "--index", str(tmp_path / "index")]


def test_add_copies_a_local_file_in_indexes_it_and_a_second_time_exits_1(
    folders: list[str], tmp_path: Path, capsys
) -> None:
    original = tmp_path / "inbox" / "ferry.md"
    original.parent.mkdir()
    original.write_text(FERRY)
    assert main(["add", str(original), *folders, "--by", "cron"]) == 0
    out = capsys.readouterr().out
    assert "Added “Ferry timetable changes” as added/ferry-timetable-changes.md" in out
    assert "5 added, 0 updated, 0 removed" in out  # the index did not exist yet: built now
    copy = added_folder(tmp_path / "corpus") / "ferry-timetable-changes.md"
    assert split_front_matter(copy.read_text())[0]["added_by"] == "cron"

    assert main(["add", str(original), *folders]) == 1
    assert "already have it: Ferry timetable changes" in capsys.readouterr().out

    original.write_text("# Something else\n\nNothing about ferries at all, said the office.\n")
    assert main(["ingest", *folders, "--quiet"]) == 0  # only the copy in the corpus is read
    assert "0 added, 0 updated, 0 removed, 5 unchanged" in capsys.readouterr().out


def test_add_fetches_a_page_only_where_allowed(
    folders: list[str], tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    with web_server() as site:
        local = site.replace("127.0.0.1", "localhost")
        assert main(["add", f"{local}/article", *folders]) == 2
        err = capsys.readouterr().err
        assert "was not added: 'localhost' is a loopback address" in err
        monkeypatch.setenv("FETCH_ALLOW_PRIVATE", "True")
        assert main(["add", f"{local}/article", *folders]) == 0
    assert f"Added “{ARTICLE_TITLE}”" in capsys.readouterr().out
    with IndexStore(tmp_path / "index") as store:
        assert store.article("added/harbour-wall-repaired-before-winter-storms.md") is not None


def test_add_refusals_exit_2_with_the_reason_and_write_nothing(
    folders: list[str], tmp_path: Path, capsys
) -> None:
    assert main(["add", str(tmp_path / "missing.md"), *folders]) == 2
    assert "neither a file nor an http(s) address" in capsys.readouterr().err
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n")
    assert main(["add", str(tmp_path / "photo.png"), *folders]) == 2
    assert "photo.png was not added: it is a '.png'" in capsys.readouterr().err
    assert not added_folder(tmp_path / "corpus").exists()


def test_the_console_adds_a_file_and_says_when_it_is_already_had(
    console_engine,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    engine, library, _ = console_engine
    original = tmp_path / "ferry.md"
    original.write_text(FERRY)
    out = io.StringIO()
    assert handle_line(f"/add {original}", engine, library, out)
    assert handle_line(f'/add "{original}"', engine, library, out)
    assert handle_line("/add", engine, library, out)
    text = out.getvalue()
    assert "Added “Ferry timetable changes” as added/ferry-timetable-changes.md" in text
    assert "already have it: Ferry timetable changes" in text and "Usage: /add" in text
    assert library.status().articles == 5
