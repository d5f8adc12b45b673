"""Index faults (damaged SQLite, deleted vectors, a full disk, a read-only folder).

Each fault gets one line that says what to do, never a traceback or silence. Real
indexes in temp folders, damaged the way disks and people damage them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from bot.app import open_engine
from bot.frontends.cli import main
from bot.settings import Settings
from retrieval.errors import IndexUnavailable, KnownError
from retrieval.store import IndexStore
from retrieval.sync import sync_corpus
from tests.bot.conftest import ScriptedGenerator
from tests.conftest import PROJECT, TEST_SYNC, TOWN_ARTICLES, write_town_corpus
from tests.retrieval.reload_support import whole_index

pytestmark = pytest.mark.slow
QUESTION = "Who leads the council in Glenfield?"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Path, Path]:
    """The town corpus and an index of it, built once; tests damage copies."""
    corpus = write_town_corpus(tmp_path_factory.mktemp("town"))
    index = tmp_path_factory.mktemp("built") / "index"
    with IndexStore(index) as store:
        sync_corpus(
            corpus,
            store,
            embedder,
            **TEST_SYNC,
        )
    return corpus, index


@pytest.fixture
def index(built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the built index to damage, with no developer settings leaking in."""
    monkeypatch.chdir(tmp_path)
    for key in ("CORPUS_DIR", "INDEX_DIR", "CHUNK_WORDS", "CHUNK_OVERLAP_WORDS"):
        monkeypatch.delenv(key, raising=False)
    return Path(shutil.copytree(built[1], tmp_path / "index"))


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one `error:` line a command printed (and that there is exactly one, no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    return line


def json_out(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def _damage_pages(database: Path, tables: tuple[str, ...]) -> None:
    """Overwrite the root pages of `tables` with junk, as a bad disk sector would."""
    with sqlite3.connect(database) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        marks = ",".join("?" * len(tables))
        pages = [
            row[0]
            for row in db.execute(
                f"SELECT rootpage FROM sqlite_master WHERE name IN ({marks})", tables
            )
        ]
    db.close()
    with database.open("r+b") as raw:
        for page in pages:
            raw.seek((page - 1) * page_size)
            raw.write(b"\xde\xad\xbe\xef" * (page_size // 4))


@pytest.mark.parametrize(
    "command", [["status"], ["search", QUESTION], ["ingest", "--quiet"]], ids=lambda c: c[0]
)
def test_a_damaged_index_gets_one_line_with_a_rebuild_hint(
    built: tuple[Path, Path], index: Path, capsys, command: list[str]
) -> None:
    _damage_pages(index / "articles.sqlite", ("articles", "meta"))
    assert main([*command, "--index", str(index), "--corpus", str(built[0])]) == 2
    line = _error_line(capsys)
    assert "damaged" in line and "python -m bot ingest" in line and str(index) in line


def test_deleted_vectors_are_reported_by_status_and_start_up_and_ingest_restores_them(
    built: tuple[Path, Path], index: Path, capsys
) -> None:
    shutil.rmtree(index / "chroma")
    assert main(["status", "--index", str(index), "--json"]) == 0
    vectors = json_out(capsys)["vectors"]
    assert "missing" in vectors and "python -m bot ingest" in vectors
    assert main(["search", QUESTION, "--index", str(index)]) == 2
    line = _error_line(capsys)
    assert "vectors" in line and "missing" in line and "python -m bot ingest" in line

    settings = Settings(
        _env_file=None, corpus_dir=built[0], index_dir=index, prompts_dir=PROJECT / "prompts"
    )
    with (
        pytest.raises(IndexUnavailable, match="python -m bot ingest"),
        open_engine(settings, ScriptedGenerator("unused")),
    ):
        pass

    assert main(["ingest", "--quiet", "--corpus", str(built[0]), "--index", str(index)]) == 0
    capsys.readouterr()
    assert main(["search", QUESTION, "--index", str(index), "-k", "1"]) == 0
    assert "glenfield_bridge.txt" in capsys.readouterr().out


def test_a_full_disk_at_commit_gives_one_line_and_keeps_the_old_index(
    built: tuple[Path, Path], index: Path, embedder, tmp_path: Path
) -> None:
    corpus = Path(shutil.copytree(built[0], tmp_path / "corpus"))
    long = "The council met again and the budget was discussed at length. " * 1500
    (corpus / "long.txt").write_text("Council report\n\n" + long)  # under MAX_ARTICLE_SENTENCES
    with IndexStore(index) as store:
        chunks = store.chunk_count()
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL
        with pytest.raises(KnownError) as full:
            sync_corpus(
                corpus,
                store,
                embedder,
                **TEST_SYNC,
                force=True,  # the copied corpus is another folder; only the disk is at issue
            )
    message = str(full.value)
    assert "\n" not in message and "full" in message and "space" in message
    with IndexStore(index) as store:
        assert sorted(store.manifest()) == sorted(TOWN_ARTICLES)
        assert store.chunk_count() == chunks and store.missing_vectors() is None


def _read_only_copy(index: Path, into: Path) -> Path:
    """A copy of `index` that cannot be written: files 0444, folders 0555."""
    copy = Path(shutil.copytree(index, into))
    for folder, _, files in os.walk(copy):
        for name in files:
            os.chmod(Path(folder) / name, 0o444)
        os.chmod(folder, 0o555)
    return copy


def _as_reader(command: list[str]) -> list[str]:
    """`command` run so it cannot write a read-only file: root ignores file modes, so root
    runs it without the capabilities that override them."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only to us")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]


def _run_on_read_only_copy(index: Path, tmp_path: Path, command: list[str]):
    """Run a `python -m bot` command on a read-only copy of `index`, unable to write it."""
    copy = _read_only_copy(index, tmp_path / "read-only")
    try:
        done = subprocess.run(
            _as_reader([sys.executable, "-m", "bot", *command, "--index", str(copy)]),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT)},
        )
    finally:
        for folder, _, _ in os.walk(copy):
            os.chmod(folder, 0o755)
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in index.iterdir())
    return done


@pytest.mark.parametrize(
    "command", [["status"], ["search", QUESTION, "-k", "1"]], ids=lambda c: c[0]
)
def test_a_read_only_index_can_be_read(index: Path, tmp_path: Path, command: list[str]) -> None:
    done = _run_on_read_only_copy(index, tmp_path, command)
    assert done.returncode == 0, done.stderr
    assert ("glenfield_bridge.txt" if command[0] == "search" else "articles") in done.stdout


def test_syncing_a_read_only_index_says_to_make_it_writable(
    built: tuple[Path, Path], index: Path, tmp_path: Path
) -> None:
    done = _run_on_read_only_copy(index, tmp_path, ["ingest", "--quiet", "--corpus", str(built[0])])
    assert done.returncode == 2
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "writable" in line


def _ingest_saving_often(corpus: Path, index: Path, tmp_path: Path, *flags: str):
    """`ingest` in a process whose Chroma saves every few writes (tests/retrieval/chroma_kill)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.retrieval.chroma_kill", *flags,
         "ingest", "--quiet", "--corpus", str(corpus), "--index", str(index)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )  # fmt: skip


def _killed_while_saving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vector_file: str
) -> tuple[Path, Path]:
    """A corpus and an index whose sync was SIGKILLed after its commit, at Chroma's first
    write to the live collection's `vector_file` (saving it, deleting the orphan vectors)."""
    if shutil.which("strace") is None:
        pytest.skip("strace is needed to kill Chroma in the middle of saving a file")
    monkeypatch.chdir(tmp_path)
    for key in ("CORPUS_DIR", "INDEX_DIR", "CHUNK_WORDS", "CHUNK_OVERLAP_WORDS"):
        monkeypatch.delenv(key, raising=False)
    corpus, index = write_town_corpus(tmp_path / "corpus"), tmp_path / "index"
    first = _ingest_saving_often(corpus, index, tmp_path)
    assert first.returncode == 0, first.stderr
    with (corpus / "orchard_festival.txt").open("a", encoding="utf-8") as article:
        article.write("The cider tent will stay open until ten.\n")  # its old vectors are orphans
    killed = _ingest_saving_often(corpus, index, tmp_path, f"--kill-when-saving={vector_file}")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    return corpus, index


@pytest.fixture
def killed_while_saving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Killed while Chroma rewrote the live collection's `index_metadata.pickle`: cut short."""
    corpus, index = _killed_while_saving(tmp_path, monkeypatch, "index_metadata.pickle")
    assert [p.stat().st_size for p in (index / "chroma").glob("*/index_metadata.pickle")] == [0]
    return corpus, index


def test_a_kill_leaving_chroma_files_out_of_step_is_repaired_by_the_next_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder, capsys
) -> None:
    """Killed at Chroma's first write to `length.bin`, after `data_level0.bin` was saved
    anew (benchmarks/kill_points.py found it): every file is whole, but Chroma fails the
    first read in each process. The next ingest failed the same way, and only deleting the
    folder and embedding everything again helped. Now the message says to run ingest, and
    the next sync refills the collection from the index's copy: here in a process whose
    first read failed and whose second worked (a running bot's /reload); a fresh
    process's ingest finds it by its own first read (the header.bin test below)."""
    corpus, index = _killed_while_saving(tmp_path, monkeypatch, "length.bin")
    SharedSystemClient.clear_system_cache()  # as in a fresh process
    with IndexStore(index) as store:
        question = embedder.embed([QUESTION])[0]
        with pytest.raises(IndexUnavailable) as failed:
            store.dense_query(question, 3)
        assert "cannot be read" in str(failed.value)
        assert "run `python -m bot ingest` (or /reload)" in str(failed.value).lower()
        assert store.dense_query(question, 3)  # the second read works, the files are as bad
        report = sync_corpus(corpus, store, embedder, **TEST_SYNC)
    assert "cannot be read" in report.repaired and report.sentences_embedded == 0
    whole = whole_index(index)  # a fresh Chroma: its first read no longer fails
    assert len(whole.articles) == len(TOWN_ARTICLES) and whole.staged == 0
    assert main(["search", QUESTION, "--index", str(index), "-k", "1"]) == 0
    assert "glenfield_bridge.txt" in capsys.readouterr().out


def test_a_kill_while_chroma_saves_is_reported_and_the_next_ingest_restores_the_vectors(
    killed_while_saving: tuple[Path, Path], capsys
) -> None:
    corpus, index = killed_while_saving
    assert main(["status", "--index", str(index), "--json"]) == 0
    vectors = json_out(capsys)["vectors"]
    assert "damaged" in vectors and "python -m bot ingest" in vectors
    assert main(["search", QUESTION, "--index", str(index)]) == 2
    line = _error_line(capsys)
    assert "damaged" in line and "python -m bot ingest" in line

    ingest = ["ingest", "--json", "--quiet", "--corpus", str(corpus), "--index", str(index)]
    assert main(ingest) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["repaired"] and summary["articles"] == len(TOWN_ARTICLES)
    assert summary["sentences_embedded"] == 0  # restored from the index's own copy
    assert main(["status", "--index", str(index), "--json"]) == 0
    assert json_out(capsys)["vectors"] == "embedded"
    assert main(["search", QUESTION, "--index", str(index), "-k", "1"]) == 0
    assert "glenfield_bridge.txt" in capsys.readouterr().out
    with IndexStore(index) as store:
        assert store.vector_count() == store.sentence_count()
        assert "cider tent will stay open" in store.article("orchard_festival.txt").text


def test_a_rebuild_after_such_a_kill_drops_the_damaged_collection_and_its_files(
    killed_while_saving: tuple[Path, Path], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged collection the rebuild switches away from is no longer used: it goes."""
    corpus, index = killed_while_saving
    [damaged] = [p.parent for p in (index / "chroma").glob("*/index_metadata.pickle")]
    monkeypatch.setenv("CHUNK_WORDS", "100")  # another configuration: a rebuild
    ingest = ["ingest", "--json", "--quiet", "--corpus", str(corpus), "--index", str(index)]
    assert main(ingest) == 0
    assert json.loads(capsys.readouterr().out)["rebuilt"]
    assert not damaged.exists()
    assert main(["search", QUESTION, "--index", str(index), "-k", "1"]) == 0
    assert "glenfield_bridge.txt" in capsys.readouterr().out


def test_other_damaged_vector_files_get_one_line_and_the_next_ingest_repairs_them(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another vector file cut short (`header.bin` emptied) gets one line saying what to
    run, and running it restores the vectors from the index's copy, embedding nothing."""
    monkeypatch.chdir(tmp_path)
    for key in ("CORPUS_DIR", "INDEX_DIR", "CHUNK_WORDS", "CHUNK_OVERLAP_WORDS"):
        monkeypatch.delenv(key, raising=False)
    corpus, index = write_town_corpus(tmp_path / "corpus"), tmp_path / "index"
    assert _ingest_saving_often(corpus, index, tmp_path).returncode == 0
    [header] = (index / "chroma").glob("*/header.bin")
    header.write_bytes(b"")
    assert main(["search", QUESTION, "--index", str(index)]) == 2
    line = _error_line(capsys)
    assert "cannot be read" in line and "python -m bot ingest" in line
    SharedSystemClient.clear_system_cache()  # as in a fresh process
    ingest = ["ingest", "--json", "--quiet", "--corpus", str(corpus), "--index", str(index)]
    assert main(ingest) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "cannot be read" in summary["repaired"] and summary["sentences_embedded"] == 0
    assert main(["search", QUESTION, "--index", str(index), "-k", "1"]) == 0
    assert "glenfield_bridge.txt" in capsys.readouterr().out


def test_a_damaged_vector_database_is_seen_by_status_and_set_aside_by_ingest(
    built: tuple[Path, Path], index: Path, capsys
) -> None:
    """A malformed chroma.sqlite3 (a disk fault, a copy taken mid-write) is named by
    `status` and `search` with what to run; `ingest` sets the folder aside (kept, not
    deleted) and restores every vector from the index's own copy."""
    catalogue = index / "chroma" / "chroma.sqlite3"
    damaged = bytearray(catalogue.read_bytes())
    damaged[100:8192] = b"\xff" * (8192 - 100)
    catalogue.write_bytes(bytes(damaged))
    SharedSystemClient.clear_system_cache()  # this process's Chroma remembers the folder

    assert main(["status", "--index", str(index), "--json"]) == 0
    vectors = json_out(capsys)["vectors"]
    assert "damaged" in vectors and "python -m bot ingest" in vectors
    assert main(["search", QUESTION, "--index", str(index)]) == 2
    line = _error_line(capsys)
    assert "chroma.sqlite3 is damaged" in line and "python -m bot ingest" in line

    ingest = ["ingest", "--json", "--quiet", "--corpus", str(built[0]), "--index", str(index)]
    assert main(ingest) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["repaired"] and summary["sentences_embedded"] == 0
    [aside] = index.glob("chroma-damaged-*")
    assert (aside / "chroma.sqlite3").read_bytes() == bytes(damaged)
    assert main(["search", QUESTION, "--index", str(index), "-k", "1"]) == 0
    assert "glenfield_bridge.txt" in capsys.readouterr().out


def test_a_disk_that_refuses_the_vectors_gives_one_line_and_keeps_the_index(
    built: tuple[Path, Path], index: Path, tmp_path: Path
) -> None:
    """Vectors are staged in Chroma before the commit; when the disk refuses them (here a
    file-size limit, as a full disk would), one line says what to do, the index stays as
    it was, and the same sync run again with room succeeds."""
    corpus = Path(shutil.copytree(built[0], tmp_path / "corpus"))
    sentence = "The council met again and the budget was discussed at length by all. "
    (corpus / "long.txt").write_text(
        "Council report\n\n" + " ".join(f"Item {i}: {sentence}" for i in range(600))
    )
    largest = max(p.stat().st_size for p in index.rglob("*") if p.is_file())
    limited = (
        "import resource, runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({largest + 200_000}, {largest + 200_000})); "
        "sys.argv = ['bot', *sys.argv[1:]]; runpy.run_module('bot', run_name='__main__')"
    )
    ingest = ["ingest", "--quiet", "--corpus", str(corpus), "--index", str(index), "--force"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-c", limited, *ingest],
        capture_output=True, text=True, timeout=300, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "free some space" in line and "left as it was" in line
    with IndexStore(index) as store:
        assert sorted(store.manifest()) == sorted(TOWN_ARTICLES)
        assert store.missing_vectors() is None
    assert main([*ingest, "--json"]) == 0
    with IndexStore(index) as store:
        assert "long.txt" in store.manifest() and store.missing_vectors() is None
