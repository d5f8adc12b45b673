"""Vectors on a real `chroma run` server on loopback: same answers as embedded, shared by
several processes, reloads taking turns, and a clear error when the server is down."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.errors import IndexUnavailable
from retrieval.models import ChromaServer
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.conftest import TEST_SYNC
from tests.loopback import free_port, serving
from tests.retrieval.reload_support import (
    assert_consistent,
    run_env,
    run_ingests_at_once,
    write_articles,
)

pytestmark = pytest.mark.slow
QUESTIONS = [
    "Which estate hosted the Zuckerberg and Trump dinner?",
    "How much did Zuckerberg's charity give to fund election infrastructure?",
    "What is the weather in Dubai?",
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A real Chroma server with a temp data dir, for this module's tests."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    data = tmp_path_factory.mktemp("chroma-server")

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    command = [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, listening, 60, "the Chroma server"):
        yield ChromaServer("127.0.0.1", port)


def test_server_index_searches_exactly_like_the_embedded_one(
    chroma_server: ChromaServer, seed_corpus: Path, seed_index: Path, tmp_path: Path, embedder
) -> None:
    from retrieval.sync import sync_corpus

    with IndexStore(tmp_path / "index", chroma_server) as remote:
        sync_corpus(
            seed_corpus, remote, embedder, **TEST_SYNC,
        )  # fmt: skip
        with IndexStore(seed_index) as local:
            for question in QUESTIONS:
                there = Searcher(remote, embedder).search(question, 4)
                here = Searcher(local, embedder).search(question, 4)
                assert [p.chunk_id for p in there.passages] == [p.chunk_id for p in here.passages]
                assert there.relevance == pytest.approx(here.relevance, abs=1e-4)


def test_processes_share_a_server_index_and_their_reloads_take_turns(
    chroma_server: ChromaServer, seed_corpus: Path, tmp_path: Path, embedder
) -> None:
    index_dir = tmp_path / "index"
    write_articles(seed_corpus, 40)
    env = run_env(tmp_path, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_server.port))
    with IndexStore(index_dir, chroma_server) as reader:  # a bot process, open all along
        results = run_ingests_at_once(seed_corpus, index_dir, env, tmp_path)
        assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
        summaries = [json.loads(out) for _, out, _ in results]
        assert sorted(len(s["added"]) for s in summaries) == [0, 45]
        assert min(s["sentences_embedded"] for s in summaries) == 0  # no work done twice
        assert any("Waiting for it to finish" in err for _, _, err in results)

        found = Searcher(reader, embedder).search(
            "Which estate hosted the Zuckerberg and Trump dinner?", 3
        )
        assert "Mar-a-Lago" in " ".join(p.text for p in found.passages)
        assert reader.article_count() == 45
    assert_consistent(index_dir, 45, chroma_server)


def test_an_embedded_index_moves_to_the_server_with_one_ingest(
    chroma_server: ChromaServer, seed_index: Path, tmp_path: Path, embedder
) -> None:
    from retrieval.sync import sync_corpus
    from tests.conftest import SEED_CORPUS  # the folder seed_index was built from: no --force

    moved = tmp_path / "moved"
    shutil.copytree(seed_index, moved, ignore=shutil.ignore_patterns("chroma", "*.lock"))
    with IndexStore(moved, chroma_server) as store:
        report = sync_corpus(
            SEED_CORPUS, store, embedder, **TEST_SYNC,
        )  # fmt: skip
        assert len(report.updated) == 5 and report.sentences_embedded == store.sentence_count()
    assert_consistent(moved, 5, chroma_server)


def test_an_unreachable_server_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="chroma run --path"):
        IndexStore(tmp_path / "index", ChromaServer("127.0.0.1", free_port()))


class _Relay:
    """A TCP relay to the real server that can be told to go quiet: it keeps accepting and
    reading, but forwards nothing, like a server that hangs."""

    def __init__(self, target: ChromaServer) -> None:
        self.target = target
        self.quiet = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.target.host, self.target.port))
            except OSError:  # nothing behind the relay: hold the connection, answer nothing
                threading.Thread(target=self._pipe, args=(client, client), daemon=True).start()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.quiet.is_set():
                    sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()


def test_a_server_that_accepts_but_never_answers_is_reported_in_time(tmp_path: Path) -> None:
    relay = _Relay(ChromaServer("127.0.0.1", free_port()))  # nothing behind it: never answers
    relay.quiet.set()
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match="chroma run"):
        IndexStore(tmp_path / "index", ChromaServer("127.0.0.1", relay.port, timeout=1.0))
    assert time.monotonic() - started < 1.0 + 5.0
    relay.close()


def test_a_server_that_stops_answering_mid_use_is_a_clear_error_not_a_hang(
    chroma_server: ChromaServer, seed_corpus: Path, tmp_path: Path, embedder
) -> None:
    from retrieval.sync import sync_corpus

    relay = _Relay(chroma_server)
    through = ChromaServer("127.0.0.1", relay.port, timeout=1.0)
    with IndexStore(tmp_path / "index", through) as store:
        sync_corpus(
            seed_corpus, store, embedder, **TEST_SYNC,
        )  # fmt: skip
        searcher = Searcher(store, embedder)
        assert searcher.search("council budget", 4).passages  # answering normally
        relay.quiet.set()
        started = time.monotonic()
        with pytest.raises(IndexUnavailable, match="did not answer"):
            searcher.search("council budget", 4)
        assert time.monotonic() - started < 1.0 + 5.0
    relay.close()
