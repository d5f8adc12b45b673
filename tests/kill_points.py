"""`python -m bot`, with the moments it writes the index marked on stderr, so a parent can
SIGKILL it at a random moment inside one of them (benchmarks/kill_points.py) or exactly
at one point (the SIGKILL tests in tests/bot/test_kills.py).

Usage: python -m tests.kill_points [--saving-often] [--stop-at POINT] [--kill-in-commit N]
       BOT-ARGS...

Phases, each printed as `kill-point: start NAME` and `kill-point: end NAME`:
- `add`: `add_drafts`, writing the new articles' files and syncing them (`add`, and a poll);
- `feed-write`: a feed poll's `_add_batch`, from marking its entries `writing` to marking
  them added;
- `commit`: a sync's commit (one SQLite transaction) through its collect step (deleting
  the replaced vectors from Chroma).

Points, each printed as `kill-point: at POINT` when reached: `written` (an add's files
are written, its sync not begun), `staged` (a sync's new vectors are in Chroma and in
SQLite's copy, not yet committed), `committed` (committed, the collect step not begun).
With `--stop-at POINT` the process stops itself (SIGSTOP) there for the parent to
SIGKILL: a kill aimed exactly, where a timed one mostly lands in loading the model.
With `--kill-in-commit N`, strace SIGKILLs it at its Nth write of the commit's SQLite
transaction to the write-ahead log: a kill inside the commit itself.
`--saving-often` makes Chroma save its vector files every few writes (as
tests/retrieval/chroma_kill does), so more of a sync's time is spent writing them.
Nothing else changes: the work is the real command's.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable

import bot.library.adding
import bot.library.feeds
from bot.frontends.cli import main
from retrieval.atomic import AtomicIndex
from tests.retrieval.chroma_kill import _saving_often, killed_at

MARK = "kill-point:"
POINTS = ("written", "staged", "committed")


def _say(*words: str) -> None:
    """One marker line on stderr, flushed so the parent sees it before the work goes on."""
    sys.stderr.write(" ".join((MARK, *words)) + "\n")
    sys.stderr.flush()


def _at(point: str, stop_at: str) -> None:
    """Mark reaching `point`; stop there for the parent's SIGKILL (never continued) if asked."""
    _say("at", point)
    if point == stop_at:
        os.kill(os.getpid(), signal.SIGSTOP)


def _marked(
    function: Callable,
    *,
    start: str = "",
    end: str = "",
    before: str = "",
    after: str = "",
    stop_at: str = "",
) -> Callable:
    """`function`, marking its phase and points around each call, stopping where asked."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if start:
            _say("start", start)
        if before:
            _at(before, stop_at)
        result = function(*args, **kwargs)
        if after:
            _at(after, stop_at)
        if end:
            _say("end", end)
        return result

    return wrapper


def _killed_in_commit(nth: int) -> None:
    """SIGKILL this process, by strace, at its `nth` write of the commit's SQLite
    transaction to the write-ahead log: before the transaction's last frame, the commit
    is cut in half."""
    commit = AtomicIndex.commit

    def commit_then_die(self: AtomicIndex, *args, **kwargs):
        killed_at("pwrite64", nth, [str(self._articles.index_dir / "articles.sqlite-wal")])
        return commit(self, *args, **kwargs)

    AtomicIndex.commit = commit_then_die


def install(stop_at: str = "") -> None:
    """Mark the phases and points, and stop at `stop_at` (one of POINTS) if given."""
    bot.library.adding.add_drafts = _marked(bot.library.adding.add_drafts, start="add", end="add")
    bot.library.feeds.add_drafts = bot.library.adding.add_drafts
    bot.library.feeds._add_batch = _marked(
        bot.library.feeds._add_batch, start="feed-write", end="feed-write"
    )
    bot.library.adding.reload_corpus = _marked(
        bot.library.adding.reload_corpus, before="written", stop_at=stop_at
    )
    AtomicIndex.add_vectors = _marked(AtomicIndex.add_vectors, after="staged", stop_at=stop_at)
    AtomicIndex.commit = _marked(
        AtomicIndex.commit, start="commit", after="committed", stop_at=stop_at
    )
    AtomicIndex.collect_garbage = _marked(AtomicIndex.collect_garbage, end="commit")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    point = ""
    if arguments[:1] == ["--saving-often"]:
        arguments = arguments[1:]
        _saving_often()
    if arguments[:1] == ["--stop-at"]:
        point, arguments = arguments[1], arguments[2:]
        assert point in POINTS, f"--stop-at takes one of {POINTS}, not {point!r}"
    if arguments[:1] == ["--kill-in-commit"]:
        _killed_in_commit(int(arguments[1]))
        arguments = arguments[2:]
    install(point)
    sys.exit(main(arguments))
