"""Every remote call ends within its wall-clock limit, against servers that trickle.

The server (tests/trickle.py) never lets a per-read timeout trip: headers a byte every
2 s, keep-alive lines every 0.5 s, text that never ends. Each call must come back within
its limit and 2 s more, with a message naming the server and the setting. Generators are
built from settings, as the bot builds them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.feeds import check_feed
from bot.fetching import FetchLimits, FetchRefused, fetch_page
from tests.trickle import trickling_server

GRACE = 2.0
LIMIT = 2.0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with trickling_server() as base:
        yield base


class _Clock:
    def __enter__(self) -> _Clock:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.monotonic() - self.started


@pytest.mark.parametrize("fetch", [fetch_page, check_feed], ids=["page", "feed"])
def test_a_fetch_whose_headers_trickle_ends_at_fetch_timeout_seconds(server: str, fetch) -> None:  # noqa: ANN001
    limits = FetchLimits(timeout_seconds=LIMIT, max_bytes=100_000, allow_private=True)
    with _Clock() as clock, pytest.raises(FetchRefused) as refused:
        fetch(f"{server}/headers/page", limits)
    assert clock.seconds < LIMIT + GRACE, clock.seconds
    assert "127.0.0.1" in str(refused.value) and "FETCH_TIMEOUT_SECONDS" in str(refused.value)
