"""A loopback server that trickles, for tests of wall-clock deadlines (`bot.deadline`).

Nothing it sends ever trips a per-read timeout. The first part of the path picks how it
misbehaves; the rest is free, so `http://127.0.0.1:PORT/keepalive/v1` is a model server:

- `/headers/...`: every request gets its status line and headers one byte every
  `HEADER_GAP` seconds;
- `/post-headers/...`: GETs are answered (`{"data": []}`), POSTs trickle their headers;
- `/keepalive/...`: POSTs get their headers, then a server-sent-event comment every 0.5 s;
- `/forever/...`: POSTs get their headers, then answer text as fast as it goes;
- `/slow-forever/...`: the same, one piece every 0.2 s;
- `/long-line/...`: POSTs get their headers, then one line that never ends;
- `/api/v2/heartbeat` (a Chroma server): answered; every other path stalls, silent.

It runs in a thread on 127.0.0.1 for the `with` block only, answers at most
`MAX_REQUESTS` requests, and every response stops by itself after `LIFETIME` seconds or
`MAX_BYTES` bytes.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

HEADER_GAP = 1.0  # under any per-read timeout the tests set, so none trips
LIFETIME = 15.0
MAX_REQUESTS = 40
MAX_BYTES = 20_000_000  # what one response may send in all
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
_TEXT = "data: " + json.dumps({"choices": [{"delta": {"content": "x" * 100}}]}) + "\n\n"


class _Trickle(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass  # quiet tests

    def do_GET(self) -> None:  # the http.server name
        self._serve(post=False)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._serve(post=True)

    def _serve(self, post: bool) -> None:
        self.server.requests += 1
        mode = self.path.split("/")[1]
        ends = time.monotonic() + LIFETIME
        try:
            if self.server.requests > MAX_REQUESTS:
                self._answer(503, b"enough")
            elif mode == "api":  # a Chroma server
                if self.path.startswith("/api/v2/heartbeat"):
                    self._answer(200, b'{"nanosecond heartbeat": 1}')
                else:
                    self._stall(ends)
            elif mode == "headers" or (mode == "post-headers" and post):
                self._drip(_HEAD, ends)
            elif not post:
                self._answer(200, b'{"data": []}')
            else:
                self._stream(mode, ends)
        except OSError:
            pass  # the client gave up, as it should

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, data: bytes, ends: float) -> None:
        for at in range(len(data)):
            if time.monotonic() > ends or self.server.stopping.is_set():
                return
            self.wfile.write(data[at : at + 1])
            self.wfile.flush()
            time.sleep(HEADER_GAP)

    def _stall(self, ends: float) -> None:
        while time.monotonic() < ends and not self.server.stopping.is_set():
            time.sleep(0.1)

    def _stream(self, mode: str, ends: float) -> None:
        self.wfile.write(_HEAD)
        if mode == "long-line":
            self.wfile.write(b"data: ")
        piece, gap = {
            "keepalive": (b": keep-alive\n\n", 0.5),
            "forever": (_TEXT.encode(), 0.0),
            "slow-forever": (_TEXT.encode(), 0.2),
            "long-line": (b"x" * 1000, 0.0),
        }[mode]
        for _ in range(MAX_BYTES // len(piece)):
            if time.monotonic() > ends or self.server.stopping.is_set():
                return
            self.wfile.write(piece)
            self.wfile.flush()
            time.sleep(gap)


@contextmanager
def trickling_server() -> Iterator[str]:
    """Run the server for the block; yields its base URL (no slash)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.requests = 0
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
