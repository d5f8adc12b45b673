"""Many small files against the BBC corpus: cold-ingest sentences per second, in one run.

Usage: python benchmarks/small_files.py [FILES] [--bbc DIR] [--profile]
       (default 200,000 files; BBC at ../shared/corpora/bbc)

A community that exports its forum or wiki as one file per post gives the ingest many
tiny articles, where per-file work (reading, fingerprinting, parsing, the article's rows)
weighs more than for news stories. This writes FILES one-paragraph files into a temp
folder (the BBC paragraphs, one per file, cycled: the text is realistic and every file is
its own article, though later cycles repeat a paragraph's wording), then runs a cold
ingest of it and of the BBC corpus, each in its own process on the same machine, and
prints sentences/s for both. Target: the small files at >= 80 % of the BBC rate.

`--profile` runs only the small-file side in this process under cProfile and prints where
the time went beside embedding.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.library.collection import make_embedder
from bot.settings import Settings

DEFAULT_BBC = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc"
FILES_PER_FOLDER = 1000


def bbc_paragraphs(bbc: Path) -> list[str]:
    """Every body paragraph of the BBC articles (the first line, the headline, left out)."""
    paragraphs = []
    for path in sorted(bbc.rglob("*.txt")):
        lines = path.read_bytes().decode("utf-8", errors="replace").split("\n\n")
        paragraphs += [" ".join(p.split()) for p in lines[1:] if len(p.split()) >= 8]
    return paragraphs


def write_posts(folder: Path, count: int, paragraphs: list[str]) -> None:
    """`count` one-paragraph files, a thousand to a folder, as a forum export lays them out."""
    for number in range(count):
        sub = folder / f"{number // FILES_PER_FOLDER:04d}"
        if number % FILES_PER_FOLDER == 0:
            sub.mkdir(parents=True)
        (sub / f"post-{number:06d}.txt").write_text(paragraphs[number % len(paragraphs)] + "\n")


def cold_ingest(corpus: Path) -> dict:
    """One cold sync of `corpus` into a temp index with the default settings: figures."""
    from retrieval.store import IndexStore
    from retrieval.sync import sync_corpus

    settings = Settings(corpus_dir=corpus)
    embedder = make_embedder(settings)
    embedder.embed(["warm"])  # loading the model is not ingest time
    with tempfile.TemporaryDirectory() as tmp, IndexStore(Path(tmp)) as store:
        started = time.perf_counter()
        report = sync_corpus(
            corpus, store, embedder,
            chunk_words=settings.chunk_words,
            chunk_overlap_words=settings.chunk_overlap_words,
            max_article_bytes=settings.max_article_bytes,
            on_progress=progress_printer(started),
        )  # fmt: skip
        wall = time.perf_counter() - started
        return {
            "wall": wall,
            "articles": store.article_count(),
            "skipped": len(report.skipped),
            "sentences": report.sentences_embedded,
            "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "backend": embedder.running,
        }


def progress_printer(started: float) -> Callable[[int, int], None]:
    """Every tenth of the articles, a line on stderr: a 200,000-file run takes hours."""
    shown = {-1}

    def show(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth not in shown:
            shown.add(tenth)
            seconds = time.perf_counter() - started
            print(f"  {done:,}/{total:,} articles in {seconds:.0f} s", file=sys.stderr, flush=True)

    return show


def profile(corpus: Path) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    figures = cold_ingest(corpus)
    profiler.disable()
    print(json.dumps(figures))
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> int:
    args = sys.argv[1:]
    if "--only" in args:  # one side, in this process: figures as JSON for the parent
        print(json.dumps(cold_ingest(Path(args[args.index("--only") + 1]))))
        return 0
    bbc = Path(args[args.index("--bbc") + 1]) if "--bbc" in args else DEFAULT_BBC
    counts = [a for a in args if a.isdigit()]
    files = int(counts[0]) if counts else 200_000
    if not bbc.is_dir():
        print(f"No BBC corpus at {bbc}; pass --bbc DIR.", file=sys.stderr)
        return 2
    make_embedder(Settings(corpus_dir=bbc)).embed(["warm"])  # a first ONNX export is not timed
    with tempfile.TemporaryDirectory() as tmp:
        posts = Path(tmp) / "posts"
        started = time.perf_counter()
        write_posts(posts, files, bbc_paragraphs(bbc))
        print(f"wrote {files:,} files in {time.perf_counter() - started:.0f} s", flush=True)
        if "--profile" in args:
            profile(posts)
            return 0
        results = {}
        for name, corpus in (("posts", posts), ("bbc", bbc)):
            done = subprocess.run(
                [sys.executable, __file__, "--only", str(corpus)],
                stdout=subprocess.PIPE, text=True, check=False, env=os.environ,
            )  # fmt: skip
            if done.returncode != 0:
                print(f"The {name} ingest failed (its error is above).", file=sys.stderr)
                return 1
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{name} done in {results[name]['wall']:.0f} s", flush=True)
    posts_rate, bbc_rate = (r["sentences"] / r["wall"] for r in (results["posts"], results["bbc"]))
    print(f"{'':22} {'posts':>10} {'BBC':>10}")
    for label, key, fmt in (
        ("articles", "articles", ",.0f"),
        ("skipped", "skipped", ",.0f"),
        ("sentences embedded", "sentences", ",.0f"),
        ("cold ingest wall (s)", "wall", ".1f"),
        ("peak RSS (MB)", "rss", ",.0f"),
    ):
        row = (format(results[side][key], fmt) for side in ("posts", "bbc"))
        print(f"{label:22} {next(row):>10} {next(row):>10}")
    print(f"{'sentences/s':22} {posts_rate:>10.1f} {bbc_rate:>10.1f}")
    print(f"{'files/s':22} {results['posts']['articles'] / results['posts']['wall']:>10.1f}")
    print(f"embedding backend      {results['posts']['backend']}")
    print(f"posts / BBC rate       {posts_rate / bbc_rate:.2f}   (target >= 0.80)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
