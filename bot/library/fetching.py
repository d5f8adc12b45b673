"""Fetch a web page for `/add` (or a feed for `/feed`) with every limit the internet needs.

The bot fetches addresses a moderator typed, so a page must not be able to make it
read the machine's own network: every host is resolved first, its addresses are
checked (private, loopback, link-local and reserved ones are refused unless
`FETCH_ALLOW_PRIVATE`), and the connection goes to the checked address, so a second
DNS answer cannot differ from the first. Redirects are followed here, one hop at a
time, each checked the same way. One deadline (`bot.deadline`) covers the whole fetch
(DNS, every hop, every read, also a server that trickles its headers), the body is
decoded only up to `FETCH_MAX_BYTES`, and only HTML is accepted: a PDF or an image is
refused before its body is read.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from bot.deadline import NO_KEEP_ALIVE, Deadline, DeadlineExceeded
from bot.errors import BotError
from bot.library.content_encoding import (
    ACCEPTED,
    BodyTooLarge,
    Undecodable,
    content_encodings,
    decoded,
)
from bot.settings import Settings
from retrieval.loading import binary_reason, decode

MAX_REDIRECTS = 5
_SNIFF_BYTES = 1024
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SNIFFED_TYPES = frozenset({"", "application/octet-stream", "text/plain"})  # often mislabelled
_HTML_SIGNS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta", b"<article")
_MAGIC = (  # what a body really is, whatever its header says
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
)
_USER_AGENT = "article-answer-bot/0.1 (+/add)"
_HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
_FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1"
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
T = TypeVar("T")
AddressJudge = Callable[[IPAddress], str | None]  # why an address must not be fetched, or None


class FetchRefused(BotError):
    """A page that cannot or must not be added; the message says why and what to do."""


@dataclass(frozen=True)
class FetchLimits:
    """How far one fetch may go: time in all, bytes, redirects, and private addresses."""

    timeout_seconds: float
    max_bytes: int
    allow_private: bool = False
    max_redirects: int = MAX_REDIRECTS

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        """The limits the settings name."""
        return cls(
            settings.fetch_timeout_seconds, settings.fetch_max_bytes, settings.fetch_allow_private
        )


@dataclass(frozen=True)
class _Kind:
    """What is fetched, and what a moderator can do instead when it is refused: the
    advice to attach an article's text is no help with a feed."""

    name: str
    too_large: str
    undecodable: str
    too_slow: str


_PAGE = _Kind(
    "page",
    too_large="Save the article's text and attach it instead.",
    undecodable="Save the article's text and attach it instead.",
    too_slow="Try again later, or save the page and attach it.",
)
_FEED = _Kind(
    "feed",
    too_large="Follow a smaller feed (many sites have one per section or tag), or an "
    "operator can raise FETCH_MAX_BYTES.",
    undecodable="Give the address of another feed of the site.",
    too_slow="Try again later.",
)


@dataclass(frozen=True)
class Page:
    """A fetched HTML page: the address asked for, where it ended up, and its text."""

    requested_url: str
    url: str
    html: str


@dataclass(frozen=True)
class FeedBody:
    """A fetched feed: the address asked for, where it ended up, and its undecoded bytes
    (the XML declares its own encoding, which the feed parser reads)."""

    requested_url: str
    url: str
    body: bytes


def address_refusal(address: IPAddress) -> str | None:
    """Why the bot must not connect to `address` (its own machine or network), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_reserved or address.is_multicast:
        return "a reserved address"
    if address.is_private:
        return "a private network address"
    if not address.is_global:
        return "a reserved address"
    return None


def check_url(url: str) -> httpx.URL:
    """The address as httpx parses it, if it is an http(s) address with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchRefused(
            f"'{url[:200]}' is not a web address; give one starting with https:// or http://."
        )
    try:
        return httpx.URL(url.strip())
    except httpx.InvalidURL as error:
        raise FetchRefused(f"'{url[:200]}' is not a valid web address ({error}).") from error


def resolve(host: str, port: int, deadline: Deadline) -> list[IPAddress]:
    """The host's addresses, found within the deadline (a stuck DNS server cannot hang us)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dns")
    try:
        found = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = found.result(timeout=deadline.left())
    except FutureTimeout:
        raise deadline.exceeded() from None
    except OSError as error:
        raise FetchRefused(f"cannot find the host '{host}' ({error}); check the address.") from None
    finally:
        pool.shutdown(wait=False)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])  # no IPv6 zone suffix
        if address not in addresses:
            addresses.append(address)
    return addresses


def checked_addresses(
    url: httpx.URL, limits: FetchLimits, deadline: Deadline, judge: AddressJudge
) -> list[IPAddress]:
    """The addresses to connect to for `url`; any refused one refuses the whole host."""
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = resolve(_ascii_host(url), port, deadline)
    if not limits.allow_private:
        for address in addresses:
            why = judge(address)
            if why is not None:
                raise FetchRefused(
                    f"'{url.host}' is {why} ({address}); the bot does not fetch from its own "
                    "network. An operator can allow it with FETCH_ALLOW_PRIVATE=True (an "
                    "intranet)."
                )
    return addresses


def fetch_page(url: str, limits: FetchLimits, judge: AddressJudge = address_refusal) -> Page:
    """Fetch one HTML page within `limits`, following redirects ourselves.

    Raises `FetchRefused` with a reason a moderator can act on for anything else.
    """
    final_url, html = _fetch(url, limits, judge, _HTML_ACCEPT, _read_html, _PAGE)
    return Page(url, final_url, html)


def fetch_feed(url: str, limits: FetchLimits, judge: AddressJudge = address_refusal) -> FeedBody:
    """Fetch an RSS or Atom feed within the same limits and address guard as a page."""
    final_url, body = _fetch(url, limits, judge, _FEED_ACCEPT, _read_feed, _FEED)
    return FeedBody(url, final_url, body)


def _fetch(
    url: str,
    limits: FetchLimits,
    judge: AddressJudge,
    accept: str,
    read: Callable[[httpx.Response, FetchLimits, Deadline], T],
    kind: _Kind,
) -> tuple[str, T]:
    """The final address and what `read` makes of the body, redirects followed one hop at
    a time, each hop's addresses checked, all within one deadline."""
    current = check_url(url)
    try:
        with Deadline(limits.timeout_seconds, "FETCH_TIMEOUT_SECONDS", current.host) as deadline:
            fetched = _follow(current, limits, judge, accept, read, deadline)
            deadline.left()  # a connection the watchdog cut may have looked like a body's end
            return fetched
    except DeadlineExceeded as error:
        raise FetchRefused(f"{error}. {kind.too_slow}") from None


def _follow(
    current: httpx.URL,
    limits: FetchLimits,
    judge: AddressJudge,
    accept: str,
    read: Callable[[httpx.Response, FetchLimits, Deadline], T],
    deadline: Deadline,
) -> tuple[str, T]:
    """`_fetch` within its deadline (which names the host of each hop)."""
    # no proxy detours; a connection per hop, so the deadline's watchdog can cut each one
    with httpx.Client(trust_env=False, follow_redirects=False, limits=NO_KEEP_ALIVE) as client:
        for _ in range(limits.max_redirects + 1):
            deadline.server = current.host
            addresses = checked_addresses(current, limits, deadline, judge)
            try:
                response = _connect(client, current, addresses, deadline, accept)
            except httpx.TimeoutException:
                raise deadline.exceeded() from None
            except httpx.HTTPError as error:
                if deadline.passed():  # the watchdog cut a server that trickled
                    raise deadline.exceeded() from None
                raise FetchRefused(
                    f"could not reach {current.host} ({type(error).__name__}: {error}); "
                    "check the address or try again later."
                ) from None
            try:
                if response.is_redirect:
                    current = check_url(urljoin(str(current), response.headers["location"]))
                    continue
                return str(current), read(response, limits, deadline)
            finally:
                response.close()
    raise FetchRefused(
        f"the address redirects more than {limits.max_redirects} times; give the final "
        "address of the article instead."
    )


def _connect(
    client: httpx.Client,
    url: httpx.URL,
    addresses: list[IPAddress],
    deadline: Deadline,
    accept: str,
) -> httpx.Response:
    """Open `url` on the first checked address that answers (pinned: no second DNS lookup).

    The Host header and TLS name stay the host's, so virtual hosts and certificates work.
    """
    failure: httpx.HTTPError | None = None
    for address in addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={"Host": url.netloc.decode("ascii"), "User-Agent": _USER_AGENT,
                     "Accept": accept, "Accept-Encoding": ACCEPTED},
            extensions={"sni_hostname": _ascii_host(url), **deadline.extensions},
            timeout=deadline.left(),
        )  # fmt: skip
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as error:
            failure = error
    assert failure is not None  # resolve() returns at least one address
    raise failure


def _ascii_host(url: httpx.URL) -> str:
    """The host as DNS and TLS know it (an international name in its xn-- form)."""
    return url.raw_host.decode("ascii")


def _read_html(response: httpx.Response, limits: FetchLimits, deadline: Deadline) -> str:
    """The body as text if it is HTML of an allowed size; else a refusal saying what it is."""
    _require_ok(response)
    media_type = _media_type(response)
    if media_type not in _HTML_TYPES | _SNIFFED_TYPES:
        raise FetchRefused(_not_html(describe_type(media_type)))
    body = _read_body(response, limits, deadline, _PAGE)
    kind = sniff_kind(body)
    if kind != "html":
        raise FetchRefused(_not_html(kind))
    return _decode(body, response.charset_encoding)


def _read_feed(response: httpx.Response, limits: FetchLimits, deadline: Deadline) -> bytes:
    """The body's bytes unless it is plainly no feed (a PDF, an image): the feed parser
    judges the rest, as feeds are served under many content types."""
    _require_ok(response)
    media_type = _media_type(response)
    if media_type == "application/pdf" or media_type.startswith(("image/", "video/", "audio/")):
        raise FetchRefused(_not_feed(describe_type(media_type)))
    body = _read_body(response, limits, deadline, _FEED)
    for magic, kind in _MAGIC:
        if body.startswith(magic):
            raise FetchRefused(_not_feed(kind))
    return body


def _require_ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise FetchRefused(
            f"the page answered HTTP {response.status_code} {response.reason_phrase}; "
            "check the address."
        )


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _read_body(
    response: httpx.Response, limits: FetchLimits, deadline: Deadline, kind: _Kind
) -> bytes:
    """The whole body, decoded by hand (`content_encoding`), refused as soon as it is known
    to pass `limits.max_bytes` or the deadline."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchRefused(_too_large(int(declared), limits.max_bytes, kind))
    body = bytearray()
    try:
        encodings = content_encodings(response.headers.get("content-encoding", ""))
        for piece in decoded(response.iter_raw(), encodings, limits.max_bytes):
            body += piece
            deadline.left()
    except BodyTooLarge:
        raise FetchRefused(_too_large(None, limits.max_bytes, kind)) from None
    except Undecodable as error:
        raise FetchRefused(f"{error}. {kind.undecodable}") from None
    except httpx.TimeoutException:
        raise deadline.exceeded() from None
    except httpx.HTTPError as error:
        if deadline.passed():  # the watchdog cut a server that trickled
            raise deadline.exceeded() from None
        raise FetchRefused(f"the page broke off while loading ({error}); try again.") from None
    return bytes(body)


def sniff_kind(data: bytes) -> str:
    """'html' when the body looks like an HTML page, else a description of what it is."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if binary_reason(data[:8192]):
        return "a binary file"
    sample = data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if sample.startswith(b"<") and any(sign in sample for sign in _HTML_SIGNS):
        return "html"
    return "plain text" if sample else "an empty page"


def describe_type(media_type: str) -> str:
    """A content type in words: 'a PDF document', 'an image (image/png)'."""
    if media_type == "application/pdf":
        return "a PDF document"
    if media_type.startswith(("image/", "video/", "audio/")):
        return f"{'an' if media_type[0] in 'aeiou' else 'a'} {media_type.split('/')[0]} file"
    return f"'{media_type}'"


def _not_html(kind: str) -> str:
    return (
        f"the address gives {kind}, not a web page. /add reads HTML pages; save the text "
        "as a .txt or .md file and attach it instead."
    )


def _not_feed(kind: str) -> str:
    return f"the address gives {kind}, not an RSS or Atom feed; give the feed's address."


def _too_large(size: int | None, limit: int, kind: _Kind) -> str:
    shown = f"{size / 1e6:.1f} MB" if size else f"more than {limit / 1e6:.1f} MB"
    return (
        f"the {kind.name} is too large ({shown}; the limit is {limit / 1e6:.1f} MB, "
        f"FETCH_MAX_BYTES). {kind.too_large}"
    )


def _decode(data: bytes, charset: str | None) -> str:
    """The page's declared charset when it works, else the corpus's own decoding."""
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data)
