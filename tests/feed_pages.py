"""A loopback web server for tests of feeds: an RSS and an Atom feed of loopback stories.

It extends `web_pages` (every page there is served too) with `/rss` (stories 1-3, each
with a date), `/atom` (stories 4-5, relative links), `/story/N` article pages and
`/broken` (HTTP 500). `FeedSite.slow` names stories that answer only after a minute,
so a poll can be killed while it waits, `FeedSite.missing` stories that answer 404,
`FeedSite.huge` stories whose page is `HUGE_BYTES` long; `FeedSite.bodies` serves
any other path with a body a test wrote (a hostile feed); `FeedSite.hits` lists
every path asked for.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.web_pages import _Pages

RSS_STORIES = (1, 2, 3)
ATOM_STORIES = (4, 5)
STALL_SECONDS = 60.0
HUGE_BYTES = 10 * 2**20  # a story page of 10 MB
_PLACES = ("Dunmore", "Glenfield", "Pellham", "Brookvale", "Marlow", "Alder", "Kestrel")


def story_title(number: int) -> str:
    return f"{_PLACES[number % len(_PLACES)]} story number {number} for the feed tests"


def story_html(number: int) -> str:
    place = _PLACES[number % len(_PLACES)]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{story_title(number)}</title></head>
<body><nav><a href="/">Home</a> | <a href="/news">News</a></nav>
<article><h1>{story_title(number)}</h1>
<p>The {place} parish council met on day {number} of the month to discuss the village
hall roof, which has leaked since the storms of last winter. Councillors agreed to ask
three builders for quotes before the next meeting.</p>
<p>Story {number} also reports that the {place} market will move to the square on
Saturdays, and that {number * 7} volunteers signed up to help clean the riverbank.</p>
</article></body></html>
"""


def rss_xml(base: str, stories: tuple[int, ...]) -> str:
    items = "".join(
        f"<item><title>{story_title(n)}</title><link>{base}/story/{n}</link>"
        f"<guid>tag:feeds.test,2026:story-{n}</guid>"
        f"<pubDate>Mon, 0{n} Mar 2026 10:00:00 GMT</pubDate></item>"
        for n in reversed(stories)  # newest first, as feeds are
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Dunmore Parish News</title><link>{base}/</link>"
        f"<description>News from the parish</description>{items}</channel></rss>"
    )


def atom_xml(stories: tuple[int, ...]) -> str:
    entries = "".join(
        f'<entry><title>{story_title(n)}</title><link href="/story/{n}"/>'
        f"<id>urn:feeds-test:story-{n}</id><updated>2026-04-0{n}T10:00:00Z</updated></entry>"
        for n in reversed(stories)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Glenfield Notes</title><id>urn:feeds-test:atom</id>"
        f"<updated>2026-04-09T10:00:00Z</updated>{entries}</feed>"
    )


@dataclass
class FeedSite:
    """The running server: its base URL and what a test may change while it runs."""

    base: str
    rss_stories: tuple[int, ...] = RSS_STORIES
    atom_stories: tuple[int, ...] = ATOM_STORIES
    slow: set[int] = field(default_factory=set)
    missing: set[int] = field(default_factory=set)  # stories that answer 404
    huge: set[int] = field(default_factory=set)  # stories whose page is HUGE_BYTES long
    bodies: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path: (type, body)
    hits: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


class _FeedPages(_Pages):
    """Feeds and stories; anything else as `web_pages` serves it."""

    def do_GET(self) -> None:  # the http.server name
        site: FeedSite = self.server.site
        path = self.path.split("?")[0]
        site.hits.append(path)
        try:
            if path in site.bodies:
                self._send(200, *site.bodies[path])
            elif path == "/rss":
                body = rss_xml(site.base, site.rss_stories).encode()
                self._send(200, "application/rss+xml; charset=utf-8", body)
            elif path == "/atom":
                self._send(200, "application/atom+xml", atom_xml(site.atom_stories).encode())
            elif path.startswith("/story/"):
                number = int(path.rsplit("/", 1)[1])
                if number in site.missing:
                    self._send(404, "text/html", b"<html><body>Not found</body></html>")
                    return
                if number in site.slow:
                    site.stop.wait(STALL_SECONDS)
                if number in site.huge:
                    page = story_html(number).encode()
                    self._stream("text/html", page + b"<p>more words</p>" * (HUGE_BYTES // 17))
                    return
                self._send(200, "text/html; charset=utf-8", story_html(number).encode())
            elif path == "/broken":
                self._send(500, "text/plain", b"Internal Server Error")
            else:
                super().do_GET()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should


@contextmanager
def feed_server() -> Iterator[FeedSite]:
    """Serve the feeds and stories on loopback for the block."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FeedPages)
    server.daemon_threads = True
    server.private_base = "http://127.0.0.2:9"
    server.site = FeedSite(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.site.stop.set()
        server.shutdown()
        server.server_close()


def wait_for_hit(site: FeedSite, path: str, seconds: float) -> bool:
    """True once `path` was asked for, within `seconds`."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if path in site.hits:
            return True
        time.sleep(0.1)
    return False
