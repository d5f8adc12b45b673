"""Finding, removing and restoring articles (bot.library.catalog) on a real index, and the hidden
list every sync honours; the console and CLI verbs on top of them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.frontends.cli import main
from bot.frontends.console import handle_line
from bot.library.catalog import AmbiguousTitle, ArticleNotFound, find, resolve
from bot.library.collection import Library
from bot.library.managed import added_folder
from bot.settings import Settings
from retrieval.errors import IndexUnavailable
from retrieval.hidden import HiddenArticle, hidden_path, load_hidden, save_hidden
from retrieval.search import Searcher
from retrieval.store import ArticleSummary, IndexStore
from tests.bot.conftest import scripted_engine
from tests.bot.frontends import test_cli
from tests.conftest import write_town_corpus
from tests.retrieval.reload_support import run_env

# As in test_cli: no developer .env or environment setting reaches the CLI runs here.
_isolated_env = test_cli._isolated_env
ADDED = "added/council-budget.md"
ADDED_TEXT = """---
title: Council budget passed
url: https://news.example.org/council-budget
added_by: mod (42)
added_at: 2026-11-20T10:00:00+00:00
---
The Glenfield council passed its budget on Thursday. Spending on parks rises by a tenth.
"""
FEED_LINES = [
    {"id": "ferry", "title": "Ferry timetable changes", "url": "https://x.example/ferry",
     "text": "The Dunmore ferry will sail every forty minutes from June."},
    {"id": "market", "title": "Night market opens", "url": "https://x.example/market",
     "text": "A night market opens on Pellham quay every Friday in summer."},
]  # fmt: skip


def write_catalog_corpus(folder: Path) -> Path:
    """The town articles (the operator's), one article added through Discord, and a .jsonl."""
    write_town_corpus(folder)
    added = added_folder(folder)
    added.mkdir()
    (folder / ADDED).write_text(ADDED_TEXT, encoding="utf-8")
    lines = "".join(json.dumps(line) + "\n" for line in FEED_LINES)
    (folder / "feed.jsonl").write_text(lines, encoding="utf-8")
    return folder


def _summary(article_id: str, title: str, path: str | None = None) -> ArticleSummary:
    return ArticleSummary(article_id, title, path or article_id, path or article_id)


TITLES = [
    _summary("a.txt", "Brookvale library reopens"),
    _summary("b.txt", "Library hours change"),
    _summary("news/c.md", "Café opens in Brookvale"),
]


def test_words_match_the_starts_of_title_or_path_words_case_and_accent_blind() -> None:
    assert [a.article_id for a in find(TITLES, "lib REOP")] == ["a.txt"]
    assert [a.article_id for a in find(TITLES, "cafe")] == ["news/c.md"]
    assert [a.article_id for a in find(TITLES, "news")] == ["news/c.md"]
    assert len(find(TITLES, "")) == 3 and find(TITLES, "rary") == []


def test_resolve_takes_a_path_an_exact_title_or_unique_words() -> None:
    assert resolve(TITLES, "b.txt").title == "Library hours change"
    assert resolve(TITLES, "brookvale LIBRARY reopens").article_id == "a.txt"
    assert resolve(TITLES, "hours").article_id == "b.txt"


def test_ambiguous_and_unknown_titles_say_what_to_type() -> None:
    with pytest.raises(AmbiguousTitle) as ambiguous:
        resolve(TITLES, "library")
    message = str(ambiguous.value)
    assert "matches 2 articles" in message and "the path" in message
    assert (
        "Brookvale library reopens (a.txt)" in message and "Library hours change (b.txt)" in message
    )
    with pytest.raises(ArticleNotFound, match="/articles"):
        resolve(TITLES, "harbour")


@pytest.fixture
def catalog(tmp_path: Path, embedder, sync_copy, index_dir: Path):
    corpus = write_catalog_corpus(tmp_path / "corpus")
    sync_copy(corpus)
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index_dir)
    with IndexStore(index_dir) as store:
        yield settings, store, corpus


def _found_in_search(store: IndexStore, embedder, question: str) -> set[str]:
    return {p.article_id for p in Searcher(store, embedder).search(question, k=10).passages}


@pytest.mark.slow
def test_removing_an_added_article_deletes_its_file_and_it_is_no_longer_found(
    catalog, embedder
) -> None:
    settings, store, corpus = catalog
    assert ADDED in _found_in_search(store, embedder, "council budget parks spending")
    change = Library(settings, store, embedder).remove("Council budget passed", "mod (42)")
    assert change.action == "deleted" and change.report.removed == [ADDED]
    assert not (corpus / ADDED).exists() and load_hidden(settings.index_dir) == []
    assert store.article(ADDED) is None
    assert ADDED not in _found_in_search(store, embedder, "council budget parks spending")


@pytest.mark.slow
def test_hiding_leaves_the_operators_file_and_survives_a_restart_and_ingest(
    catalog, embedder, capsys
) -> None:
    settings, store, corpus = catalog
    original = (corpus / "brookvale_library.txt").read_bytes()
    library = Library(settings, store, embedder)
    change = library.remove("brookvale library", "mod (42)")
    assert change.action == "hidden" and change.report.removed == ["brookvale_library.txt"]
    assert (corpus / "brookvale_library.txt").read_bytes() == original
    assert "brookvale_library.txt" not in _found_in_search(store, embedder, "Halvorsen Trust")
    assert library.status().hidden == ("1: Brookvale library reopens (brookvale_library.txt)")
    store.close()  # a restart: a new process syncs the same index
    with IndexStore(settings.index_dir) as again:
        report = Library(settings, again, embedder).reload()
        assert report.added == [] and again.article("brookvale_library.txt") is None
    assert main(["ingest", "--corpus", str(corpus), "--index", str(settings.index_dir)]) == 0
    assert "0 added, 0 updated, 0 removed" in capsys.readouterr().out
    assert [e.article_id for e in load_hidden(settings.index_dir)] == ["brookvale_library.txt"]


@pytest.mark.slow
def test_one_line_of_a_jsonl_is_hidden_alone(catalog, embedder) -> None:
    settings, store, corpus = catalog
    change = Library(settings, store, embedder).remove("ferry", "mod (42)")
    assert change.action == "hidden" and change.report.removed == ["feed.jsonl#ferry"]
    assert store.article("feed.jsonl#market") is not None and (corpus / "feed.jsonl").exists()


@pytest.mark.slow
def test_a_damaged_hidden_list_stops_the_sync_with_the_fix_and_loses_nothing(
    catalog, embedder
) -> None:
    settings, store, corpus = catalog
    library = Library(settings, store, embedder)
    hidden_path(settings.index_dir).write_text("{not json", encoding="utf-8")
    (corpus / "kestrel_flights.txt").unlink()
    with pytest.raises(IndexUnavailable, match="damaged.*delete it to show every hidden"):
        library.reload()
    assert store.article_count() == 7  # 4 town + 1 added + 2 feed lines, all still there
    assert "damaged" in library.status().hidden  # status still works


def test_the_hidden_list_is_replaced_whole(tmp_path: Path) -> None:
    entry = HiddenArticle("a.txt", "a.txt", "A", "mod", "2026-11-23T00:00:00+00:00")
    save_hidden(tmp_path, [entry])
    save_hidden(tmp_path, [entry, HiddenArticle("b.txt", "b.txt", "B", "mod", "now")])
    assert [e.article_id for e in load_hidden(tmp_path)] == ["a.txt", "b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["hidden.json"]  # no temporary left


@pytest.mark.slow
def test_nothing_changes_while_another_process_holds_the_index(catalog, tmp_path: Path) -> None:
    settings, store, corpus = catalog
    store.vector_count()  # this process holds the embedded vectors, as a running bot does
    command = [sys.executable, "-m", "bot", "remove", "brookvale", "--corpus", str(corpus),
               "--index", str(settings.index_dir)]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=run_env(tmp_path)
    )
    assert result.returncode == 2 and "open in another process" in result.stderr
    assert load_hidden(settings.index_dir) == [] and store.article("brookvale_library.txt")


@pytest.mark.slow
def test_console_lists_removes_and_restores(catalog, embedder, injection_exemplars) -> None:
    settings, store, corpus = catalog
    engine = scripted_engine(store, embedder, injection_exemplars)
    library = Library(settings, store, embedder)
    out = io.StringIO()
    handle_line("/articles", engine, library, out)
    handle_line("/articles library", engine, library, out)
    with pytest.raises(AmbiguousTitle, match="'o' matches 2 articles"):
        handle_line("/remove o", engine, library, out)  # run_console prints it as an error
    handle_line("/remove Night market opens", engine, library, out)
    handle_line("/restore market", engine, library, out)
    handle_line("/remove", engine, library, out)
    text = out.getvalue()
    assert "7 articles:" in text
    assert "Ferry timetable changes  (https://x.example/ferry)" in text
    assert (
        "1 articles matching 'library':\nBrookvale library reopens  (brookvale_library.txt)" in text
    )
    assert "Hid 'Night market opens' (feed.jsonl)" in text and "1 removed" in text
    assert "Restored 'Night market opens' (feed.jsonl). 1 added" in text
    assert "Say which article: remove TITLE-or-PATH" in text
    assert store.article("feed.jsonl#market") is not None


@pytest.mark.slow
def test_cli_verbs(catalog, capsys) -> None:
    settings, store, corpus = catalog
    store.close()  # the CLI is another process's view of the index
    where = ["--corpus", str(corpus), "--index", str(settings.index_dir)]
    assert main(["articles", "flights", *where]) == 0
    assert "Kestrel Airlines cuts Dunmore flights  (kestrel_flights.txt)" in capsys.readouterr().out
    assert main(["remove", "kestrel", *where]) == 0
    assert "Hid 'Kestrel Airlines cuts Dunmore flights'" in capsys.readouterr().out
    assert main(["restore", "nothing", "like", "it", *where]) == 2
    assert "No hidden article matches 'nothing like it'" in capsys.readouterr().err
    assert main(["restore", "kestrel_flights.txt", *where]) == 0
    assert "Restored" in capsys.readouterr().out and load_hidden(settings.index_dir) == []
