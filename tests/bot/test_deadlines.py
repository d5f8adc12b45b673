"""Every remote call ends within its wall-clock limit, against servers that trickle.

The server (tests/trickle.py) never lets a per-read timeout trip: headers a byte every
0.5 s, keep-alive lines every 0.25 s, text that never ends. Each call must come back within
its limit (1 s, short: each test waits it out) and 2 s more, with a message naming the
server and the setting. Generators are built from settings, as the bot builds them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import load_generator
from bot.generation.generators import GenerationFailed, ModelTooSlow
from bot.library.feeds import check_feed
from bot.library.fetching import FetchLimits, FetchRefused, fetch_page
from bot.settings import Settings
from retrieval.errors import IndexUnavailable, ModelUnavailable
from retrieval.models import ChromaServer
from retrieval.vectors import open_chroma
from tests.trickle import trickling_server

GRACE = 2.0
LIMIT = 1.0
MESSAGES = [{"role": "user", "content": "Who leads the council?"}]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with trickling_server() as base:
        yield base


def _settings(url: str, **limits: float) -> Settings:
    return Settings(_env_file=None, llm_base_url=url, **limits)


class _Clock:
    def __enter__(self) -> _Clock:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.monotonic() - self.started


@pytest.mark.parametrize("fetch", [fetch_page, check_feed], ids=["page", "feed"])
def test_a_fetch_whose_headers_trickle_ends_at_fetch_timeout_seconds(server: str, fetch) -> None:
    limits = FetchLimits(timeout_seconds=LIMIT, max_bytes=100_000, allow_private=True)
    with _Clock() as clock, pytest.raises(FetchRefused) as refused:
        fetch(f"{server}/headers/page", limits)
    assert clock.seconds < LIMIT + GRACE, clock.seconds
    assert "127.0.0.1" in str(refused.value) and "FETCH_TIMEOUT_SECONDS" in str(refused.value)


def test_the_start_up_check_of_a_trickling_model_server_ends_at_llm_check_seconds(
    server: str,
) -> None:
    url = f"{server}/headers/v1"
    with _Clock() as clock, pytest.raises(ModelUnavailable) as unavailable:
        load_generator(_settings(url, llm_check_seconds=LIMIT))
    assert clock.seconds < LIMIT + GRACE, clock.seconds
    message = str(unavailable.value)
    assert url in message and "LLM_CHECK_SECONDS" in message and "\n" not in message


def test_warming_up_a_trickling_model_server_ends_at_llm_warm_up_seconds(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{server}/post-headers/v1"
    generator = load_generator(_settings(url, llm_warm_up_seconds=LIMIT))
    with _Clock() as clock, caplog.at_level(logging.WARNING):
        generator.warm_up(MESSAGES)
    assert clock.seconds < LIMIT + GRACE, clock.seconds
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert url in warning and "LLM_WARM_UP_SECONDS" in warning


@pytest.mark.parametrize(
    ("mode", "error", "setting"),
    [
        ("post-headers", ModelTooSlow, "LLM_TIME_BUDGET_SECONDS"),  # no answer begins
        ("keepalive", ModelTooSlow, "LLM_TIME_BUDGET_SECONDS"),
        ("slow-forever", GenerationFailed, "LLM_ANSWER_SECONDS"),  # text, never an end
    ],
)
def test_an_answer_from_a_trickling_server_ends_within_its_limits(
    server: str, mode: str, error: type[Exception], setting: str
) -> None:
    url = f"{server}/{mode}/v1"
    slow = error is ModelTooSlow  # the wait for the first words passes first, else the whole
    generator = load_generator(_settings(url, llm_answer_seconds=30.0 if slow else LIMIT))
    with _Clock() as clock, pytest.raises(error) as failed:  # once text flows, only the whole
        generator.generate(MESSAGES, None, LIMIT if slow else LIMIT / 2)  # answer's limit holds
    assert clock.seconds < LIMIT + GRACE, clock.seconds
    assert url in str(failed.value) and setting in str(failed.value)


@pytest.mark.parametrize("mode", ["forever", "long-line"])
def test_an_answer_that_outgrows_any_reply_is_cut_off(server: str, mode: str) -> None:
    """Text as fast as loopback carries it (3.4 GB of RSS once): stopped by its size,
    long before any time limit."""
    url = f"{server}/{mode}/v1"
    generator = load_generator(_settings(url, llm_answer_seconds=60.0))
    with _Clock() as clock, pytest.raises(GenerationFailed) as failed:
        generator.generate(MESSAGES, None, 30.0)
    assert clock.seconds < 2, clock.seconds
    assert url in str(failed.value) and "LLM_MAX_TOKENS" in str(failed.value)


def test_a_chroma_server_that_stalls_after_its_heartbeat_is_refused_in_time(
    server: str, tmp_path: Path
) -> None:
    port = int(server.rsplit(":", 1)[1])
    with _Clock() as clock, pytest.raises(IndexUnavailable) as unavailable:
        open_chroma(tmp_path, ChromaServer("127.0.0.1", port, timeout=LIMIT))
    assert clock.seconds < LIMIT + GRACE, clock.seconds
    message = str(unavailable.value)
    assert f"127.0.0.1:{port}" in message
    assert "CHROMA_HOST" in message and "CHROMA_TIMEOUT_SECONDS" in message
