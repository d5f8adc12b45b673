"""`python -m bot`, with embedded Chroma saving its vector files after every few writes,
and (with --kill-when-saving) SIGKILLed by strace at Chroma's first write of a vector
file after the sync's commit.

Usage: python -m tests.retrieval.chroma_kill [--kill-when-saving] BOT-ARGS...

Chroma 1.5 rewrites a collection's `index_metadata.pickle` in place (open with O_TRUNC,
then 8 KB writes) each time it saves the collection, which it does after every
`hnsw:sync_threshold` writes (1,000 by default). A tiny test corpus reaches that only with
a small threshold, so this sets one on every collection created here; nothing else
changes. The kill is real: strace attaches to this process and turns its first write to
a pickle into SIGKILL, which leaves the pickle cut short, as a `kill -9` in the collect
step (the orphan vectors' deletion makes Chroma save) leaves it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chromadb.api.client

from bot.cli import main
from retrieval.atomic import AtomicIndex

SMALL_SAVES = {"hnsw:sync_threshold": 4, "hnsw:batch_size": 4}


def _saving_often() -> None:
    """Give each collection created from now on a small save threshold."""
    create = chromadb.api.client.Client.get_or_create_collection

    def get_or_create(self, name, metadata=None, **kwargs):
        return create(self, name, metadata={**(metadata or {}), **SMALL_SAVES}, **kwargs)

    chromadb.api.client.Client.get_or_create_collection = get_or_create


def _killed_when_saving() -> None:
    """SIGKILL this process at its first write to a vector file once the collect step starts."""
    collect = AtomicIndex.collect_garbage

    def collect_then_die(self: AtomicIndex) -> int:
        index_dir = Path(self._vectors.index_dir)
        pickles = sorted(str(p) for p in (index_dir / "chroma").glob("*/index_metadata.pickle"))
        assert pickles, "Chroma has not saved a collection yet: nothing to cut short"
        paths = [arg for pickle in pickles for arg in ("-P", pickle)]
        tracer = subprocess.Popen(
            ["strace", "-f", "-o", "/dev/null", "-e", "trace=write",
             "-e", "inject=write:signal=KILL", *paths, "-p", str(os.getpid())],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for line in tracer.stderr:  # attached to every thread: the kill cannot be missed
            if "attached" in line:
                break
        return collect(self)

    AtomicIndex.collect_garbage = collect_then_die


if __name__ == "__main__":
    arguments = sys.argv[1:]
    _saving_often()
    if arguments[:1] == ["--kill-when-saving"]:
        arguments = arguments[1:]
        _killed_when_saving()
    sys.exit(main(arguments))
