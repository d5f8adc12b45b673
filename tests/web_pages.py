"""A loopback web server for tests of fetching: an article, redirects, and every bad page.

It runs in-process on 127.0.0.1 in a thread; `PAGES` says what each path serves.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

ARTICLE_TITLE = "Harbour wall repaired before winter storms"
CANONICAL = "https://gazette.example/news/harbour-wall"
ARTICLE_FACT = "The repair cost £1.8m and was paid for by the Marlow Port Trust."
ARTICLE_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{ARTICLE_TITLE} | Dunmore Gazette</title>
<link rel="canonical" href="{CANONICAL}">
<meta property="og:title" content="{ARTICLE_TITLE}">
<meta name="date" content="2024-03-05"></head>
<body><nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/sport">Sport</a></nav>
<article><h1>{ARTICLE_TITLE}</h1>
<p>Workers finished repairing the old harbour wall in Dunmore on Friday, two weeks before
the winter storm season begins. The wall was badly damaged by waves in January.</p>
<p>{ARTICLE_FACT} Harbour master Ines Varga said the new stones would protect the fishing
boats moored behind the wall for at least fifty years.</p>
<p>Fishermen had feared that another winter without repairs would leave the inner harbour
open to the sea. The trust said it would inspect the wall again after every major storm.</p>
</article><footer>© Dunmore Gazette. All rights reserved.</footer></body></html>
"""
SLOW_SECONDS = 8.0  # how long /slow keeps dripping its body
BIG_BYTES = 200_000
BOMB_BYTES = 100 * 2**20  # what a gzip bomb decodes to


@cache
def gzip_bomb(layers: int) -> bytes:
    """`BOMB_BYTES` of zeros gzipped `layers` times (about 100 KB once, 331 bytes twice),
    built without holding the 100 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = b"".join(packer.compress(bytes(2**20)) for _ in range(BOMB_BYTES // 2**20))
    body += packer.flush()
    for _ in range(layers - 1):
        body = gzip.compress(body, 9)
    return body


def gzipped(data: bytes, layers: int) -> bytes:
    for _ in range(layers):
        data = gzip.compress(data)
    return data


# path: (Content-Encoding, body); the page is the article unless the path says otherwise
ENCODED = {
    "/gzip": ("gzip", lambda: gzipped(ARTICLE_HTML.encode(), 1)),
    "/gzip-gzip": ("gzip, gzip", lambda: gzipped(ARTICLE_HTML.encode(), 2)),
    "/gzip-3": ("gzip, gzip, gzip", lambda: gzipped(ARTICLE_HTML.encode(), 3)),
    "/deflate": ("deflate", lambda: zlib.compress(ARTICLE_HTML.encode())),
    "/raw-deflate": ("deflate", lambda: zlib.compress(ARTICLE_HTML.encode(), wbits=-15)),
    "/brotli": ("br", lambda: b"\x1b\x00\x00"),
    "/gzip-bomb": ("gzip", lambda: gzip_bomb(1)),
    "/gzip-bomb-stacked": ("gzip, gzip", lambda: gzip_bomb(2)),
}


class _Pages(http.server.BaseHTTPRequestHandler):
    """Serves the test pages; `self.server.private_base` is where /to-private points."""

    def log_message(self, *args: object) -> None:
        pass  # quiet tests

    def do_GET(self) -> None:  # the http.server name
        path = self.path.split("?")[0]
        try:
            if path == "/article":
                self._send(200, "text/html; charset=utf-8", ARTICLE_HTML.encode())
            elif path.startswith("/hop/"):
                left = int(path.rsplit("/", 1)[1])
                self._redirect("/article" if left == 0 else f"/hop/{left - 1}")
            elif path == "/to-private":
                self._redirect(self.server.private_base + "/article")
            elif path == "/big":
                self._stream("text/html", b"<html><body><p>" + b"word " * (BIG_BYTES // 5))
            elif path == "/big-declared":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(50_000_000))
                self.end_headers()
            elif path == "/slow":
                self._drip()
            elif path in ENCODED:
                encoding, body = ENCODED[path]
                self._send(200, "text/html", body(), {"Content-Encoding": encoding})
            elif path == "/gzip-endless-name":
                self._endless_gzip_name()
            elif path == "/pdf":
                self._send(200, "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
            elif path == "/png-as-html":
                self._send(200, "text/html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
            else:
                self._send(404, "text/html", b"<html><body>Not found</body></html>")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _endless_gzip_name(self) -> None:
        """A gzip header whose file name never ends: 64 KB of name every 10 ms, for 10 s."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b\x08\x08" + bytes(6))  # FNAME flag set
        ends = time.monotonic() + 10
        while time.monotonic() < ends:
            self.wfile.write(b"a" * 65536)
            time.sleep(0.01)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stream(self, content_type: str, body: bytes) -> None:
        """No Content-Length: only reading tells how large it is."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        for start in range(0, len(body), 8192):
            self.wfile.write(body[start : start + 8192])

    def _drip(self) -> None:
        """Headers at once, then one byte every 0.2 s: each read is quick, the page never ends."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body><p>")
        ends = time.monotonic() + SLOW_SECONDS
        while time.monotonic() < ends:
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.2)


@contextmanager
def web_server(private_base: str = "http://127.0.0.2:9") -> Iterator[str]:
    """Serve the test pages on loopback for the block; yields the base URL (no slash)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    server.private_base = private_base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
