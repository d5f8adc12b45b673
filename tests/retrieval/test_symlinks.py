"""Symbolic links never bring a file from outside the corpus folder into the index.

Real symlink layouts in temp folders; an audit hook records every file Python opens,
so the tests check that nothing outside the corpus is even read, not only indexed.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.library.syncing import reload_corpus
from bot.settings import Settings
from retrieval import loading
from retrieval.loading import Scan, scan_corpus
from retrieval.store import IndexStore

BODY = "The council approved the new budget on Tuesday after a long debate about schools.\n"
SECRET = "DISCORD_TOKEN=never-index-this-secret-value"
OUTSIDE = "outside the corpus folder"
LOOP = "symbolic link loop"


class _OpenedFiles:
    """Paths opened while recording (an audit hook cannot be removed, so it is switched)."""

    def __init__(self) -> None:
        self.paths: list[Path] | None = None
        for codec in ("utf-8-sig", "cp1252"):  # imported on first use: not the corpus's doing
            codecs.lookup(codec)
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if event == "open" and self.paths is not None and isinstance(args[0], str | Path):
            self.paths.append(Path(args[0]))

    def during(self, action: Callable[[], object]) -> object:
        self.paths = []
        try:
            return action()
        finally:
            opened, self.paths = self.paths, None
            self.last = opened


@pytest.fixture(scope="module")
def opened_files() -> _OpenedFiles:
    return _OpenedFiles()


def _outside_files(root: Path) -> Path:
    """Files a corpus must never read: a passwd-like file, a memo, a .env and a folder."""
    outside = root / "elsewhere"
    (outside / "folder").mkdir(parents=True)
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n" + BODY)
    (outside / "memo.txt").write_text("Secret memo\n\nThe merger closes on Friday. " + BODY)
    (outside / ".env").write_text(SECRET + "\n" + BODY)
    (outside / "folder" / "secret.txt").write_text("Hidden plans\n\n" + SECRET + " " + BODY)
    return outside


def _leaky_corpus(root: Path) -> Path:
    """A corpus with every kind of link: out of the folder, inside it, looping, broken."""
    outside = _outside_files(root)
    corpus = root / "corpus"
    (corpus / "news").mkdir(parents=True)
    (corpus / "good.txt").write_text("Budget day\n\n" + BODY)
    (corpus / "news" / "story.txt").write_text("School news\n\n" + BODY)
    links = {
        "passwd.txt": outside / "passwd",
        "leak.txt": outside / "memo.txt",
        "dotenv.md": outside / ".env",
        "outdir": outside / "folder",
        "up.txt": Path("../elsewhere/memo.txt"),  # relative, climbing out
        "news/deep": Path("../../elsewhere/folder"),  # a folder link in a subfolder
        "alias.txt": Path("news/story.txt"),  # stays inside: kept
        "shortcut": Path("news"),  # stays inside: kept
        "loop_a.txt": Path("loop_b.txt"),
        "loop_b.txt": Path("loop_a.txt"),
        "news/back": Path(".."),  # a folder that contains itself
        "dangling.txt": Path("nowhere.txt"),
    }
    for name, target in links.items():
        (corpus / name).symlink_to(target)
    if Path("/etc/passwd").is_file():
        (corpus / "etc_passwd.txt").symlink_to("/etc/passwd")
    return corpus


def _reasons(scan: Scan) -> dict[str, str]:
    return {skip.path: skip.reason for skip in scan.skipped}


def test_links_out_of_the_corpus_are_skipped_and_never_read(
    tmp_path: Path, opened_files: _OpenedFiles
) -> None:
    corpus = _leaky_corpus(tmp_path)
    scan = opened_files.during(lambda: scan_corpus(corpus, 1_000_000))
    assert sorted(s.article_id for s in scan.sources) == [
        "alias.txt",
        "good.txt",
        "news/story.txt",
        "shortcut/story.txt",
    ]
    reasons = _reasons(scan)
    escaping = ["passwd.txt", "leak.txt", "dotenv.md", "outdir", "up.txt", "news/deep"]
    if (corpus / "etc_passwd.txt").is_symlink():
        escaping.append("etc_passwd.txt")
    for name in escaping:
        assert OUTSIDE in reasons[name], name
    root = corpus.resolve()
    assert [p for p in opened_files.last if not p.resolve().is_relative_to(root)] == []
    assert all(SECRET.encode() not in s.raw and b"root:x" not in s.raw for s in scan.sources)


def test_link_loops_and_broken_links_are_reported(tmp_path: Path) -> None:
    reasons = _reasons(scan_corpus(_leaky_corpus(tmp_path), 1_000_000))
    for name in ("loop_a.txt", "loop_b.txt", "news/back"):
        assert LOOP in reasons[name], name
    assert "broken symbolic link" in reasons["dangling.txt"]


def test_a_corpus_reached_through_a_link_keeps_its_inside_links(tmp_path: Path) -> None:
    corpus = _leaky_corpus(tmp_path)
    (tmp_path / "corpus_link").symlink_to(corpus)
    scan = scan_corpus(tmp_path / "corpus_link", 1_000_000)
    assert {"alias.txt", "shortcut/story.txt", "good.txt"} <= {s.article_id for s in scan.sources}
    assert OUTSIDE in _reasons(scan)["leak.txt"]


@pytest.mark.slow
def test_a_link_swapped_in_for_an_indexed_file_drops_it_from_the_index(
    tmp_path: Path, embedder, index_dir: Path
) -> None:
    """Through `reload_corpus`, the path `ingest`, the console and Discord's /reload share."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = _outside_files(tmp_path)
    (corpus / "good.txt").write_text("Budget day\n\n" + BODY)
    (corpus / "leak.txt").write_text((outside / "memo.txt").read_text())
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index_dir)
    with IndexStore(index_dir) as store:
        assert sorted(reload_corpus(settings, store, embedder).added) == ["good.txt", "leak.txt"]
        os.remove(corpus / "leak.txt")
        (corpus / "leak.txt").symlink_to(outside / "memo.txt")
        (corpus / "outdir").symlink_to(outside / "folder")
        report = reload_corpus(settings, store, embedder)
        assert report.removed == ["leak.txt"] and report.added == []
        assert {s.path for s in report.skipped} == {"leak.txt", "outdir"}
        assert list(store.manifest()) == ["good.txt"]
        assert store.lexical_query('"merger"', 5) == store.lexical_query('"plans"', 5) == []


def _swapped_corpus(root: Path) -> tuple[Path, Path]:
    """A corpus of two plain files, and a folder outside it with files of the same names."""
    outside = _outside_files(root)
    (outside / "folder" / "story.txt").write_text("Secret story\n\n" + SECRET + " " + BODY)
    corpus = root / "corpus"
    (corpus / "news").mkdir(parents=True)
    (corpus / "good.txt").write_text("Budget day\n\n" + BODY)
    (corpus / "news" / "story.txt").write_text("School news\n\n" + BODY)
    return corpus, outside


def _link_instead(path: Path, target: Path) -> None:
    """Replace the file or folder at `path` with a symbolic link to `target`."""
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    else:
        path.unlink()
    path.symlink_to(target)


def _when_walked(monkeypatch: pytest.MonkeyPatch, swap: Callable[[], object]) -> None:
    """Run `swap` after the walk has listed the files and before any is read."""
    walk = loading.discover

    def walk_then_swap(corpus_dir: Path) -> loading.Discovery:
        found = walk(corpus_dir)
        swap()
        return found

    monkeypatch.setattr(loading, "discover", walk_then_swap)


class _BeforeOpen:
    """Runs a swap just before a file of a given name is opened, by whatever call: the
    narrowest race. An audit hook sees every open; it cannot be removed, so it is armed."""

    def __init__(self) -> None:
        self.name, self.swap = "", None
        sys.addaudithook(self._hook)

    def arm(self, name: str, swap: Callable[[], object]) -> None:
        self.name, self.swap = name, swap

    def _hook(self, event: str, args: tuple) -> None:
        if event == "open" and self.swap and isinstance(args[0], str | Path):
            if Path(args[0]).name == self.name:
                swap, self.swap = self.swap, None
                swap()


@pytest.fixture(scope="module")
def before_open() -> _BeforeOpen:
    return _BeforeOpen()


@pytest.mark.parametrize(
    ("moment", "swapped", "reason"),
    [("walked", "file", OUTSIDE), ("opened", "file", "symbolic link"),
     ("opened", "folder", OUTSIDE)],
)  # fmt: skip
def test_a_file_swapped_for_a_link_after_the_walk_is_not_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    before_open: _BeforeOpen,
    moment: str,
    swapped: str,
    reason: str,
) -> None:
    corpus, outside = _swapped_corpus(tmp_path)
    if swapped == "file":
        swap = lambda: _link_instead(corpus / "news" / "story.txt", outside / "memo.txt")  # noqa: E731
    else:
        swap = lambda: _link_instead(corpus / "news", outside / "folder")  # noqa: E731
    if moment == "walked":
        _when_walked(monkeypatch, swap)
    else:
        before_open.arm("story.txt", swap)
    scan = scan_corpus(corpus, 1_000_000)
    before_open.arm("", None)
    assert [s.article_id for s in scan.sources] == ["good.txt"]
    assert reason in _reasons(scan)["news/story.txt"]
    assert scan.refused_paths == {"news/story.txt"}  # anything indexed from it is dropped
    assert all(b"Secret" not in s.raw and SECRET.encode() not in s.raw for s in scan.sources)
