"""`python -m bot`, with embedded Chroma saving its vector files after every few writes,
and (with --kill-when-saving) SIGKILLed by strace at Chroma's first write of a vector
file after the sync's commit.

Usage: python -m tests.retrieval.chroma_kill [--kill-when-saving[=FILE]] BOT-ARGS...

Chroma 1.5 rewrites a collection's `index_metadata.pickle` in place (open with O_TRUNC,
then 8 KB writes) each time it saves the collection, which it does after every
`hnsw:sync_threshold` writes (1,000 by default). A tiny test corpus reaches that only with
a small threshold, so this sets one on every collection created here; nothing else
changes. The kill is real: strace attaches to this process and turns its first write to
a pickle into SIGKILL, which leaves the pickle cut short, as a `kill -9` in the collect
step (the orphan vectors' deletion makes Chroma save) leaves it. `=length.bin` kills at
the first write to that file instead, after `data_level0.bin` was saved: the files are
then whole but out of step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chromadb.api.client

from bot.frontends.cli import main
from retrieval.atomic import AtomicIndex

SMALL_SAVES = {"hnsw:sync_threshold": 4, "hnsw:batch_size": 4}


def _saving_often() -> None:
    """Give each collection created from now on a small save threshold."""
    create = chromadb.api.client.Client.get_or_create_collection

    def get_or_create(self, name, metadata=None, **kwargs):
        return create(self, name, metadata={**(metadata or {}), **SMALL_SAVES}, **kwargs)

    chromadb.api.client.Client.get_or_create_collection = get_or_create


def _killed_when_saving(name: str = "index_metadata.pickle") -> None:
    """SIGKILL this process at its first write to the vector file `name` (of any
    collection) once the collect step starts."""
    collect = AtomicIndex.collect_garbage

    def collect_then_die(self: AtomicIndex) -> int:
        index_dir = Path(self._vectors.index_dir)
        files = sorted(str(p) for p in (index_dir / "chroma").glob(f"*/{name}"))
        assert files, "Chroma has not saved a collection yet: nothing to cut short"
        killed_at("write", 1, files)
        return collect(self)

    AtomicIndex.collect_garbage = collect_then_die


def killed_at(syscall: str, nth: int, paths: list[str]) -> subprocess.Popen:
    """Have strace SIGKILL this process at its `nth` `syscall` on any of `paths` (counted
    per thread), and return once it is attached to every thread."""
    tracer = subprocess.Popen(
        ["strace", "-f", "-o", "/dev/null", "-e", f"trace={syscall}",
         "-e", f"inject={syscall}:signal=KILL:when={nth}",
         *[arg for path in paths for arg in ("-P", path)], "-p", str(os.getpid())],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in tracer.stderr:  # attached to every thread: the kill cannot be missed
        if "attached" in line:
            break
    return tracer


if __name__ == "__main__":
    arguments = sys.argv[1:]
    _saving_often()
    if arguments and arguments[0].startswith("--kill-when-saving"):
        name = arguments[0].partition("=")[2]  # which vector file; the pickle by default
        arguments = arguments[1:]
        _killed_when_saving(*filter(None, [name]))
    sys.exit(main(arguments))
