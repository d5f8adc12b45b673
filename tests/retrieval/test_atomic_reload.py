"""Reloads are atomic: readers see the old index or the new one, a SIGKILL costs nothing,
and two reloads of one index never run at once. Real model, real Chroma, real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from retrieval.errors import IndexBusy
from retrieval.locking import reload_lock
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.conftest import TEST_SYNC
from tests.retrieval.reload_support import (
    assert_consistent,
    ingest_command,
    reopened,
    run_env,
    run_ingests_at_once,
    write_articles,
)

pytestmark = pytest.mark.slow
SEED_ARTICLES = 5
# About 1,400 sentences: two embedding batches (a batch is 1,024 sentences), so a kill can
# land between them.
GENERATED = 45
READ_DURING = 12  # enough for a reload that readers can run into


def test_readers_see_the_old_index_or_the_new_one_never_a_mix(
    seed_corpus: Path, run_sync, index_dir: Path, embedder
) -> None:
    run_sync(seed_corpus)
    write_articles(seed_corpus, READ_DURING)
    reads: list[tuple[tuple[int, int], tuple[str, ...]]] = []
    with IndexStore(index_dir) as store:
        searcher = Searcher(store, embedder)

        def read() -> tuple[tuple[int, int], tuple[str, ...]]:
            with store.snapshot():
                state = (store.article_count(), store.chunk_count())
                found = searcher.search("council budget approved by the mayor", k=4)
            return state, tuple(passage.chunk_id for passage in found.passages)

        before = read()
        done = threading.Event()

        def read_while_reloading() -> None:
            while not done.is_set():
                reads.append(read())

        reader = threading.Thread(target=read_while_reloading)
        reader.start()
        try:
            from retrieval.sync import sync_corpus

            report = sync_corpus(
                seed_corpus, store, embedder, **TEST_SYNC,
            )  # fmt: skip
        finally:
            done.set()
            reader.join()
        after = read()
    assert len(report.added) == READ_DURING
    assert before[0][0] == SEED_ARTICLES and after[0][0] == SEED_ARTICLES + READ_DURING
    # Every read saw the whole old index or the whole new one: its counts and its finds
    # are those the same search gives on that index when nothing else runs.
    mixed = [seen for seen in reads if seen not in (before, after)]
    assert mixed == [], f"a reader saw a half-done reload: {mixed[:3]}"
    assert before in reads
    assert_consistent(index_dir, SEED_ARTICLES + READ_DURING)


def test_sigkill_mid_ingest_keeps_the_old_index_and_the_next_ingest_completes(
    seed_corpus: Path, run_sync, index_dir: Path, embedder, tmp_path: Path
) -> None:
    run_sync(seed_corpus)
    with IndexStore(index_dir) as store:
        old_chunks, old_sentences = store.chunk_count(), store.sentence_count()
    write_articles(seed_corpus, GENERATED)

    ingest = subprocess.Popen(
        ingest_command(seed_corpus, index_dir),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=run_env(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    progress = b""
    while ingest.poll() is None:  # kill as soon as the first batch is embedded and staged
        progress += os.read(ingest.stderr.fileno(), 4096)
        done = [int(n) for n in re.findall(rb"(\d+)/%d" % GENERATED, progress)]
        if any(0 < n < GENERATED for n in done):
            ingest.send_signal(signal.SIGKILL)
            break
    ingest.wait(timeout=60)
    assert ingest.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    with reopened(index_dir) as store:  # the previous index, whole and searchable
        assert store.article_count() == SEED_ARTICLES and store.chunk_count() == old_chunks
        found = Searcher(store, embedder).search(
            "Which estate hosted the Zuckerberg and Trump dinner?", 3
        )
        assert "Mar-a-Lago" in " ".join(p.text for p in found.passages)
        assert all(p.article_id.startswith(("generated-",)) is False for p in found.passages)

    finished = subprocess.run(
        [*ingest_command(seed_corpus, index_dir), "--json"],
        capture_output=True, text=True, env=run_env(tmp_path), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout)
    assert len(summary["added"]) == GENERATED
    assert (
        0 < summary["sentences_embedded"] < summary["sentences"] - old_sentences
    )  # staged work reused
    assert_consistent(index_dir, SEED_ARTICLES + GENERATED)


def test_two_ingests_at_once_on_an_embedded_index_take_turns_or_one_is_refused(
    seed_corpus: Path, run_sync, index_dir: Path, tmp_path: Path
) -> None:
    """The second ingest waits for the reload lock; if the first still has the embedded
    vectors open when it gets it, it is refused with a how-to. Never both at once."""
    run_sync(seed_corpus)
    write_articles(seed_corpus, GENERATED // 2)
    results = run_ingests_at_once(seed_corpus, index_dir, run_env(tmp_path), tmp_path)
    codes = [code for code, _, _ in results]
    errors = [err for _, _, err in results]
    assert all("Traceback" not in err for err in errors), errors
    if sorted(codes) == [0, 0]:
        summaries = [json.loads(out) for _, out, _ in results]
        assert sorted(len(s["added"]) for s in summaries) == [0, GENERATED // 2]
        assert min(s["sentences_embedded"] for s in summaries) == 0  # no work done twice
    else:
        assert sorted(codes) == [0, 2], errors
        refused = errors[codes.index(2)]
        assert "open in another process" in refused and "CHROMA_HOST" in refused
    assert_consistent(index_dir, SEED_ARTICLES + GENERATED // 2)


def test_a_second_reload_is_refused_while_one_runs(seed_corpus: Path, run_sync, index_dir) -> None:
    with reload_lock(index_dir):
        with pytest.raises(IndexBusy, match="Another reload"):
            run_sync(seed_corpus)
    run_sync(seed_corpus)  # the lock is free again
    assert_consistent(index_dir, SEED_ARTICLES)


def test_lost_vectors_are_re_embedded_by_the_next_sync(
    seed_corpus: Path, run_sync, index_dir: Path
) -> None:
    """What moving an index to a new (empty) Chroma does: the next sync restores the vectors."""
    first = run_sync(seed_corpus)
    with IndexStore(index_dir) as store:
        store._client.delete_collection(store.get_meta("collection"))
    report = run_sync(seed_corpus)
    assert sorted(report.updated) == sorted(first.added)
    assert report.sentences_embedded == first.sentences_embedded
    assert_consistent(index_dir, SEED_ARTICLES)
