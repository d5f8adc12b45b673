"""Kill `python -m bot ingest` with SIGKILL at random moments and check the index each time.

Usage: python benchmarks/kill_reload.py [ROUNDS] [ARTICLES]
Each round adds a fresh batch of generated articles to a temp corpus, starts an ingest,
kills it after a random delay, then checks the index: the articles indexed before the
round are all there and searchable, each with its chunks, each chunk with a vector. A
final ingest must then complete. Prints how many kills landed mid-reload and survived.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.retrieval.reload_support import reopened, write_articles  # noqa: E402


def ingest(corpus: Path, index: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest", "--quiet", "--corpus", str(corpus),
         "--index", str(index)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def check(index: Path, at_least: int) -> tuple[int, int]:
    """Articles and chunks now; raises AssertionError if anything is half-there."""
    with reopened(index) as store:  # fresh: the killed process changed it
        articles, chunks = store.article_count(), store.chunk_count()
        assert articles >= at_least, f"{articles} articles, expected at least {at_least}"
        ids = [c.chunk_id for aid in store.manifest() for c in store.chunks_of(aid)]
        assert len(ids) == chunks, "an article lost its chunks"
        held = store.sentences_in(ids)
        assert len(held) == chunks, "a chunk lost its sentences"
        sentences = sorted({sid for rows in held.values() for sid, _, _ in rows})
        assert len(store.vectors(sentences)) == len(sentences), "a sentence lost its vector"
    return articles, chunks


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    per_round = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        write_articles(corpus, per_round, seed=0)
        ingest(corpus, index).wait()
        committed = check(index, per_round)[0]
        mid_reload = survived = 0
        for round_number in range(1, rounds + 1):
            (corpus / f"round-{round_number}").mkdir()
            write_articles(corpus / f"round-{round_number}", per_round, seed=round_number)
            process = ingest(corpus, index)
            time.sleep(rng.uniform(4.0, 20.0))
            killed = process.poll() is None
            if killed:
                process.send_signal(signal.SIGKILL)
            process.wait()
            articles, chunks = check(index, committed)
            mid_reload += killed
            survived += killed and articles in (committed, committed + per_round)
            print(f"round {round_number}: {'killed' if killed else 'finished'}; index has "
                  f"{articles} articles, {chunks} chunks, all consistent")  # fmt: skip
            committed = articles
        started = time.perf_counter()
        ingest(corpus, index).wait()
        final = check(index, per_round * (rounds + 1))
        seconds = time.perf_counter() - started
        print(f"kills mid-reload {mid_reload}, survived {survived}; final ingest completed in "
              f"{seconds:.1f} s with {final[0]} articles, {final[1]} chunks")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
