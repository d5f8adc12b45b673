"""Turn an `Answer` into Discord messages: the answer, then each quote with its article.

Pure functions, so the layout is tested without Discord. Messages respect
Discord's 2,000-character limit; quotes are block quotes, each followed by its
article's title, linked when a web address is known (`bot/sources.py`), and its
date. Links are masked links with the address in <> so Discord shows no preview
cards. Markdown in article text is escaped so a quote looks exactly like the
article; mentions are neutralised by the bot's AllowedMentions.none(), not by
editing text.

Plain text, not embeds: a member who turned off "Show embeds and preview website
links" sees nothing of an embed, the streamed answer is edited into the same message
text it ends as, and masked links work in plain messages. Embeds would add a coloured
bar, not information.
"""

from __future__ import annotations

import re

from bot.answering.engine import Answer, Quote
from bot.sources import article_link, display_date

MESSAGE_LIMIT = 2000
CHECKING = "Checking this passage:"
CURSOR = " ▌"  # after an answer that is still being written
_MARKDOWN = re.compile(r"([\\*_`~|>#\[\]()-])")


def escape_markdown(text: str) -> str:
    """Backslash-escape characters Discord would read as formatting."""
    return _MARKDOWN.sub(r"\\\1", text)


def source_line(quote: Quote, base_url: str | None = None) -> str:
    """`— [Title](<https://…>) · 5 Mar 2024`: the quoted article, linked when a web
    address is known, and dated when its date is."""
    title = escape_markdown(" ".join(quote.title.split()))
    link = article_link(quote.source, quote.path, base_url)
    line = f"— [{title}](<{link}>)" if link else f"— *{title}*"
    day = display_date(quote.date)
    return f"{line} · {day}" if day else line


def _quote_block(quote: Quote, base_url: str | None) -> str:
    lines = " ".join(quote.text.split())
    return f"> {escape_markdown(lines)}\n{source_line(quote, base_url)}"


def answer_blocks(answer: Answer, base_url: str | None = None) -> list[str]:
    """The pieces of a reply, in order; each is kept whole in one message when it fits."""
    blocks = [escape_markdown(answer.answer)]
    for quote in answer.quotes:
        blocks.append(_quote_block(quote, base_url))
    if answer.related is not None:
        blocks.append(_quote_block(answer.related, base_url) + " · *related, not an answer*")
    elif answer.abstained and answer.closest:
        closest = "\n".join(f"• {escape_markdown(title)}" for title in answer.closest)
        blocks.append(f"Closest articles:\n{closest}")
    return blocks


def progress_message(
    passage: Quote | None,
    partial: str | None,
    limit: int = MESSAGE_LIMIT,
    base_url: str | None = None,
) -> str:
    """The reply while the model works: the passage being checked, marked so, then the
    answer so far with a cursor; one message of at most `limit` characters.

    A passage too long to leave room for the answer is cut at a space, with "…"
    before its source line, so what is shown is still the article's own words.
    """
    parts = []
    if passage is not None:
        block = _quote_block(passage, base_url)
        room = limit // 2 - len(CHECKING) - 3
        if len(block) > room:
            quoted, _, source = block.rpartition("\n")
            width = max(room - len(source) - 3, limit // 8)
            block = f"{_cut(quoted, width, quoted=True)[0]} …\n{source}"
        parts.append(f"*{CHECKING}*\n{block}")
    if partial:
        room = max(limit - sum(len(part) + 2 for part in parts) - len(CURSOR), 0)
        parts.append(escape_markdown(partial)[:room] + CURSOR)
    return "\n\n".join(parts)[:limit]  # a source line of thousands of characters


def split_block(block: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut one over-long block at spaces; a cut block quote keeps its '> ' on each part,
    and its source line stays whole, after the last part."""
    if block.startswith("> ") and "\n" in block:
        quoted, _, source = block.rpartition("\n")
        parts = _cut(quoted, limit, quoted=True)
        room = limit - len(source) - 1  # for the last part, so the source line follows it
        if len(parts[-1]) > room >= limit // 4:
            parts += _cut(parts.pop(), room, quoted=True)
        if len(parts[-1]) <= room:
            parts[-1] += "\n" + source
        else:
            parts += _cut(source, limit, quoted=False)
        return parts
    return _cut(block, limit, quoted=block.startswith("> "))


def _cut(text: str, limit: int, quoted: bool) -> list[str]:
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        if quoted and not rest.startswith("> "):
            rest = "> " + rest
    parts.append(rest)
    return parts


def render_messages(
    answer: Answer, limit: int = MESSAGE_LIMIT, base_url: str | None = None
) -> list[str]:
    """The reply as messages of at most `limit` characters, packing whole blocks;
    `base_url` is SOURCE_BASE_URL, for articles known only by their file path."""
    messages: list[str] = []
    current = ""
    for block in answer_blocks(answer, base_url):
        for piece in split_block(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages
