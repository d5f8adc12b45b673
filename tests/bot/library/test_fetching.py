"""Fetching a page for /add, against a real HTTP server on loopback (tests/web_pages.py)."""

from __future__ import annotations

import gzip
import ipaddress
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from bot.library.content_encoding import BodyTooLarge, decoded
from bot.library.fetching import FetchLimits, FetchRefused, address_refusal, fetch_page, sniff_kind
from tests.web_pages import ARTICLE_FACT, gzip_bomb, web_server

OPEN = FetchLimits(timeout_seconds=2.0, max_bytes=100_000, allow_private=True)
GUARDED = FetchLimits(timeout_seconds=2.0, max_bytes=100_000, allow_private=False)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with web_server() as base:
        yield base


def _refusal(url: str, limits: FetchLimits = OPEN) -> str:
    with pytest.raises(FetchRefused) as refused:
        fetch_page(url, limits)
    return str(refused.value)


def test_an_article_page_is_fetched_as_html(site: str) -> None:
    page = fetch_page(f"{site}/article", OPEN)
    assert ARTICLE_FACT in page.html
    assert page.url == page.requested_url == f"{site}/article"


def test_redirects_are_followed_up_to_the_limit(site: str) -> None:
    page = fetch_page(f"{site}/hop/4", OPEN)  # five redirects: the limit
    assert page.url == f"{site}/article" and page.requested_url == f"{site}/hop/4"
    too_many = _refusal(f"{site}/hop/5")
    assert "redirects more than 5 times" in too_many and "final address" in too_many


def test_an_oversized_page_is_refused_while_reading(site: str) -> None:
    started = time.monotonic()
    streamed = _refusal(f"{site}/big")  # no Content-Length: refused past the limit
    assert "too large" in streamed and "FETCH_MAX_BYTES" in streamed
    declared = _refusal(f"{site}/big-declared")  # 50 MB announced: refused before reading
    assert "50.0 MB" in declared
    assert time.monotonic() - started < 2


def test_a_slow_page_is_refused_at_the_total_time_limit(site: str) -> None:
    """Each byte comes quickly, so only a limit on the whole fetch stops it."""
    started = time.monotonic()
    message = _refusal(f"{site}/slow", FetchLimits(1.0, 100_000, allow_private=True))
    elapsed = time.monotonic() - started
    assert "within 1 s" in message and "FETCH_TIMEOUT_SECONDS" in message
    assert 0.9 < elapsed < 1.8, elapsed


@pytest.mark.parametrize("path", ["/gzip", "/gzip-gzip", "/deflate", "/raw-deflate"])
def test_a_compressed_page_is_decoded(site: str, path: str) -> None:
    assert ARTICLE_FACT in fetch_page(f"{site}{path}", OPEN).html


@pytest.mark.parametrize("piece", [1000, 10**7])
def test_decoding_by_blocks_gives_back_every_byte(piece: int) -> None:
    """Many full blocks from one read, or a read at a time: the same bytes, in order."""
    data = b"".join(b"line %d of a long page\n" % n for n in range(200_000))
    packed = gzip.compress(gzip.compress(data))
    reads = [packed[at : at + piece] for at in range(0, len(packed), piece)]
    assert b"".join(decoded(reads, ["gzip", "gzip"], len(data))) == data
    with pytest.raises(BodyTooLarge):
        b"".join(decoded(reads, ["gzip", "gzip"], len(data) - 1))


class _CountingInflater:
    """A zlib inflater that adds the length of everything it decodes to `counts`."""

    def __init__(self, inner, counts: list[int]) -> None:  # zlib's object
        self._inner, self._counts = inner, counts

    def decompress(self, *args: object) -> bytes:
        out = self._inner.decompress(*args)
        self._counts.append(len(out))
        return out

    def flush(self, *args: object) -> bytes:
        out = self._inner.flush(*args)
        self._counts.append(len(out))
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


@pytest.mark.parametrize(("path", "layers"), [("/gzip-bomb", 1), ("/gzip-bomb-stacked", 2)])
def test_a_gzip_bomb_is_refused_having_decoded_little_more_than_the_cap(
    site: str, path: str, layers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 MB of zeros in 100 KB (or 331 bytes, gzipped twice): refused at FETCH_MAX_BYTES
    having decoded (every layer's output counted) at most the cap and 1 MiB, and with
    memory to match (httpx decoded each network read whole)."""
    gzip_bomb(layers)  # built before memory is traced
    fetch_page(f"{site}/gzip", OPEN)  # imports and first-use caches before memory is traced
    counts: list[int] = []
    inflater = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *a: _CountingInflater(inflater(*a), counts))
    limits = FetchLimits(timeout_seconds=10.0, max_bytes=3_000_000, allow_private=True)
    tracemalloc.start()
    try:
        message = _refusal(f"{site}{path}", limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "too large" in message and "FETCH_MAX_BYTES" in message
    assert sum(counts) <= limits.max_bytes + 2**20, f"decoded {sum(counts):,} bytes"
    assert peak < limits.max_bytes + 3 * 2**20, f"peak {peak:,} bytes"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/gzip-3", "compressed 3 times over"),
        ("/brotli", "content encoding 'br'"),
        ("/gzip-endless-name", "no text in its first"),
    ],
)
def test_bodies_the_bot_will_not_decode_are_refused_at_once(
    site: str, path: str, words: str
) -> None:
    started = time.monotonic()
    assert words in _refusal(f"{site}{path}")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("path", "kind"), [("/pdf", "a PDF document"), ("/png-as-html", "a PNG image")]
)
def test_a_body_that_is_not_html_is_refused_saying_what_it_is(
    site: str, path: str, kind: str
) -> None:
    message = _refusal(f"{site}{path}")
    assert f"gives {kind}, not a web page" in message and "attach" in message


def test_an_error_status_is_refused(site: str) -> None:
    assert "HTTP 404" in _refusal(f"{site}/missing")


def test_only_web_addresses_are_fetched() -> None:
    for address in ("file:///etc/passwd", "ftp://example.org/a", "example.org/a", "http://"):
        assert "not a web address" in _refusal(address)


def test_a_host_resolving_to_loopback_is_refused_unless_allowed(site: str) -> None:
    local = site.replace("127.0.0.1", "localhost")
    message = _refusal(f"{local}/article", GUARDED)
    assert "'localhost' is a loopback address" in message
    assert "FETCH_ALLOW_PRIVATE=True" in message
    assert fetch_page(f"{local}/article", OPEN).url == f"{local}/article"


def test_a_redirect_to_a_private_address_is_refused(site: str) -> None:
    """The first hop is to an address judged public; its redirect to 127.0.0.2 is not."""
    server = ipaddress.ip_address("127.0.0.1")

    def public_test_server(address):
        return None if address == server else address_refusal(address)

    assert fetch_page(f"{site}/article", GUARDED, judge=public_test_server)
    with pytest.raises(FetchRefused, match="'127.0.0.2' is a loopback address"):
        fetch_page(f"{site}/to-private", GUARDED, judge=public_test_server)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.7", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "loopback"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "reserved"),  # carrier-grade NAT
    ],
)
def test_addresses_of_the_own_network_are_refused(address: str, why: str) -> None:
    assert why in address_refusal(ipaddress.ip_address(address))


def test_public_addresses_are_allowed() -> None:
    assert address_refusal(ipaddress.ip_address("93.184.215.14")) is None
    assert address_refusal(ipaddress.ip_address("2606:4700::1111")) is None


def test_sniffing_tells_html_from_other_bodies() -> None:
    assert sniff_kind(b"\xef\xbb\xbf\n  <!DOCTYPE html><html>") == "html"
    assert sniff_kind(b"Just some words.") == "plain text"
    assert sniff_kind(b"%PDF-1.7") == "a PDF document"
    assert sniff_kind(b"\x00\x01\x02") == "a binary file"
