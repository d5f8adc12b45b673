"""Incremental sync on the real embedding model and a real Chroma index in a temp dir."""

from __future__ import annotations

import os
import sqlite3
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from retrieval.chunking import sentences_of, split_sentences
from retrieval.store import IndexStore
from tests.conftest import SEED_CORPUS, TEST_SYNC
from tests.seed_expectations import FURNITURE, split_raw

pytestmark = pytest.mark.slow
SEED_IDS = sorted(FURNITURE)
EXTRA = "Budget approved\n\nThe council approved the new budget on Tuesday after a long debate.\n"


def _chunk_ids(index_dir: Path) -> dict[str, list[str]]:
    with IndexStore(index_dir) as store:
        return {aid: [c.chunk_id for c in store.chunks_of(aid)] for aid in store.manifest()}


def test_first_sync_indexes_every_seed_article(seed_corpus, run_sync, index_dir) -> None:
    report = run_sync(seed_corpus)
    assert sorted(report.added) == SEED_IDS
    assert (report.updated, report.removed, report.skipped) == ([], [], [])
    with IndexStore(index_dir) as store:
        assert store.article_count() == 5
        assert store.sentence_count() == report.sentences_embedded > 5


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_unchanged_corpus_embeds_nothing(seed_corpus, run_sync, embedder, index_dir) -> None:
    before_ids = _chunk_ids(index_dir)
    embedded_before = embedder.texts_embedded
    report = run_sync(seed_corpus)
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert report.unchanged == 5 and report.sentences_embedded == 0
    assert embedder.texts_embedded == embedded_before
    assert _chunk_ids(index_dir) == before_ids


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_an_unchanged_corpus_never_loads_the_embedding_model(
    seed_corpus, run_sync, index_dir
) -> None:
    from retrieval.embedding import Embedder
    from retrieval.sync import sync_corpus

    fresh = Embedder()
    with IndexStore(index_dir) as store:
        report = sync_corpus(
            seed_corpus, store, fresh, **TEST_SYNC,
        )  # fmt: skip
    assert report.unchanged == 5 and not fresh.loaded


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_added_article_is_the_only_one_embedded(seed_corpus, run_sync, index_dir) -> None:
    (seed_corpus / "sub").mkdir()
    (seed_corpus / "sub" / "new.txt").write_text(EXTRA)
    report = run_sync(seed_corpus)
    assert report.added == ["sub/new.txt"] and report.unchanged == 5
    with IndexStore(index_dir) as store:
        assert store.article("sub/new.txt").title == "Budget approved"
        assert len(store.chunks_of("sub/new.txt")) == 1
        assert report.sentences_embedded == len(sentences_of(store.article("sub/new.txt"), 120)) > 1


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_changed_article_is_replaced_and_others_untouched(seed_corpus, run_sync, index_dir) -> None:
    before = _chunk_ids(index_dir)
    changed = seed_corpus / SEED_IDS[1]
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\n\nA correction was added on Friday.\n"
    )
    report = run_sync(seed_corpus)
    assert report.updated == [SEED_IDS[1]] and report.unchanged == 4
    after = _chunk_ids(index_dir)
    assert set(after[SEED_IDS[1]]).isdisjoint(before[SEED_IDS[1]])
    assert {k: v for k, v in after.items() if k != SEED_IDS[1]} == {
        k: v for k, v in before.items() if k != SEED_IDS[1]
    }
    with IndexStore(index_dir) as store:
        assert "A correction was added on Friday." in store.article(SEED_IDS[1]).text
        assert store.chunk_count() == sum(len(v) for v in after.values())


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_deleted_article_leaves_nothing_behind(seed_corpus, run_sync, index_dir) -> None:
    before = _chunk_ids(index_dir)
    (seed_corpus / SEED_IDS[0]).unlink()
    report = run_sync(seed_corpus)
    assert report.removed == [SEED_IDS[0]] and report.sentences_embedded == 0
    with IndexStore(index_dir) as store:
        assert store.article(SEED_IDS[0]) is None
        assert store.chunks_of(SEED_IDS[0]) == []
        assert store.chunk_count() == sum(len(v) for k, v in before.items() if k != SEED_IDS[0])


def test_chunk_offsets_slice_the_stored_text_exactly(seed_index) -> None:
    with IndexStore(seed_index) as store:
        for article_id in SEED_IDS:
            text = store.article(article_id).text
            chunks = store.chunks_of(article_id)
            assert chunks
            for chunk in chunks:
                assert text[chunk.start : chunk.end] == chunk.text


def test_every_word_is_embedded_exactly_once(seed_index) -> None:
    """Sentences, not overlapping chunks, are embedded: no word twice, none left out."""
    overlap = 0
    with IndexStore(seed_index) as store:
        for article_id in SEED_IDS:
            text = store.article(article_id).text
            chunks = store.chunks_of(article_id)
            held = store.sentences_in([c.chunk_id for c in chunks])
            spans = sorted({(start, end) for rows in held.values() for _, start, end in rows})
            assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))
            embedded = sum(len(text[start:end].split()) for start, end in spans)
            assert embedded == len(text.split())  # every word in one sentence, and only one
            overlap += sum(len(c.text.split()) for c in chunks) - len(text.split())
    assert overlap > 0  # the chunks around them still overlap, for context


def test_furniture_absent_from_chunks_and_article_sentences_present(seed_index) -> None:
    with IndexStore(seed_index) as store:
        for article_id in SEED_IDS:
            chunks = store.chunks_of(article_id)
            chunk_lines = {line for c in chunks for line in c.text.split("\n")}
            joined = "\n".join(c.text for c in chunks)
            article_lines, furniture = split_raw(SEED_CORPUS / article_id)
            for line in furniture:
                assert line not in chunk_lines and (len(line) < 25 or line not in joined), line
            text = store.article(article_id).text
            for line in article_lines:
                assert line in text
            for start, end in split_sentences(text):
                assert any(c.start <= start and end <= c.end for c in chunks), text[start:end]


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_changing_chunk_settings_rebuilds(seed_corpus, run_sync, index_dir) -> None:
    report = run_sync(seed_corpus, chunk_words=60, overlap=10)
    assert report.rebuilt and sorted(report.added) == SEED_IDS
    with IndexStore(index_dir) as store:
        assert store.sentence_count() == report.sentences_embedded
        assert store.config()["chunk_words"] == 60


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_broken_file_is_skipped_and_its_indexed_version_kept(
    seed_corpus, run_sync, index_dir
) -> None:
    with IndexStore(index_dir) as store:
        old_text = store.article(SEED_IDS[2]).text
    (seed_corpus / SEED_IDS[2]).write_bytes(b"\x00\x01binary garbage")
    (seed_corpus / "empty.txt").write_text("")
    (seed_corpus / "huge.txt").write_text("word " * 2000)
    (seed_corpus / "new.txt").write_text(EXTRA)
    report = run_sync(seed_corpus, max_bytes=6000)
    assert {s.path for s in report.skipped} == {SEED_IDS[2], "empty.txt", "huge.txt"}
    assert report.added == ["new.txt"] and report.removed == []
    with IndexStore(index_dir) as store:
        assert store.article(SEED_IDS[2]).text == old_text
        assert store.chunks_of(SEED_IDS[2])


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_interrupted_write_is_repaired_without_duplicates(seed_corpus, run_sync, index_dir) -> None:
    expected = _chunk_ids(index_dir)
    # As if a run died after writing Chroma but before recording the article in SQLite.
    with sqlite3.connect(index_dir / "articles.sqlite") as db:
        db.execute("DELETE FROM articles WHERE article_id = ?", (SEED_IDS[3],))
    report = run_sync(seed_corpus)
    assert report.added == [SEED_IDS[3]]
    assert _chunk_ids(index_dir) == expected
    with IndexStore(index_dir) as store:
        assert store.chunk_count() == sum(len(v) for v in expected.values())


def test_sqlite_holds_the_same_vector_as_chroma_for_every_sentence(seed_index) -> None:
    """Search reads sentence vectors from SQLite's copy: it must be Chroma's, for all of them."""
    with IndexStore(seed_index) as store:
        ids = [row[0] for row in store._db.execute("SELECT sentence_id FROM sentences")]
        copied = store.vectors(ids)
        in_chroma = store._active().get(ids=ids, include=["embeddings"])
        assert set(copied) == set(ids)
        for sid, vector in zip(in_chroma["ids"], in_chroma["embeddings"], strict=True):
            assert np.allclose(copied[sid], vector, atol=1e-6)


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_a_lost_vector_copy_is_embedded_again(seed_corpus, run_sync, index_dir) -> None:
    with sqlite3.connect(index_dir / "articles.sqlite") as db:
        lost = db.execute(
            "SELECT COUNT(*) FROM sentences WHERE article_id = ?", (SEED_IDS[1],)
        ).fetchone()[0]
        db.execute(
            "DELETE FROM sentence_vectors WHERE sentence_id IN "
            "(SELECT sentence_id FROM sentences WHERE article_id = ?)",
            (SEED_IDS[1],),
        )
    report = run_sync(seed_corpus)
    assert report.updated == [SEED_IDS[1]] and report.sentences_embedded == lost
    with IndexStore(index_dir) as store:
        assert store.articles_missing_vectors() == set()


@pytest.mark.usefixtures("synced_seed")  # starts from the first sync
def test_garbage_collection_drops_copies_nothing_refers_to(
    seed_corpus, run_sync, index_dir
) -> None:
    (seed_corpus / SEED_IDS[0]).unlink()
    run_sync(seed_corpus)
    with sqlite3.connect(index_dir / "articles.sqlite") as db:
        copies = db.execute("SELECT COUNT(*) FROM sentence_vectors").fetchone()[0]
        sentences = db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
    assert copies == sentences


def _write_crashers(corpus: Path) -> None:
    """One file for each input that used to stop a whole sync (issue 15, section 3)."""
    (corpus / "odd_month.txt").write_text(f"1 ſep 2024\n\n{EXTRA}")
    (corpus / "aprıl.txt").write_text(f"aprıl 3, 2024\n\n{EXTRA}")
    deep = "[" * 1000 + "]" * 1000
    (corpus / "feed.jsonl").write_text(f'{deep}\n{{"id": "x\\ud800", "text": "{EXTRA[17:-1]}"}}\n')
    with open(os.path.join(os.fsencode(corpus), b"caf\xe9.txt"), "wb") as file:
        file.write(EXTRA.encode())
    (corpus / "bangs.txt").write_text("Budget cheered " + "!" * 40_000)


def test_no_single_file_stops_a_sync(seed_corpus, run_sync, index_dir) -> None:
    _write_crashers(seed_corpus)
    report = run_sync(seed_corpus)
    assert sorted(report.added) == sorted(
        [*SEED_IDS, "odd_month.txt", "aprıl.txt", "feed.jsonl#x\ufffd", "bangs.txt"]
    )
    reasons = {skip.path: skip.reason for skip in report.skipped}
    assert set(reasons) == {"feed.jsonl:1", "caf\\xe9.txt"}
    assert "nested too deeply" in reasons["feed.jsonl:1"]
    assert "not valid UTF-8" in reasons["caf\\xe9.txt"]
    with IndexStore(index_dir) as store:
        assert store.article("odd_month.txt").date == "2024-09-01"
        assert store.chunks_of("feed.jsonl#x\ufffd")


def test_the_declared_dimension_is_the_models_own(embedder) -> None:
    from retrieval.embedding import declared_dimension

    assert declared_dimension(embedder.path) == embedder.embed(["a sentence"]).shape[1] == 384


def test_an_article_with_too_many_sentences_is_skipped_before_it_is_embedded(
    tmp_path: Path, embedder, index_dir: Path
) -> None:
    """A page of "Xa. Xa. …" must not hold the reload lock while thousands of sentences
    embed; the other articles are indexed, and the skip says what to change."""
    from bot.library.syncing import reload_corpus
    from bot.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "budget.txt").write_text(EXTRA)
    (corpus / "flood.txt").write_text("Flood\n\n" + "Xa. " * 2_000)
    (corpus / "feed.jsonl").write_text('{"id": "flood", "text": "' + "Xa. " * 2_000 + '"}\n')
    settings = Settings(
        _env_file=None, corpus_dir=corpus, index_dir=index_dir, max_article_sentences=500
    )
    with IndexStore(index_dir) as store:
        report = reload_corpus(settings, store, embedder)
    assert report.added == ["budget.txt"]
    reasons = {skip.path: skip.reason for skip in report.skipped}
    assert sorted(reasons) == ["feed.jsonl#flood", "flood.txt"]
    assert "too many sentences (2,001;" in reasons["flood.txt"]
    assert "too many sentences (2,000;" in reasons["feed.jsonl#flood"]
    assert all("MAX_ARTICLE_SENTENCES" in reason for reason in reasons.values())
    assert report.sentences_embedded < 10
