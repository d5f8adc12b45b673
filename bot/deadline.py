"""One wall-clock limit for a whole remote call, enforced even against a server that trickles.

httpx's timeouts are per read: a server that sends a byte of its headers every 2 s, a
keep-alive line every 0.5 s, or a body that never ends never trips them. A `Deadline`
is checked between reads (`left()`), and a watchdog thread cuts the call's connection
when it passes: it shuts the socket down (never closes it, so its number cannot be
reused under the reading thread), the blocked read returns, and httpx raises. The
caller then turns that error into `exceeded()`, a message naming the server and the
setting. The watchdog finds the socket through httpx's `trace` extension when the
connection is made, so a client must open a connection per request (`NO_KEEP_ALIVE`).

A call may also give its headers a nearer limit (`headers=`): the wait for a model
server's first words is shorter than its whole answer may take.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx

from bot.errors import BotError

NO_KEEP_ALIVE = httpx.Limits(max_keepalive_connections=0)  # every request traced from connect
_CONNECTED = ("connection.connect_tcp.complete", "connection.start_tls.complete")
_HEADERS = "http11.receive_response_headers.complete"
# Real time in every thread: test harnesses (SimCord) swap time.monotonic for a virtual
# clock in the caller's thread only, and the watchdog runs in its own.
_now = time.perf_counter


class DeadlineExceeded(BotError):
    """A remote call passed its deadline; the message names the server and the setting."""

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


class Deadline:
    """`seconds` for the whole call to `server`, set by `setting`; a context manager that
    runs the watchdog. Pass `extensions` with each request it covers."""

    def __init__(
        self,
        seconds: float,
        setting: str,
        server: str,
        *,
        headers: tuple[float, str] | None = None,
    ) -> None:
        started = _now()
        self.seconds, self.setting, self.server = seconds, setting, server
        self._ends = started + seconds
        self._headers = headers
        self._headers_end = started + headers[0] if headers else None
        self._condition = threading.Condition()
        self._sockets: list[socket.socket] = []
        self._tripped: tuple[float, float, str] | None = None
        self._done = False
        self.extensions = {"trace": self._trace}

    def __enter__(self) -> Deadline:
        threading.Thread(target=self._watch, name="deadline", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._condition:
            self._done = True
            self._condition.notify_all()

    def left(self) -> float:
        """Seconds left before the nearest limit; past it, raise `exceeded()`."""
        with self._condition:
            left = self._binding()[0] - _now()
            tripped = self._tripped is not None
        if left <= 0 or tripped:
            raise self.exceeded()
        return left

    def passed(self) -> bool:
        """Whether a limit has passed (the watchdog may already have cut the call)."""
        try:
            self.left()
        except DeadlineExceeded:
            return True
        return False

    def exceeded(self) -> DeadlineExceeded:
        """The error for the limit that passed: which server, how long, which setting."""
        with self._condition:
            _, seconds, setting = self._tripped or self._binding()
        began = self._headers is None or setting != self._headers[1]
        return DeadlineExceeded(
            f"{self.server} did not {'finish' if began else 'begin to answer'} within "
            f"{seconds:g} s ({setting})",
            setting,
        )

    def blame(self, error: Exception) -> Exception:
        """What to report for a failed call: `exceeded()` once a limit has passed (a
        connection the watchdog cut fails as a protocol or read error), else `error`."""
        if isinstance(error, DeadlineExceeded) or not self.passed():
            return error
        return self.exceeded()

    def _binding(self) -> tuple[float, float, str]:
        """The nearest limit still in force: (when it ends, its seconds, its setting)."""
        if self._headers and self._headers_end is not None and self._headers_end <= self._ends:
            return (self._headers_end, *self._headers)
        return (self._ends, self.seconds, self.setting)

    def _trace(self, event: str, info: dict) -> None:
        """httpx's trace hook: note each socket the call connects, and when headers came."""
        with self._condition:
            if event == _HEADERS:
                self._headers_end = None  # the whole-call limit alone from here on
                self._condition.notify_all()
            elif event in _CONNECTED and info.get("return_value") is not None:
                found = info["return_value"].get_extra_info("socket")
                if found is not None:
                    self._sockets.append(found)
                    if self._tripped:
                        _shut(found)

    def _watch(self) -> None:
        """Sleep until the nearest limit (it may move when headers come), then cut."""
        with self._condition:
            while not self._done:
                limit = self._binding()
                wait = limit[0] - _now()
                if wait <= 0:
                    self._tripped = limit
                    for found in self._sockets:
                        _shut(found)
                    return
                self._condition.wait(wait)


def _shut(found: socket.socket) -> None:
    """Wake any read blocked on the socket (it sees the end of the stream)."""
    try:
        found.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing is blocked on it
