"""A slip (the wrong --corpus, an emptied folder) never wipes an index without --force.

Real embedding model, real Chroma and SQLite in temp folders.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from retrieval.errors import SyncRefused, SyncRisk
from retrieval.store import IndexStore
from retrieval.sync import SyncReport, sync_corpus
from tests.conftest import TEST_SYNC, TOWN_ARTICLES, write_town_corpus

pytestmark = pytest.mark.slow


@pytest.fixture
def sync(embedder, index_dir: Path):
    """Sync `corpus` into the temp index; `force` as `ingest --force` passes it."""

    def run(corpus: Path, force: bool = False) -> SyncReport:
        with IndexStore(index_dir) as store:
            return sync_corpus(
                corpus,
                store,
                embedder,
                **TEST_SYNC,
                force=force,
            )

    return run


def _indexed(index_dir: Path) -> list[str]:
    with IndexStore(index_dir) as store:
        return sorted(store.manifest())


def test_the_index_records_the_resolved_folder_it_was_built_from(
    tmp_path: Path, sync, index_dir: Path
) -> None:
    corpus = write_town_corpus(tmp_path / "town")
    (tmp_path / "via_link").symlink_to(corpus)
    sync(tmp_path / "via_link")
    with IndexStore(index_dir) as store:
        assert store.corpus_folder() == str(corpus.resolve())


def test_a_sync_from_another_folder_is_refused_and_changes_nothing(
    tmp_path: Path, seed_corpus: Path, sync, index_dir: Path
) -> None:
    town = write_town_corpus(tmp_path / "town")
    sync(town)
    with pytest.raises(SyncRefused) as refused:
        sync(seed_corpus)
    error = refused.value
    assert error.risk is SyncRisk.OTHER_FOLDER
    assert (error.built_from, error.reading) == (str(town.resolve()), str(seed_corpus.resolve()))
    message = str(error)
    assert str(town.resolve()) in message and str(seed_corpus.resolve()) in message
    assert "/reload" not in message, "how to force it is each front end's to say"
    assert _indexed(index_dir) == sorted(TOWN_ARTICLES)
    report = sync(seed_corpus, force=True)
    assert sorted(report.removed) == sorted(TOWN_ARTICLES) and len(report.added) == 5
    with IndexStore(index_dir) as store:
        assert store.corpus_folder() == str(seed_corpus.resolve())


@pytest.mark.parametrize("deleted", [3, 4])
def test_removing_more_than_half_of_the_articles_is_refused(
    tmp_path: Path, sync, index_dir: Path, deleted: int
) -> None:
    town = write_town_corpus(tmp_path / "town")
    sync(town)
    for name in sorted(TOWN_ARTICLES)[:deleted]:
        (town / name).unlink()
    with pytest.raises(SyncRefused, match=f"remove {deleted} of the 4 articles") as refused:
        sync(town)
    assert refused.value.risk is SyncRisk.MASS_REMOVAL
    assert (refused.value.removing, refused.value.indexed) == (deleted, 4)
    assert _indexed(index_dir) == sorted(TOWN_ARTICLES)
    assert len(sync(town, force=True).removed) == deleted
    assert len(_indexed(index_dir)) == 4 - deleted


def test_removing_half_is_allowed(tmp_path: Path, sync, index_dir: Path) -> None:
    town = write_town_corpus(tmp_path / "town")
    sync(town)
    for name in sorted(TOWN_ARTICLES)[:2]:
        (town / name).unlink()
    assert sync(town).removed == sorted(TOWN_ARTICLES)[:2]


def test_a_rebuild_counts_the_articles_it_drops(
    tmp_path: Path, embedder, sync, index_dir: Path
) -> None:
    """A new chunk setting rebuilds from scratch: it must not wipe what an emptied folder lost."""
    town = write_town_corpus(tmp_path / "town")
    sync(town)
    for name in sorted(TOWN_ARTICLES)[:3]:
        (town / name).unlink()
    with IndexStore(index_dir) as store, pytest.raises(SyncRefused):
        sync_corpus(
            town,
            store,
            embedder,
            chunk_words=60,
            chunk_overlap_words=10,
            max_article_bytes=5_000_000,
        )
    assert _indexed(index_dir) == sorted(TOWN_ARTICLES)


def test_an_index_without_a_recorded_folder_records_it_on_the_next_sync(
    tmp_path: Path, sync, index_dir: Path
) -> None:
    town = write_town_corpus(tmp_path / "town")
    sync(town)
    with sqlite3.connect(index_dir / "articles.sqlite") as db:  # as earlier versions left it
        db.execute("DELETE FROM meta WHERE key = 'corpus_dir'")
    (town / "new.txt").write_text("Budget approved\n\nThe council approved the budget today.\n")
    assert sync(town).added == ["new.txt"]
    with IndexStore(index_dir) as store:
        assert store.corpus_folder() == str(town.resolve())


def test_the_summary_names_changed_articles_up_to_ten_each() -> None:
    report = SyncReport(
        added=[f"news/{n:02}.txt" for n in range(13)], updated=["a.txt"], removed=[]
    )
    assert report.changes() == [
        "added: " + ", ".join(f"news/{n:02}.txt" for n in range(10)) + " and 3 more",
        "updated: a.txt",
    ]
