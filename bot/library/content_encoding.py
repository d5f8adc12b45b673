"""A fetched body's Content-Encoding undone by hand, so compression cannot outgrow the cap.

httpx decodes each network read whole before its caller can count it: 1,897 bytes of
`gzip, gzip` became gigabytes. Here each layer inflates at most `BLOCK` bytes per step
(zlib's `max_length`) and every layer's output is counted against the limit, so no more
than the limit and one block is ever decoded. At most two layers are undone, only gzip
and deflate, and a layer that takes `_STARVED_BYTES` of input without giving any output
(a gzip header whose file name never ends, empty deflate blocks) is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

BLOCK = 64 * 1024
MAX_LAYERS = 2
ACCEPTED = "gzip, deflate"  # what to ask servers for: what this module decodes
_STARVED_BYTES = 64 * 1024
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyTooLarge(Exception):
    """The body (or one of its layers) decodes to more than the limit."""


class Undecodable(Exception):
    """A body the bot will not decode; the message says why."""


def content_encodings(header: str) -> list[str]:
    """The encodings of a Content-Encoding header, in the order they were applied."""
    names = [name.strip().lower() for name in header.split(",")]
    names = [name for name in names if name not in ("", "identity")]
    for name in names:
        if name not in _WBITS:
            raise Undecodable(
                f"the page is sent with content encoding '{name[:40]}', which the bot cannot read"
            )
    if len(names) > MAX_LAYERS:
        raise Undecodable(
            f"the page is compressed {len(names)} times over; the bot undoes at most {MAX_LAYERS}"
        )
    return names


def decoded(raw: Iterable[bytes], encodings: list[str], limit: int) -> Iterator[bytes]:
    """The body's bytes, layer by layer undone; BodyTooLarge once any layer passes `limit`."""
    pieces = _counted(raw, limit)
    for name in reversed(encodings):  # the last applied is undone first
        pieces = _counted(_inflated(pieces, name), limit)
    return pieces


def _counted(pieces: Iterable[bytes], limit: int) -> Iterator[bytes]:
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise BodyTooLarge
        yield piece


def _inflated(pieces: Iterable[bytes], name: str) -> Iterator[bytes]:
    """One layer undone, at most `BLOCK` bytes per step; data after its end is ignored."""
    wbits = _WBITS[name]
    inflater = zlib.decompressobj(wbits)
    started = False
    starved = 0  # input taken since the last output
    for data in pieces:
        while data and not inflater.eof:
            try:
                out = inflater.decompress(data, BLOCK)
            except zlib.error as error:
                if started or wbits != zlib.MAX_WBITS:
                    raise Undecodable(f"the page's {name} data is damaged ({error})") from None
                wbits = -zlib.MAX_WBITS  # raw deflate, as many servers send under "deflate"
                inflater = zlib.decompressobj(wbits)
                continue
            started = True
            starved = 0 if out else starved + len(data) - len(inflater.unconsumed_tail)
            if starved > _STARVED_BYTES:
                raise Undecodable(
                    f"the page's {name} data gives no text in its first {_STARVED_BYTES // 1024} KB"
                )
            data = inflater.unconsumed_tail
            if out:
                yield out
            while len(out) == BLOCK and not data:  # a full block may leave output pending
                out = inflater.decompress(b"", BLOCK)
                if out:
                    yield out
