"""Turn an `Answer` into Discord messages: the answer, then each quote with its article.

Pure functions, so the layout is tested without Discord. Messages respect
Discord's 2,000-character limit; quotes are block quotes, article links are
wrapped in <> so Discord shows no preview cards. Markdown in article text is
escaped so a quote looks exactly like the article; mentions are neutralised
by the bot's AllowedMentions.none(), not by editing text.
"""

from __future__ import annotations

import re

from bot.answering import Answer, Quote

MESSAGE_LIMIT = 2000
_MARKDOWN = re.compile(r"([\\*_`~|>#\[\]()-])")
# A link only when the whole source is a plain web address: no spaces, brackets or angle
# brackets that could close the <…> and hide another (masked) link inside the reply.
_PLAIN_URL = re.compile(r"https?://[^\s<>()\[\]`\\\"']+", re.IGNORECASE)


def is_plain_url(source: str) -> bool:
    """Whether a source may be shown as a link (see `_PLAIN_URL`)."""
    return _PLAIN_URL.fullmatch(source) is not None


def escape_markdown(text: str) -> str:
    """Backslash-escape characters Discord would read as formatting."""
    return _MARKDOWN.sub(r"\\\1", text)


def _source_line(title: str, source: str) -> str:
    if _PLAIN_URL.fullmatch(source):
        return f"— *{escape_markdown(title)}* (<{source}>)"
    if source == title:
        return f"— *{escape_markdown(title)}*"
    return f"— *{escape_markdown(title)}* (`{source.replace('`', '')}`)"


def _quote_block(quote: Quote) -> str:
    lines = " ".join(quote.text.split())
    return f"> {escape_markdown(lines)}\n{_source_line(quote.title, quote.source)}"


def answer_blocks(answer: Answer) -> list[str]:
    """The pieces of a reply, in order; each is kept whole in one message when it fits."""
    blocks = [escape_markdown(answer.answer)]
    for quote in answer.quotes:
        blocks.append(_quote_block(quote))
    if answer.related is not None:
        blocks.append(_quote_block(answer.related) + " · *related, not an answer*")
    elif answer.abstained and answer.closest:
        closest = "\n".join(f"• {escape_markdown(title)}" for title in answer.closest)
        blocks.append(f"Closest articles:\n{closest}")
    return blocks


def split_block(block: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut one over-long block at spaces; a cut block quote keeps its '> ' on each part."""
    quoted = block.startswith("> ")
    parts: list[str] = []
    rest = block
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        if quoted and not rest.startswith("> "):
            rest = "> " + rest
    parts.append(rest)
    return parts


def render_messages(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The reply as messages of at most `limit` characters, packing whole blocks."""
    messages: list[str] = []
    current = ""
    for block in answer_blocks(answer):
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
