"""Feeds benchmark: `/add` of web pages and feed polls against a loopback web server.

Usage: python benchmarks/feeds.py [ENTRIES] [PAGES]
       (default 20 new feed entries, 5 pages added one by one)

The loopback server of the tests (`tests/feed_pages.py`) serves story pages and an RSS
feed; a copy of the demo corpus in a temp folder is indexed first into a temp index
(`FETCH_ALLOW_PRIVATE=True`, so loopback addresses may be fetched). With the real
embedding model, loaded once and timed on its own, it then times:

- `/add` of PAGES story pages, one at a time, through `Library.add_target` as `python -m bot add`
  does (fetch, write into the managed folder, incremental sync): p50 seconds per page;
- one feed poll (`Library.poll`) that finds ENTRIES new entries and adds them all
  (fetch the feed and each entry's page, write, one sync);
- a second poll with nothing new (the feed is fetched, no page is).

Prints the model load, the p50 (and slowest) seconds per `/add`, both poll times, pages
per second for `/add` and for the first poll, and the peak RSS of the process.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import make_embedder, open_store  # noqa: E402
from bot.library.collection import Library  # noqa: E402
from bot.library.feed_store import FeedStore  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.feed_pages import feed_server  # noqa: E402

PAGE_STORIES_FROM = 101  # stories added with /add: 101, 102, …
FEED_STORIES_FROM = 1001  # stories the feed lists: 1001, 1002, …


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    pages = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        settings = Settings(
            _env_file=None,
            corpus_dir=corpus,
            index_dir=Path(tmp) / "index",
            fetch_allow_private=True,
            feed_max_new=max(entries, 10),
        )
        started = time.perf_counter()
        embedder = make_embedder(settings)
        embedder.embed(["The model loads on first use."])
        load = time.perf_counter() - started
        with open_store(settings) as store:
            Library(settings, store, embedder).reload(wait=True)
            articles = store.article_count()

        with feed_server() as site:
            add_times = []
            for number in range(PAGE_STORIES_FROM, PAGE_STORIES_FROM + pages):
                started = time.perf_counter()
                with open_store(settings) as store:
                    library = Library(settings, store, embedder)
                    report = library.add_target(f"{site.base}/story/{number}", "bench", wait=True)
                add_times.append(time.perf_counter() - started)
                if len(report.added) != 1:
                    print(f"/add of story {number} failed: {report.lines()}", file=sys.stderr)
                    return 1

            feeds = FeedStore(settings.index_dir)
            feeds.add_feed(f"{site.base}/rss", "bench feed", "bench", datetime.now(UTC))
            site.rss_stories = tuple(range(FEED_STORIES_FROM, FEED_STORIES_FROM + entries))
            polls = []
            for _ in range(2):
                started = time.perf_counter()
                with open_store(settings) as store:
                    poll = Library(settings, store, embedder, feeds).poll(wait=True)
                polls.append((time.perf_counter() - started, poll))
            fetched = sum(h.startswith("/story/") for h in site.hits)
        (first, first_report), (second, second_report) = polls
        if first_report.added != entries or second_report.added != 0:
            print(f"The polls added {first_report.added} and {second_report.added}; expected "
                  f"{entries} and 0: {first_report.lines() + second_report.lines()}",
                  file=sys.stderr)  # fmt: skip
            return 1
        with open_store(settings) as store:
            total = store.article_count()

    p50 = statistics.median(add_times)
    print(f"corpus                 demo corpus copy ({articles} articles), loopback server")
    print(f"model load             {load:.1f} s (once, not counted below)")
    print(f"/add one page          p50 {p50:.2f} s, slowest {max(add_times):.2f} s over "
          f"{pages} pages ({1 / p50:.2f} pages/s; fetch, write and sync each)")  # fmt: skip
    print(f"first poll             {first:.2f} s for {entries} new entries "
          f"({entries / first:.2f} pages/s; feed, {entries} pages, one sync)")  # fmt: skip
    print(f"second poll            {second:.3f} s, nothing new ({second_report.lines()[0]})")
    print(f"pages fetched          {fetched} (each once); index now {total} articles")
    print(f"peak RSS               {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
