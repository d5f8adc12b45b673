"""The `Library` (bot.library.collection) on a real index: every change it makes, its
`Status`, and how `bot.app` builds it beside the engine. Chroma, SQLite and the embedding
model are real. The wiring's import rules are in `tests/bot/test_layout.py`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import open_app, open_library
from bot.library.adding import Outcome, Provenance, draft_from_url, who_runs_this
from bot.library.catalog import ArticleNotFound
from bot.library.collection import Library, Status
from bot.library.fetching import FetchLimits
from bot.library.managed import added_folder
from bot.settings import Settings
from retrieval.errors import SyncRefused
from retrieval.store import IndexStore
from tests.bot.conftest import ScriptedGenerator
from tests.conftest import TOWN_ARTICLES, write_town_corpus
from tests.feed_pages import RSS_STORIES, feed_server, story_title

pytestmark = pytest.mark.slow
FERRY = "---\ntitle: Ferry timetable changes\n---\nThe Dunmore ferry will sail every forty minutes."
# The keys `status --json` printed before Status was a dataclass, in the same order.
STATUS_KEYS = [
    "index_dir", "corpus_dir", "articles", "chunks", "sentences", "vectors", "embedding_model",
    "embedding_backend", "chunk_words", "chunk_overlap_words", "last_sync", "indexed_from",
    "feeds", "hidden",
]  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, index_dir: Path) -> Settings:
    corpus = write_town_corpus(tmp_path / "corpus")
    return Settings(
        _env_file=None, corpus_dir=corpus, index_dir=index_dir, fetch_allow_private=True
    )


@pytest.fixture
def library(settings: Settings, embedder, sync_copy):
    sync_copy(settings.corpus_dir)
    with IndexStore(settings.index_dir) as store:
        yield Library(settings, store, embedder)


def test_status_is_a_dataclass_with_the_keys_status_always_showed(library: Library) -> None:
    status = library.status()
    assert isinstance(status, Status) and list(status.as_dict()) == STATUS_KEYS
    assert (status.articles, status.vectors, status.hidden) == (4, "embedded", "none")
    assert status.embedding_model == "all-MiniLM-L6-v2" and status.chunk_words == 120
    assert status.feeds.startswith("none") and status.last_sync is not None
    assert status.indexed_from == str(library.settings.corpus_dir.resolve())
    assert library.totals() == {
        "articles": 4, "chunks": status.chunks, "sentences": status.sentences,
    }  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.articles = 5  # type: ignore[misc]


def test_reload_syncs_the_corpus_folder_and_refuses_another_unless_forced(
    library: Library, tmp_path: Path
) -> None:
    corpus = library.settings.corpus_dir
    (corpus / "new.txt").write_text("Budget approved\n\nThe council approved the budget today.\n")
    report = library.reload()
    assert report.added == ["new.txt"] and library.status().articles == 5
    assert library.reload().summary().startswith("0 added, 0 updated, 0 removed, 5 unchanged")
    other = tmp_path / "other"
    other.mkdir()
    (other / "only.txt").write_text("Only one\n\nA single article in another folder.\n")
    library.settings = library.settings.model_copy(update={"corpus_dir": other})
    with pytest.raises(SyncRefused):
        library.reload()
    assert library.reload(force=True).added == ["only.txt"] and library.totals()["articles"] == 1


def test_add_remove_and_restore_go_through_one_library(library: Library, tmp_path: Path) -> None:
    ferry = tmp_path / "ferry.md"
    ferry.write_text(FERRY)
    added = library.add_target(str(ferry), who_runs_this("test"))
    assert [a.path for a in added.added] == ["added/ferry-timetable-changes.md"]
    assert library.add_target(str(ferry), "test").duplicates, "the same text is had already"
    titles = {a.title for a in library.articles()}
    assert "Ferry timetable changes" in titles and len(titles) == 5
    assert library.article("added/ferry-timetable-changes.md").text.startswith("The Dunmore")

    deleted = library.remove("ferry timetable", "mod (42)")
    assert deleted.action == "deleted" and deleted.report.removed == [added.added[0].path]
    assert not any(added_folder(library.settings.corpus_dir).iterdir())

    hidden = library.remove("Brookvale library reopens", "mod (42)")
    assert hidden.action == "hidden" and [h.path for h in library.hidden()] == [
        "brookvale_library.txt"
    ]
    assert library.status().hidden == "1: Brookvale library reopens (brookvale_library.txt)"
    restored = library.restore("brookvale")
    assert restored.report.added == ["brookvale_library.txt"] and library.hidden() == []
    with pytest.raises(ArticleNotFound):
        library.restore("brookvale")  # no longer hidden


def test_add_takes_drafts_with_their_provenance_and_refusals(library: Library) -> None:
    with feed_server() as site:
        limits = FetchLimits.from_settings(library.settings)
        draft = draft_from_url(f"{site.base}/story/7", limits)
    refused = [Outcome("upload.png", reason="it is a '.png'")]
    report = library.add([draft], Provenance.now("mod (Discord 42)"), refused=refused)
    assert [a.title for a in report.added] == [story_title(7)] and report.refused == refused
    text = (library.settings.corpus_dir / report.added[0].path).read_text()
    assert "added_by: mod (Discord 42)" in text


def test_poll_adds_the_new_entries_of_the_library_feeds(library: Library) -> None:
    assert library.poll(wait=True).lines() == ["No feed was due."]
    with feed_server() as site:
        library.feeds.add_feed(f"{site.base}/rss", "parish", "test", datetime.now(UTC))
        report = library.poll(wait=True)
    assert report.added == len(RSS_STORIES) and not report.stopped
    assert library.status().articles == 4 + len(RSS_STORIES)
    assert library.status().feeds == "1 followed, 0 failing"


def test_a_library_opened_to_read_gives_status_but_never_syncs(
    settings: Settings, sync_copy
) -> None:
    sync_copy(settings.corpus_dir)
    broken = settings.model_copy(update={"embedding_model_path": settings.index_dir / "nowhere"})
    with open_library(broken, embedding=False) as library:
        status = library.status()
        assert status.articles == 4 and status.embedding_backend.startswith("unavailable: ")
        with pytest.raises(RuntimeError, match="read only"):
            library.reload()


def test_open_app_gives_an_engine_and_a_library_sharing_one_index_and_model(
    settings: Settings, sync_copy
) -> None:
    sync_copy(settings.corpus_dir)
    with open_app(settings, ScriptedGenerator("Mara Quist")) as (engine, library):
        assert library.store is engine.store and library.embedder is engine.searcher.embedder
        (settings.corpus_dir / "new.txt").write_text(
            "Harbour wall\n\nThe Dunmore harbour wall was repaired before the storms.\n"
        )
        assert library.reload().added == ["new.txt"]
        found = engine.searcher.search("harbour wall repaired", k=3).passages
        assert found[0].article_id == "new.txt", "the engine answers from what the library synced"
    with open_library(settings) as alone:
        assert alone.status().articles == len(TOWN_ARTICLES) + 1
