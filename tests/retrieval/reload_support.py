"""Helpers for reload tests: generated articles, ingest subprocesses, consistency checks."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from retrieval.models import ChromaServer
from retrieval.store import IndexStore
from tests.conftest import PROJECT

_WORDS = (
    "council harbour budget river festival school railway museum bridge market library "
    "election hospital stadium orchestra farmers bakery ferry tunnel garden airport "
    "committee mayor engineers volunteers residents teachers drivers nurses students "
    "approved delayed announced opened repaired expanded funded visited praised rejected "
    "north south coastal historic annual regional local national temporary modern"
).split()


def write_articles(folder: Path, count: int, words_each: int = 500, seed: int = 7) -> list[str]:
    """Write `count` articles of about `words_each` words; returns their file names."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number in range(count):
        sentences, total = [], 0
        while total < words_each:
            length = rng.randint(8, 18)
            words = [rng.choice(_WORDS) for _ in range(length)]
            sentences.append(" ".join(words).capitalize() + f" in district {number}.")
            total += length + 3
        name = f"generated-{number:03d}.txt"
        title = f"Report {number} on the {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        (folder / name).write_text(title + "\n\n" + " ".join(sentences) + "\n", encoding="utf-8")
        names.append(name)
    return names


def ingest_command(corpus: Path, index: Path) -> list[str]:
    return [sys.executable, "-m", "bot", "ingest", "--corpus", str(corpus), "--index", str(index)]


def run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return os.environ | extra | {"PYTHONPATH": str(PROJECT), "PYTHONUNBUFFERED": "1"}


def reopened(index_dir: Path, server: ChromaServer | None = None) -> IndexStore:
    """The store as on disk now: forget this process's cached embedded Chroma state,
    which another process (the ingest under test) has changed."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    return IndexStore(index_dir, server)


def assert_consistent(index_dir: Path, articles: int, server: ChromaServer | None = None) -> None:
    """Every article has its chunks, every chunk its sentences, every sentence a vector,
    and no vector is left over."""
    with reopened(index_dir, server) as store:
        assert store.article_count() == articles
        assert store.vector_count() == store.sentence_count() > store.chunk_count() > 0
        for article_id in store.manifest():
            chunks = store.chunks_of(article_id)
            assert chunks, article_id
            held = store.sentences_in([c.chunk_id for c in chunks])
            assert set(held) == {c.chunk_id for c in chunks}, article_id
            ids = {sentence_id for rows in held.values() for sentence_id, _, _ in rows}
            assert set(store.vectors(sorted(ids))) == ids, article_id


def run_ingests_at_once(
    corpus: Path, index: Path, env: dict[str, str], cwd: Path, count: int = 2
) -> list[tuple[int, str, str]]:
    """Start `count` `ingest --json` processes together; (exit code, stdout, stderr) each."""
    runs = [
        subprocess.Popen(
            [*ingest_command(corpus, index), "--json", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )  # fmt: skip
        for _ in range(count)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    return [(run.returncode, out, err) for run, (out, err) in zip(runs, outputs, strict=True)]


@dataclass(frozen=True)
class Whole:
    """An index found whole: its articles (id -> fingerprint) and its staged vectors."""

    articles: dict[str, str]
    staged: int  # vectors in Chroma no indexed sentence lists: a killed sync's, reused later


def whole_index(index_dir: Path, chroma: bool = True) -> Whole:
    """Check the index on disk is whole, as a fresh process finds it, and say what it holds.

    Raises AssertionError naming what is half there: SQLite damaged; the full-text index
    out of step with the chunks; a chunk, sentence or vector row whose article is not
    indexed; an article without chunks; a chunk without sentences; a sentence without a
    vector in Chroma's active collection or in SQLite's copy. Vectors in Chroma that no
    sentence lists are allowed (a sync adds them before its commit, and the next one
    reuses or deletes them) and counted. Without `chroma`, only SQLite is checked (for
    vectors a sync must repair first).
    """
    with reopened(index_dir) as store:
        db = store._db
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "SQLite is damaged"
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        manifest = store.manifest()
        for table in ("chunks", "sentences"):
            strays = db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE article_id NOT IN "  # fixed names
                "(SELECT article_id FROM articles)"
            ).fetchone()[0]
            assert strays == 0, f"{strays} {table} rows of no indexed article"
        miscounted = db.execute(
            "SELECT COUNT(*) FROM articles a WHERE chunk_count != "
            "(SELECT COUNT(*) FROM chunks c WHERE c.article_id = a.article_id)"
        ).fetchone()[0]
        assert miscounted == 0, f"{miscounted} articles whose chunk count is not their chunks'"
        if chroma:
            assert store.missing_vectors() is None, store.missing_vectors()
        collection = store.get_meta("collection")
        sentence_ids: set[str] = set()
        for article_id in manifest:
            chunks = store.chunks_of(article_id)
            assert chunks, f"{article_id} has no chunks"
            held = store.sentences_in([c.chunk_id for c in chunks])
            assert set(held) == {c.chunk_id for c in chunks}, (
                f"{article_id}: a chunk lost its sentences"
            )
            sentence_ids |= {sid for rows in held.values() for sid, _, _ in rows}
        assert sentence_ids == store._articles.all_sentence_ids(), "sentences outside every chunk"
        ordered = sorted(sentence_ids)
        assert set(store.vectors(ordered)) == sentence_ids, "a sentence lost its vector in SQLite"
        if not chroma:
            return Whole({aid: entry.fingerprint for aid, entry in manifest.items()}, 0)
        in_chroma = store._vectors.ids_among(collection, ordered) if collection else set()
        assert in_chroma == sentence_ids, (
            f"{len(sentence_ids - in_chroma)} sentences lost their vector in Chroma"
        )
        staged = store.vector_count() - len(sentence_ids)
        return Whole({aid: entry.fingerprint for aid, entry in manifest.items()}, staged)
