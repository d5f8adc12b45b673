"""Shared fixtures: the real embedding model (loaded once) and corpora in temp dirs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.embedding import Embedder
from retrieval.store import IndexStore
from retrieval.sync import SyncReport, sync_corpus

PROJECT = Path(__file__).resolve().parent.parent
SEED_CORPUS = PROJECT / "corpus"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


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
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The demo corpus indexed once for the whole session; tests must not modify it."""
    index = tmp_path_factory.mktemp("seed-index")
    with IndexStore(index) as store:
        sync_corpus(
            SEED_CORPUS,
            store,
            embedder,
            chunk_words=120,
            chunk_overlap_words=30,
            max_article_bytes=5_000_000,
        )
    return index


@pytest.fixture
def seed_searcher(seed_index: Path, embedder: Embedder):
    from retrieval.search import Searcher

    with IndexStore(seed_index) as store:
        yield Searcher(store, embedder)
