"""The command line refuses syncs that would wipe an index, and reports index faults in a line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.frontends.cli import main
from tests.conftest import TOWN_ARTICLES, write_town_corpus


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer .env or environment settings leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for key in ("CORPUS_DIR", "INDEX_DIR", "CHUNK_WORDS", "CHUNK_OVERLAP_WORDS"):
        monkeypatch.delenv(key, raising=False)


def _ingest(corpus: Path, index: Path, *extra: str) -> int:
    return main(["ingest", "--corpus", str(corpus), "--index", str(index), "--quiet", *extra])


@pytest.mark.slow
def test_ingest_from_another_folder_needs_force_and_status_shows_the_folder(
    tmp_path: Path, seed_corpus: Path, index_dir: Path, capsys
) -> None:
    town = write_town_corpus(tmp_path / "town")
    assert _ingest(town, index_dir) == 0
    capsys.readouterr()
    assert _ingest(seed_corpus, index_dir) == 2
    [err] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "--force" in err
    assert str(town.resolve()) in err and str(seed_corpus.resolve()) in err

    assert main(["status", "--index", str(index_dir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["articles"] == 4 and status["indexed_from"] == str(town.resolve())

    assert _ingest(seed_corpus, index_dir, "--force") == 0
    out = capsys.readouterr().out
    assert "removed: " + ", ".join(sorted(TOWN_ARTICLES)) in out
    assert "added: " in out and "5 added, 0 updated, 4 removed" in out
    assert main(["status", "--index", str(index_dir)]) == 0
    shown = re.escape(str(seed_corpus.resolve()))
    assert re.search(rf"indexed from +{shown}\n", capsys.readouterr().out)
