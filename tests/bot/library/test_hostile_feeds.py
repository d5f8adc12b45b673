"""Feeds an attacker would serve (issue 27): entity expansion (billion laughs, quadratic
blow-up), 100,000 entries, 10 MB bodies, entries linking to the bot's own network.

Served from loopback (tests/feed_pages.py); the index, the embedding model and the
parsing are real. Memory is read in a child process (its peak RSS), never timed.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.library import feeds as feeds_module
from bot.library.feed_store import FeedStore
from bot.library.feeds import check_feed, poll_feeds
from bot.library.fetching import FetchLimits, FetchRefused, fetch_feed
from bot.settings import Settings
from retrieval.store import IndexStore
from tests.conftest import PROJECT, write_town_corpus
from tests.feed_pages import feed_server

pytestmark = pytest.mark.slow
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LIMITS = FetchLimits(30, 3_000_000, allow_private=True)  # FETCH_MAX_BYTES's default
RSS = "application/rss+xml"


def _rss(items: str, doctype: str = "", title: str = "Harbour notices") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://feeds.test/</link>{items}</channel></rss>"
    ).encode()


def billion_laughs() -> bytes:
    """Ten entity levels of ten references each: 3 GB of "lol" if expanded."""
    levels = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    item = (
        "<item><title>&lol9;</title><link>/story/1</link><description>&lol9;</description></item>"
    )
    return _rss(item, f"<!DOCTYPE rss [{levels}]>", "&lol9;")


def quadratic_blowup() -> bytes:
    """One 100 KB entity referred to 20,000 times: 2 GB if expanded, 200 KB sent."""
    doctype = f'<!DOCTYPE rss [<!ENTITY a "{"A" * 100_000}">]>'
    item = f"<item><title>x</title><link>/story/1</link><description>{'&a;' * 20_000}"
    item += "</description></item>"
    return _rss(item, doctype)


def many_entries(count: int, base: str = "") -> bytes:
    return _rss("".join(f"<item><link>{base}/story/{n}</link></item>" for n in range(count)))


@pytest.fixture
def settings(tmp_path: Path, sync_copy, index_dir: Path) -> Settings:
    """The town's four articles, indexed."""
    settings = Settings(
        _env_file=None,
        corpus_dir=write_town_corpus(tmp_path / "corpus"),
        index_dir=index_dir,
        fetch_allow_private=True,
        fetch_timeout_seconds=30,
        feed_max_new=2,
    )
    sync_copy(settings.corpus_dir)
    return settings


def _poll(settings: Settings, embedder, url: str):
    feeds = FeedStore(settings.index_dir)
    feeds.add_feed(url, url, "test", T0)
    with IndexStore(settings.index_dir) as store:
        report = poll_feeds(settings, store, embedder, feeds, wait=True, now=T0)
        return report, len(store.manifest()), feeds.feed(url)


_PARSE_IN_A_CHILD = """
import resource, sys
from bot.library.feeds import check_feed
from bot.library.fetching import FetchLimits
parsed = check_feed(sys.argv[1], FetchLimits(30, 3_000_000, allow_private=True))
longest = max([len(parsed.title), *(len(e.link) + len(e.key) for e in parsed.entries)])
print(len(parsed.entries), longest, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _parsed_in_a_child(url: str) -> tuple[int, int, int]:
    """Entries, the longest text kept, and the child's peak RSS in bytes."""
    done = subprocess.run(
        [sys.executable, "-c", _PARSE_IN_A_CHILD, url],
        capture_output=True, text=True, timeout=300, cwd=PROJECT,
        env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    entries, longest, peak = map(int, done.stdout.split())
    return entries, longest, peak


def test_entity_expansion_is_not_expanded_and_memory_stays_that_of_a_small_feed() -> None:
    with feed_server() as site:
        site.bodies["/laughs"] = (RSS, billion_laughs())
        site.bodies["/quadratic"] = (RSS, quadratic_blowup())
        site.bodies["/plain"] = (RSS, many_entries(1))
        _, _, baseline = _parsed_in_a_child(f"{site.base}/plain")
        for path in ("/laughs", "/quadratic"):
            entries, longest, peak = _parsed_in_a_child(f"{site.base}{path}")
            assert entries == 1 and longest < 1000, path
            assert peak < baseline + 200 * 2**20, f"{path}: peak {peak:,} vs {baseline:,}"


def test_a_feed_of_100000_entries_adds_feed_max_new_and_the_rest_wait(
    settings: Settings, embedder
) -> None:
    settings = settings.model_copy(update={"fetch_max_bytes": 5_000_000})
    with feed_server() as site:
        site.bodies["/many"] = (RSS, many_entries(100_000))  # relative links: 3.8 MB
        report, articles, feed = _poll(settings, embedder, f"{site.base}/many")
    assert report.lines() == [
        "Harbour notices: 2 added, 0 already had, 99998 waiting for the next poll"
    ]
    assert articles == 4 + 2 and not feed.failing
    assert len([h for h in site.hits if h.startswith("/story/")]) == 2


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda base: many_entries(100_000, base), id="100000 entries with full links"),
        pytest.param(
            lambda base: _rss(
                f"<item><link>/story/1</link><description>{'word ' * 2_000_000}"
                "</description></item>"
            ),
            id="an entry of 10 MB",
        ),  # fmt: skip
    ],
)
def test_a_feed_over_fetch_max_bytes_is_refused_as_a_feed_and_nothing_is_lost(
    settings: Settings, embedder, body
) -> None:
    """The refusal used to tell the moderator to save the article's text and attach it."""
    with feed_server() as site:
        site.bodies["/big"] = (RSS, body(site.base))
        with pytest.raises(FetchRefused) as refused:
            check_feed(f"{site.base}/big", LIMITS)
        report, articles, feed = _poll(settings, embedder, f"{site.base}/big")
    message = str(refused.value)
    assert "the feed is too large" in message and "FETCH_MAX_BYTES" in message
    assert "attach" not in message and "smaller feed" in message
    assert feed.failing and "the feed is too large" in feed.last_error
    assert report.added == 0 and articles == 4


def test_an_entry_whose_page_is_10_mb_fails_alone_and_the_others_are_added(
    settings: Settings, embedder
) -> None:
    settings = settings.model_copy(update={"feed_max_new": 10})
    with feed_server() as site:
        site.huge = {2}
        report, articles, feed = _poll(settings, embedder, f"{site.base}/rss")
    assert report.lines() == ["Dunmore Parish News: 2 added, 0 already had, 1 failed"]
    assert "story/2: the page is too large" in report.results[0].failed[0]
    assert articles == 4 + 2 and not feed.failing


LOOPBACK_LINKS = {
    "http://127.0.0.1:{port}/story/1": "a loopback address",
    "http://localhost:{port}/story/2": "a loopback address",
    "http://[::1]:{port}/story/3": "a loopback address",
    "http://169.254.169.254/latest/meta-data/": "a link-local address",
    "http://10.1.2.3/admin": "a private network address",
    "http://0.0.0.0:{port}/story/4": "a loopback address",
}


def test_entries_linking_to_the_bots_own_network_are_refused_unfetched(
    settings: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed's host stands in for a public site (its own address check is waved
    through); its entries point at this machine and its network."""
    settings = settings.model_copy(update={"fetch_allow_private": False, "feed_max_new": 10})
    public = lambda url, limits: fetch_feed(url, limits, judge=lambda address: None)  # noqa: E731
    monkeypatch.setattr(feeds_module, "fetch_feed", public)
    with feed_server() as site:
        port = site.base.rsplit(":", 1)[1]
        links = {link.format(port=port): why for link, why in LOOPBACK_LINKS.items()}
        site.bodies["/inward"] = (
            RSS, _rss("".join(f"<item><link>{link}</link></item>" for link in links))
        )  # fmt: skip
        report, articles, feed = _poll(settings, embedder, f"{site.base}/inward")
    failed = report.results[0].failed
    assert len(failed) == len(links) and report.added == 0
    for line in failed:
        link = next(link for link in links if line.startswith(f"{link}: "))
        assert links[link] in line and "FETCH_ALLOW_PRIVATE" in line, line
    assert not [h for h in site.hits if h.startswith("/story/")], "nothing inward was fetched"
    assert articles == 4 and not feed.failing


_ADD_IN_A_CHILD = """
import sys, tracemalloc
from bot.frontends.cli import main
first, bomb, *folders = sys.argv[1:]
main(["add", first, *folders])  # every import and first-use cache, before tracing
tracemalloc.start()
code = main(["add", bomb, *folders])
print(code, tracemalloc.get_traced_memory()[1])
"""


def test_add_of_a_gzip_bomb_is_refused_with_memory_bounded_by_the_cap_not_the_bomb(
    settings: Settings,
) -> None:
    """100 MB of zeros in 331 bytes (gzipped twice), through the whole `add` command in a
    child: at most the 3 MB cap and a margin is allocated (test_fetching counts the bytes
    fetch_page decodes), the refusal says what to do, and the index keeps its articles.
    A feed with that body is refused the same way."""
    folders = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    with feed_server() as site:
        done = subprocess.run(
            [sys.executable, "-c", _ADD_IN_A_CHILD, f"{site.base}/pdf",
             f"{site.base}/gzip-bomb-stacked", *folders],
            capture_output=True, text=True, timeout=600, cwd=settings.corpus_dir.parent,
            env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin",
                 "FETCH_ALLOW_PRIVATE": "True", "HOME": str(Path.home())},
        )  # fmt: skip
        code, peak = map(int, done.stdout.split()[-2:])
        assert peak < 3_000_000 + 8 * 2**20, f"allocated {peak:,} bytes at the peak"
        assert code == 2 and "the page is too large" in done.stderr
        assert "FETCH_MAX_BYTES" in done.stderr and "attach it" in done.stderr
        with pytest.raises(FetchRefused, match="the feed is too large"):
            check_feed(f"{site.base}/gzip-bomb-stacked", LIMITS)
    with IndexStore(settings.index_dir) as store:
        assert len(store.manifest()) == 4
