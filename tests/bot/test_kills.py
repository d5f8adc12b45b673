"""SIGKILL in the middle of `add`, of a feed poll's write and of a sync's commit: the next
command finds the index whole with the right count, and rerunning finishes the work.

Each kill is aimed (tests/kill_points: the real command stops itself at a point, or
strace kills it inside the commit's SQLite transaction) so it surely lands mid-work;
benchmarks/kill_points.py kills each path ten times at random moments. Real model,
real Chroma, real processes, loopback pages and feeds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.library.feed_store import FeedStore
from bot.library.managed import added_folder
from tests.conftest import PROJECT, write_town_corpus
from tests.feed_pages import RSS_STORIES, feed_server
from tests.kill_points import MARK
from tests.retrieval.reload_support import Whole, reopened, whole_index, write_articles

pytestmark = pytest.mark.slow
TOWN = 4  # articles in the town corpus


class Commands:
    """`python -m bot` on one corpus and index, in fresh processes."""

    def __init__(self, tmp_path: Path) -> None:
        self.corpus = write_town_corpus(tmp_path / "corpus")
        self.index, self.cwd = tmp_path / "index", tmp_path
        unset = ("CORPUS_DIR", "INDEX_DIR", "CHUNK_WORDS", "CHUNK_OVERLAP_WORDS", "CHROMA_HOST")
        self.env = {k: v for k, v in os.environ.items() if k not in unset} | {
            "PYTHONPATH": str(PROJECT),
            "FETCH_ALLOW_PRIVATE": "True",
        }
        self.folders = ["--corpus", str(self.corpus), "--index", str(self.index)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args, *self.folders],
            capture_output=True, text=True, env=self.env, cwd=self.cwd, timeout=300,
        )  # fmt: skip

    def killed(self, flags: list[str], *args: str) -> str:
        """Run the command under tests/kill_points with `flags`; SIGKILL it where they
        say (at a point it stopped at, or strace's kill); its stderr."""
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.kill_points", *flags, *args, *self.folders],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=self.env, cwd=self.cwd,
        )  # fmt: skip
        seen = ""
        try:
            if flags[0] == "--stop-at":
                for line in process.stderr:
                    seen += line
                    if line.strip() == f"{MARK} at {flags[1]}":
                        _wait_stopped(process.pid)
                        process.send_signal(signal.SIGKILL)
                        break
            seen += process.stderr.read()
            process.wait(timeout=300)
        finally:
            if process.poll() is None:  # never leave a stopped process behind
                process.kill()
                process.wait()
        assert process.returncode == -signal.SIGKILL, f"not killed mid-work: {seen}"
        return seen

    def status(self) -> dict:
        done = self.run("status", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def _wait_stopped(pid: int) -> None:
    """Until the process has stopped itself (state T), so the kill lands exactly there."""
    for _ in range(600):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


def _next_command_finds(commands: Commands, articles: dict[str, str]) -> Whole:
    """`status` in a fresh process, then the index checked whole: exactly `articles`."""
    status = commands.status()
    assert status["vectors"] == "embedded", status["vectors"]
    whole = whole_index(commands.index)
    assert status["articles"] == len(whole.articles) == len(articles)
    assert whole.articles == articles
    return whole


def test_an_add_killed_after_staging_its_vectors_is_finished_by_the_next_add(
    tmp_path: Path, run_sync
) -> None:
    """Killed with the page's file written and its vectors in Chroma, not committed: the
    index is the old one, whole; the same add again indexes the page once, as added."""
    commands = Commands(tmp_path)
    run_sync(commands.corpus)
    before = whole_index(commands.index).articles
    with feed_server() as site:
        url = f"{site.base}/story/{RSS_STORIES[0]}"
        seen = commands.killed(["--stop-at", "staged"], "add", url)
        assert f"{MARK} at written" in seen
        [written] = added_folder(commands.corpus).glob("*.md")  # whole, not yet indexed
        assert f"url: {url}" in written.read_text(encoding="utf-8")
        assert _next_command_finds(commands, before).staged > 0

        again = commands.run("add", url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Added “" in again.stdout and "(0 sentences embedded" in again.stdout
    done = whole_index(commands.index)
    assert done.staged == 0 and len(done.articles) == TOWN + 1
    assert list(added_folder(commands.corpus).glob("*.md")) == [written]
    assert f"added/{written.name}" in done.articles


def test_a_feed_poll_killed_after_its_commit_adds_each_entry_once(tmp_path: Path, run_sync) -> None:
    """Killed after the entries' articles were committed but before the entries were
    marked added: the next command finds them indexed, and the next poll adds nothing twice."""
    commands = Commands(tmp_path)
    run_sync(commands.corpus)
    feeds = FeedStore(commands.index)
    with feed_server() as site:
        assert feeds.add_feed(f"{site.base}/rss", "Dunmore Parish News", "test", datetime.now(UTC))
        commands.killed(["--stop-at", "committed"], "feeds", "poll")
        assert feeds.interrupted()  # killed before its entries were marked added
        status = commands.status()
        assert status["articles"] == TOWN + len(RSS_STORIES)
        whole = whole_index(commands.index)
        assert len(whole.articles) == TOWN + len(RSS_STORIES) and whole.staged == 0

        again = commands.run("feeds", "poll")
        assert again.returncode == 0, again.stderr
    assert not feeds.interrupted() and feeds.feeds()[0].seen == len(RSS_STORIES)
    done = whole_index(commands.index)
    assert done.articles == whole.articles
    links = [f"{site.base}/story/{n}" for n in RSS_STORIES]
    sources = _sources_of(commands.index)
    assert [sources.count(link) for link in links] == [1] * len(links)
    assert len(list(added_folder(commands.corpus).glob("*.md"))) == len(RSS_STORIES)


def _sources_of(index: Path) -> list[str]:
    """The source of every indexed article (a page's address), repeats kept."""
    with reopened(index) as store:
        return [summary.source for summary in store.article_summaries()]


def test_a_sync_killed_inside_its_commit_keeps_the_old_index_and_the_next_ingest_finishes(
    tmp_path: Path, run_sync
) -> None:
    """strace kills the ingest at its second write of the commit's transaction to SQLite's
    log: the transaction is cut in half. The old index stays whole, none of the new."""
    if shutil.which("strace") is None:
        pytest.skip("strace is needed to kill a sync inside its SQLite commit")
    commands = Commands(tmp_path)
    run_sync(commands.corpus)
    before = whole_index(commands.index).articles
    write_articles(commands.corpus / "new", 6)
    with (commands.corpus / "orchard_festival.txt").open("a", encoding="utf-8") as article:
        article.write("The cider tent will stay open until ten.\n")
    (commands.corpus / "kestrel_flights.txt").unlink()

    seen = commands.killed(["--kill-in-commit", "2"], "ingest", "--quiet")
    assert f"{MARK} start commit" in seen and f"{MARK} at committed" not in seen
    assert _next_command_finds(commands, before).staged > 0  # the new vectors, unused

    again = commands.run("ingest", "--json", "--quiet")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["sentences_embedded"] == 0  # the killed sync's vectors are reused
    assert len(summary["added"]) == 6 and summary["removed"] == ["kestrel_flights.txt"]
    done = whole_index(commands.index)
    assert done.staged == 0 and len(done.articles) == TOWN + 6 - 1
    with reopened(commands.index) as store:
        assert "cider tent will stay open" in store.article("orchard_festival.txt").text
