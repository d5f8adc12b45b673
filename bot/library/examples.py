"""Example questions drawn from the community's own articles, for /help and a bare mention.

A fixed example ("Where did they have dinner?") fits only the demo corpus. These are
built from the titles of indexed articles, spread over the index in id order, so
they name things the community wrote about; no model is called, and the same
articles give the same examples.
"""

from __future__ import annotations

from retrieval.cleaning import shorten
from retrieval.store import IndexStore
from retrieval.text import words

EXAMPLES = 3
_TITLES_READ = 12  # at most this many articles are opened to find usable titles
_TITLE_WORDS = range(2, 13)  # a one-word or sentence-long title makes a poor question


def example_titles(store: IndexStore, count: int = EXAMPLES) -> list[str]:
    """Up to `count` usable article titles, evenly spread over the index's article ids."""
    ids = sorted(store.manifest())
    read = min(len(ids), _TITLES_READ)
    spread = [ids[(2 * n + 1) * len(ids) // (2 * read)] for n in range(read)]
    titles = [article.title for article_id in spread if (article := store.article(article_id))]
    usable = list(dict.fromkeys(t for t in titles if usable_title(t)))
    return [
        usable[(2 * n + 1) * len(usable) // (2 * count)] for n in range(min(count, len(usable)))
    ]


def usable_title(title: str) -> bool:
    """A title a member could ask about: a few words, not an address or a file name."""
    return len(words(title)) in _TITLE_WORDS and "://" not in title and "/" not in title


def example_question(title: str) -> str:
    """A question about one article, by its title."""
    return f"What do the articles say about “{shorten(title.rstrip(' .!?:;'), 80)}”?"


def example_questions(store: IndexStore, count: int = EXAMPLES) -> list[str]:
    """Example questions over the community's own articles; none for an empty index."""
    return [example_question(title) for title in example_titles(store, count)]
