"""Shared fixtures: the real embedding model (loaded once) and corpora in temp dirs."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from retrieval.embedding import Embedder
from retrieval.store import IndexStore
from retrieval.sync import SyncReport, sync_corpus

# `make fuzz`: the fuzz tests at length (5 tests x 2,100 examples); `make test` keeps the default.
settings.register_profile("fuzz", max_examples=2100, deadline=None)

PROJECT = Path(__file__).resolve().parent.parent
SEED_CORPUS = PROJECT / "corpus"
# Invented local news for tests of the answer path: no dev-set question is about them.
TOWN_ARTICLES = {
    "glenfield_bridge.txt": "Glenfield backs riverside walkway\n\n"
    "Glenfield council approved a new footbridge over the River Alder on Tuesday. "
    "The bridge will cost £4.2m and is due to open in 2026, council leader Mara Quist said. "
    "Residents had campaigned for a crossing for ten years. "
    "Work on the foundations starts in the spring.\n",
    "kestrel_flights.txt": "Kestrel Airlines cuts Dunmore flights\n\n"
    "Kestrel Airlines will cut 40 daily flights from Dunmore airport from March. "
    "Chief executive Ivo Brandt blamed rising fuel costs for the cuts. "
    "About 300 staff will move to other routes, the airline said. "
    "Dunmore airport handled 2.1 million passengers last year.\n",
    "orchard_festival.txt": "Pellham orchard festival returns\n\n"
    "The Pellham orchard festival returns on 14 September with 60 stalls. "
    "Organiser Tilde Marsh said tickets would cost £8 for adults. "
    "Last year the festival drew 9,000 visitors to the village green. "
    "A cider tent will open for the first time.\n",
    "brookvale_library.txt": "Brookvale library reopens\n\n"
    "Brookvale library reopened on Monday after a two-year refurbishment. "
    "The work was paid for by the Halvorsen Trust. "
    "Head librarian Owen Pryce said the building now has a children's wing and a cafe.\n",
}
# (question, a gold string in the answer or its quote) over TOWN_ARTICLES
TOWN_QUESTIONS = [
    ("Who leads the council in Glenfield?", "Mara Quist"),
    ("What is the price of the new Alder footbridge?", "4.2m"),
    ("Who paid for the Brookvale library works?", "Halvorsen Trust"),
]
# Questions about the same people and places that no article answers.
TOWN_UNANSWERABLE = [
    "How many votes did Mara Quist win at the last election?",
    "What is the boiling point of mercury?",
    "Which engineering firm designed the Alder footbridge?",
]

# The sync settings every test index is built with (the defaults of a small index).
TEST_SYNC = {"chunk_words": 120, "chunk_overlap_words": 30, "max_article_bytes": 5_000_000}


def write_town_corpus(folder: Path) -> Path:
    """The invented local-news articles, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TOWN_ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def injection_exemplars(embedder: Embedder):
    """The shipped instruction exemplars on the session's embedder: every engine in the
    tests shares them, embedded once (as `bot/app.py` shares them between engines)."""
    from bot.answering.injection import LazyExemplars
    from bot.answering.prompting import Prompts

    return LazyExemplars(Prompts.load(PROJECT / "prompts").injection_exemplars, embedder)


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A writable copy of the shipped demo corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def run_sync(embedder: Embedder, index_dir: Path):
    """Sync a corpus into the temp index with the real model; returns the report."""

    def run(
        corpus: Path, chunk_words: int = 120, overlap: int = 30, max_bytes: int = 5_000_000
    ) -> SyncReport:
        with IndexStore(index_dir) as store:
            return sync_corpus(
                corpus,
                store,
                embedder,
                chunk_words=chunk_words,
                chunk_overlap_words=overlap,
                max_article_bytes=max_bytes,
            )

    return run


@pytest.fixture(scope="session")
def _built_indexes() -> dict[str, Path]:
    return {}


@pytest.fixture
def sync_copy(_built_indexes, tmp_path_factory, embedder: Embedder, index_dir: Path):
    """Leave `index_dir` (or `into`) as `run_sync(corpus)` leaves an empty one, for fixtures
    that only need an index to start from: the first test of a corpus (the same files) builds
    it, the others copy it (a copy, not a second embedding; tests may change theirs)."""

    def sync(corpus: Path, into: Path | None = None) -> Path:
        key = _fingerprint(corpus)
        if key not in _built_indexes:
            built = tmp_path_factory.mktemp("built-index")
            _index_once(corpus, built, embedder)
            _built_indexes[key] = built
        return copy_index(_built_indexes[key], corpus, into or index_dir)

    return sync


def _fingerprint(corpus: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        digest.update(os.fsencode(path.relative_to(corpus)) + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The demo corpus indexed once for the whole session; tests must not modify it."""
    return _index_once(SEED_CORPUS, tmp_path_factory.mktemp("seed-index"), embedder)


@pytest.fixture(scope="session")
def town_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The invented local news indexed once for the whole session; tests must not modify it."""
    corpus = write_town_corpus(tmp_path_factory.mktemp("town-corpus"))
    return _index_once(corpus, tmp_path_factory.mktemp("town-index"), embedder)


def copy_index(built: Path, corpus: Path, target: Path) -> Path:
    """`target` as a first sync of `corpus` would leave it, without embedding again: a copy
    of `built`, an index of the same files with `TEST_SYNC`, now serving `corpus`.

    For tests that change an index: they get their own, at the cost of a copy."""
    shutil.copytree(built, target)
    with IndexStore(target) as store:
        store.set_meta("corpus_dir", str(corpus.resolve()))
    return target


@pytest.fixture
def synced_seed(seed_corpus: Path, seed_index: Path, index_dir: Path) -> Path:
    """`seed_corpus` synced into `index_dir` (a copy of `seed_index`; tests may change it)."""
    return copy_index(seed_index, seed_corpus, index_dir)


def _index_once(corpus: Path, index: Path, embedder: Embedder) -> Path:
    with IndexStore(index) as store:
        sync_corpus(
            corpus,
            store,
            embedder,
            **TEST_SYNC,
        )
    return index


@pytest.fixture
def seed_searcher(seed_index: Path, embedder: Embedder):
    from retrieval.search import Searcher

    with IndexStore(seed_index) as store:
        yield Searcher(store, embedder)
