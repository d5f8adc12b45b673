"""`articles`, `remove` and `restore` on a terminal: the console's and the CLI's text.

Discord renders the same finds and changes as pages and buttons
(`bot.frontends.discord.cogs.catalog`);
both go through the `Library`, so the work is `bot.library.catalog`'s either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.library.catalog import describe, find
from bot.terminal import printable

if TYPE_CHECKING:
    from bot.errors import Hints
    from bot.library.collection import Library
    from retrieval.store import ArticleSummary

LISTED = 50  # articles a terminal lists before asking for more words
VERBS = ("articles", "remove", "restore")  # the console's and the CLI's


def plain_lines(articles: Sequence[ArticleSummary]) -> list[str]:
    """One line per article for a terminal: title, then where it comes from (URL or path)."""
    return [printable(f"{article.title}  ({article.source})") for article in articles]


def run_verb(verb: str, text: str, library: Library, by: str, hints: Hints) -> str:
    """`articles`, `remove` or `restore` for the console and the CLI, as text to print;
    a refused sync says how to force it in the caller's words (`hints`)."""
    if verb == "articles":
        found = find(library.articles(), text)
        lines = plain_lines(found[:LISTED])
        if len(found) > LISTED:
            lines.append(f"… and {len(found) - LISTED} more; add words to narrow the list.")
        which = f" matching '{text.strip()}'" if text.strip() else ""
        return (
            "\n".join([f"{len(found)} articles{which}:", *lines])
            if found
            else (f"No articles{which}.")
        )
    if not text.strip():
        return f"Say which article: {verb} TITLE-or-PATH (articles lists them)."
    if verb == "remove":
        return printable(describe(library.remove(text, by), hints))
    return printable(describe(library.restore(text), hints))
