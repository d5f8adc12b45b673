"""Where a member can read a quoted article: a web address and a date, never a file path.

A file path such as `guides/laser-cutter.md` means nothing to a member, so an answer
links the article's title to the first web address known for it: its own URL (the
front-matter `url` of a `.md`, the canonical URL of an HTML page, the `url` of a
`.jsonl` line), or else `SOURCE_BASE_URL` plus its path, for a folder that is also
published on a site. Only plain `http(s)` addresses become links.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

# A whole plain web address: no spaces, brackets or angle brackets that could close the
# <…> around it and hide another (masked) link inside the reply.
_WEB_ADDRESS = re.compile(r"https?://[^\s<>()\[\]`\\\"']+", re.IGNORECASE)
MAX_LINK_CHARS = 500  # longer addresses are shown as the title alone


def is_web_address(text: str) -> bool:
    """Whether `text` is one plain http(s) address, safe to put inside <…>."""
    return len(text) <= MAX_LINK_CHARS and _WEB_ADDRESS.fullmatch(text) is not None


def article_link(source: str, path: str, base_url: str | None) -> str | None:
    """The article's web address, or None when no plain http(s) address is known.

    `source` is the article's own URL when it has one, else its file path (`path`); a
    `.jsonl` line without a URL has neither, so it gets no `SOURCE_BASE_URL` link.
    """
    if is_web_address(source):
        return source
    if base_url and path and source == path:
        link = f"{base_url.rstrip('/')}/{quote(path)}"
        return link if is_web_address(link) else None
    return None


def display_date(iso: str | None) -> str | None:
    """`2024-03-05` as `5 Mar 2024` (read the same way in every country), or None."""
    try:
        day = date.fromisoformat(iso or "")
    except ValueError:
        return None
    return f"{day.day} {day:%b} {day.year}"
