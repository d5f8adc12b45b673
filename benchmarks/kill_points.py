"""SIGKILL `add`, a feed poll's write and a sync's commit at random moments, and check
after each kill that the next command finds the index whole and the article count right.

Usage: python benchmarks/kill_points.py [KILLS] [PATH...]    (make bench-kill)
PATH is `add`, `feed` or `commit` (all three by default); KILLS per path, 10 by default.

Each path gets a temp corpus and index (and, for `add` and `feed`, loopback web pages and
an RSS feed). The killed process is the real command run by tests/kill_points, which
marks on stderr when its phase starts and ends: `add` (`python -m bot add FILE-or-URL`,
from writing the file through the sync), `feed` (`python -m bot feeds poll`, from marking
the entries `writing` to marking them added) and `commit` (`python -m bot ingest` of
new, changed and removed articles, from its SQLite commit through deleting the replaced
vectors from Chroma), with Chroma saving its vector files every few writes. An
uninterrupted run measures the phase; the kills are then spread over it at random (one in
each equal slice, at a uniform moment within it), counted from the phase's start or, for
every other kill of `add` and `feed`, from the moment its vectors were staged, so their
short commit gets kills too and not only the model's loading. A kill is "mid-work" when
the phase had not ended; the table says what the process was doing.

After each kill, in fresh processes, `status --json` and `search` must succeed and agree
on the count; the index must be whole (tests/retrieval/reload_support.whole_index: no
chunk without sentences, no sentence without its vector in Chroma and in SQLite's copy)
and hold exactly what it held before or what the finished work holds, nothing between.
Chroma's files may be damaged by a kill while it saves them ("repaired"): then `search`
must say in one line to run `ingest`, SQLite must be whole, and the rerun (or that
ingest) must restore them. Then the interrupted command runs again and must finish with
exactly the expected articles, each once, and no vector left over.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.library.managed import added_folder  # noqa: E402
from tests.feed_pages import FeedSite, feed_server  # noqa: E402
from tests.kill_points import MARK  # noqa: E402
from tests.retrieval.reload_support import Whole, whole_index, write_articles  # noqa: E402

PHASES = {"add": "add", "feed": "feed-write", "commit": "commit"}
# the last point a killed process had reached -> what it was doing when killed
LANDED = {"": "writing", "written": "embedding", "staged": "committing", "committed": "collecting"}
QUESTION = "council budget approved by the mayor"
FIRST_STORY = {"add": 100, "feed": 1}  # loopback story numbers each path uses


@dataclass
class Tally:
    """One path's kills and what became of them."""

    kills: int = 0
    mid_work: int = 0
    survived: int = 0
    damaged_vectors: int = (
        0  # the next command found a vector file cut short (repaired by the rerun)
    )
    landed: dict[str, int] = field(default_factory=dict)  # what it was doing when killed
    temporary_files: int = 0  # hidden `.adding-*.tmp` files a kill left in the managed folder
    problems: list[str] = field(default_factory=list)


class Bench:
    """A corpus, an index and the commands run on them."""

    def __init__(self, folder: Path, site: FeedSite) -> None:
        self.corpus, self.index, self.site = folder / "corpus", folder / "index", site
        self.env = os.environ | {
            "PYTHONPATH": str(ROOT),
            "FETCH_ALLOW_PRIVATE": "True",
            "PYTHONUNBUFFERED": "1",
        }
        self.cwd = folder
        self.folders = ["--corpus", str(self.corpus), "--index", str(self.index)]

    def run(self, *args: str, saving_often: bool = False) -> subprocess.CompletedProcess:
        """A `python -m bot` command, to its end (creating collections that save often)."""
        module = ["tests.kill_points", "--saving-often"] if saving_often else ["bot"]
        return subprocess.run(
            [sys.executable, "-m", *module, *args, *self.folders],
            capture_output=True, text=True, env=self.env, cwd=self.cwd, timeout=600,
        )  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen:
        """The command under tests/kill_points, its stderr piped for the phase markers."""
        return subprocess.Popen(
            [sys.executable, "-m", "tests.kill_points", "--saving-often", *args, *self.folders],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env, cwd=self.cwd,
        )  # fmt: skip


def wait_for(process: subprocess.Popen, marker: str) -> tuple[bool, bytes]:
    """Read stderr until `marker`; False if the process ended first."""
    seen = b""
    while True:
        line = process.stderr.readline()
        if not line:
            return False, seen
        seen += line
        if line.decode(errors="replace").strip() == marker:
            return True, seen


def timed_run(bench: Bench, phase: str, args: list[str]) -> dict[str, float]:
    """Run the command whole; when its phase reached `staged` (vectors added, before the
    commit) and its `end`, in seconds after the phase started."""
    process = bench.start(*args)
    started, out = wait_for(process, f"{MARK} start {phase}")
    assert started, out.decode(errors="replace")
    begun = time.perf_counter()
    times = {"start": 0.0}
    points = {f"{MARK} at staged": "staged", f"{MARK} end {phase}": "end"}
    for line in process.stderr:
        point = points.get(line.decode(errors="replace").strip())
        if point is not None and point not in times:
            times[point] = time.perf_counter() - begun
    process.wait()
    assert "end" in times and process.returncode in (0, 1), times
    return times


def kill_within(
    bench: Bench, phase: str, args: list[str], anchor: str, delay: float
) -> tuple[str, float]:
    """Start the command, SIGKILL it `delay` s after its phase starts (`anchor` "start")
    or reaches `staged`; (where it landed, seconds into the phase): what it was doing
    after the last point it reached (see tests/kill_points), or `after` when the phase
    had ended (or the process had exited) first."""
    process = bench.start(*args)
    started, out = wait_for(process, f"{MARK} start {phase}")
    assert started, out.decode(errors="replace")
    begun = time.perf_counter()
    lines = []
    if anchor == "staged":
        reached, out = wait_for(process, f"{MARK} at staged")
        assert reached, out.decode(errors="replace")
        lines.append(f"{MARK} at staged")
    time.sleep(delay)
    at = time.perf_counter() - begun
    process.send_signal(signal.SIGKILL)
    lines += process.stderr.read().decode(errors="replace").splitlines()
    process.wait()
    if process.returncode != -signal.SIGKILL or f"{MARK} end {phase}" in lines:
        return "after", at
    points = [line.split()[-1] for line in lines if line.startswith(f"{MARK} at ")]
    return LANDED[points[-1] if points else ""], at


def next_command(bench: Bench) -> tuple[Whole, bool]:
    """What the next commands find: status and search in fresh processes, then the index
    checked whole; (the index, whether its vectors were found damaged). Damaged vectors
    must be named with what to run (`ingest`), and SQLite must still be whole: the next
    sync refills them from its copy."""
    status = bench.run("status", "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["vectors"] == "embedded" or "damaged" in info["vectors"], info["vectors"]
    found = bench.run("search", QUESTION, "--json", "-k", "3")
    if found.returncode == 0:
        assert json.loads(found.stdout) and info["vectors"] == "embedded", found.stdout
        whole = whole_index(bench.index)
        assert info["articles"] == len(whole.articles), (info["articles"], len(whole.articles))
        return whole, False
    assert found.returncode == 2 and "python -m bot ingest" in found.stderr, found.stderr
    whole = whole_index(bench.index, chroma=False)
    assert info["articles"] == len(whole.articles), (info["articles"], len(whole.articles))
    return whole, True


# -- the three paths: (set up, the work of round r, its command, the finished state's check)


def setup(bench: Bench, path: str) -> None:
    """A corpus of generated articles, indexed, and for `feed` the feed followed."""
    write_articles(bench.corpus / "base", 40, seed=1)
    done = bench.run("ingest", "--quiet", saving_often=True)
    assert done.returncode == 0, done.stderr
    if path == "feed":
        bench.site.rss_stories = ()
        done = bench.run("feeds", "add", f"{bench.site.base}/rss")
        assert done.returncode == 0, done.stderr


def work(bench: Bench, path: str, round_number: int) -> tuple[list[str], Callable[[Whole], None]]:
    """Prepare round `round_number`'s work; its command, and a check of the finished state."""
    if path == "add":
        story = FIRST_STORY["add"] + round_number
        if round_number % 2:  # a web page
            target = f"{bench.site.base}/story/{story}"
            return ["add", target], lambda w: _sources_once(bench, w, [target])
        folder = bench.cwd / "incoming" / f"r{round_number}"
        [name] = write_articles(folder, 1, seed=1000 + round_number)
        return ["add", str(folder / name)], lambda w: _added_files(bench, w)
    if path == "feed":
        first = FIRST_STORY["feed"] + 3 * round_number
        bench.site.rss_stories = (*bench.site.rss_stories, first, first + 1, first + 2)
        links = [f"{bench.site.base}/story/{n}" for n in bench.site.rss_stories]
        return ["feeds", "poll"], lambda w: _sources_once(bench, w, links)
    # commit: new, changed and removed articles in one sync
    write_articles(bench.corpus / f"round-{round_number}", 12, seed=round_number)
    existing = sorted(p for p in bench.corpus.rglob("*.txt"))
    rng = random.Random(round_number)
    for changed in rng.sample(existing, 3):
        with changed.open("a", encoding="utf-8") as article:
            article.write(f"Round {round_number} added this sentence to the report.\n")
    for removed in rng.sample([p for p in existing if p.parent.name == "base"], 2):
        removed.unlink()
    return ["ingest", "--quiet"], lambda w: _matches_folder(bench, w)


def _sources_once(bench: Bench, whole: Whole, links: list[str]) -> None:
    """Each link's page is indexed exactly once."""
    import sqlite3
    from contextlib import closing

    uri = f"{(bench.index / 'articles.sqlite').resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        sources = [row[0] for row in db.execute("SELECT source FROM articles")]
    counts = {link: sources.count(link) for link in links}
    assert set(counts.values()) == {1}, f"pages not indexed once each: {counts}"
    _added_files(bench, whole)


def _added_files(bench: Bench, whole: Whole) -> None:
    """Every file in the managed folder is indexed, and nothing else was added."""
    folder = added_folder(bench.corpus)
    files = {p.relative_to(bench.corpus).as_posix() for p in folder.glob("*.md")}
    indexed = {aid for aid in whole.articles if aid.startswith(folder.name + "/")}
    assert files == indexed, f"managed files {sorted(files ^ indexed)} not in step with the index"


def _matches_folder(bench: Bench, whole: Whole) -> None:
    """The index holds exactly the corpus folder's articles."""
    files = {p.relative_to(bench.corpus).as_posix() for p in bench.corpus.rglob("*.txt")}
    assert set(whole.articles) == files, (
        f"index and folder differ: {sorted(files ^ set(whole.articles))}"
    )


def rerun_ok(done: subprocess.CompletedProcess, path: str) -> bool:
    return done.returncode == 0 or (path == "add" and done.returncode == 1)


def kill_plan(times: dict[str, float], kills: int, rng: random.Random) -> list[tuple[str, float]]:
    """(anchor, delay) of each kill, in random order: stratified, one kill in each equal
    slice of the span from its anchor to the phase's end. Where the phase has a `staged`
    point (add, feed), every other kill counts from there, so the short commit and collect
    at its end get kills too, not only the model's loading."""
    anchors = [point for point in ("start", "staged") if point in times]
    plan = []
    for first, anchor in enumerate(anchors):
        count = len(range(first, kills, len(anchors)))
        span = times["end"] - times[anchor]
        plan += [(anchor, span * (slot + rng.random()) / count) for slot in range(count)]
    rng.shuffle(plan)
    return plan


def bench_path(path: str, kills: int, rng: random.Random) -> Tally:
    """Calibrate the phase on one whole run, then kill `kills` runs at random moments in it."""
    tally = Tally()
    phase = PHASES[path]
    with tempfile.TemporaryDirectory() as tmp, feed_server() as site:
        bench = Bench(Path(tmp), site)
        setup(bench, path)
        command, finished = work(bench, path, 0)
        times = timed_run(bench, phase, command)
        finished(whole_index(bench.index))
        plan = kill_plan(times, kills, rng)
        for round_number in range(1, kills + 1):
            before = whole_index(bench.index)
            command, finished = work(bench, path, round_number)
            tally.kills += 1
            try:
                landed, at = kill_within(bench, phase, command, *plan[round_number - 1])
                tally.mid_work += landed != "after"
                tally.landed[landed] = tally.landed.get(landed, 0) + 1
                after_kill, damaged = next_command(bench)
                tally.damaged_vectors += damaged
                again = bench.run(*command)
                assert rerun_ok(again, path), again.stderr
                if damaged and command[0] != "ingest":  # what the message says to run
                    repair = bench.run("ingest", "--quiet")
                    assert repair.returncode == 0, repair.stderr
                done = whole_index(bench.index)
                assert done.staged == 0, f"{done.staged} vectors left over after the rerun"
                finished(done)
                assert after_kill.articles in (before.articles, done.articles), (
                    f"after the kill {len(after_kill.articles)} articles: neither the "
                    f"{len(before.articles)} before nor the {len(done.articles)} after"
                )
                tally.survived += 1
                print(f"{path} {round_number}: killed {at * 1000:.0f} ms into {phase}"
                      f" ({landed}); "
                      f"{len(after_kill.articles)} articles, then {len(done.articles)}"
                      + (", vectors repaired" if damaged else ""), flush=True)  # fmt: skip
            except AssertionError as problem:
                tally.problems.append(f"round {round_number}: {problem}")
                print(f"{path} {round_number}: FAILED: {problem}", flush=True)
                return tally
        tally.temporary_files = len(list(added_folder(bench.corpus).glob(".adding-*.tmp")))
        spans = ", ".join(f"{point} at {t * 1000:.0f} ms" for point, t in times.items())
        print(f"{path}: on a whole run, {phase} {spans}", flush=True)
    return tally


def main() -> int:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    paths = sys.argv[2:] or list(PHASES)
    rng = random.Random(27)
    started = time.perf_counter()
    tallies = {path: bench_path(path, kills, rng) for path in paths}
    print(f"\n{'path':<8} {'kills':>5} {'mid-work':>9} {'survived':>9} {'repaired':>9}  "
          "where the kills landed")  # fmt: skip
    for path, tally in tallies.items():
        where = ", ".join(f"{n} {label}" for label, n in sorted(tally.landed.items()))
        print(f"{path:<8} {tally.kills:>5} {tally.mid_work:>9} {tally.survived:>9} "
              f"{tally.damaged_vectors:>9}  {where}")  # fmt: skip
    print(
        f"({time.perf_counter() - started:.0f} s. writing: preparing and writing the files, "
        "or (commit) inside the SQLite commit; embedding: loading the model and embedding; "
        "committing: vectors staged, the commit under way; collecting: committed, deleting "
        "the replaced vectors; after: the phase had ended. repaired: the next command "
        "found Chroma's files damaged and said to run ingest; the rerun, or the ingest it "
        "said to run, restored them from the index's copy)"
    )
    for path, tally in tallies.items():
        if tally.temporary_files:
            print(f"{path}: {tally.temporary_files} hidden temporary files left in the managed "
                  "folder (never read by a sync)")  # fmt: skip
    problems = [p for tally in tallies.values() for p in tally.problems]
    for problem in problems:
        print("FAILED", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
