"""Find, remove and restore articles by title: what `/articles`, `/remove` and `/restore`
share in Discord, the console and the CLI (the terminals' text is `bot.frontends.catalog_verbs`).

Removing never touches the operator's files. An article added through Discord (a file
of its own in the managed folder, see `bot.library.managed`) is deleted; any other article is
hidden through the index folder's hidden list (`retrieval.hidden`), which every sync
honours and `restore_article` undoes. Either way the same incremental, atomic sync as
`/reload` then runs, so the article stops being answered from at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from bot.errors import BotError, Hints, explained
from bot.library.managed import added_folder, is_added
from bot.library.syncing import reload_corpus, require_corpus
from bot.settings import Settings
from bot.terminal import printable
from retrieval.cleaning import shorten
from retrieval.embedding import Embedder
from retrieval.errors import SyncRefused
from retrieval.hidden import HiddenArticle, load_hidden, save_hidden
from retrieval.locking import reload_lock
from retrieval.store import ArticleSummary, IndexStore
from retrieval.sync import SyncReport, refuse_other_folder
from retrieval.text import folded, words

MATCHES_SHOWN = 10  # in an "ambiguous" message


class Titled(Protocol):
    """Anything with an article id, a path and a title (indexed or hidden articles)."""

    article_id: str
    path: str
    title: str


T = TypeVar("T", bound=Titled)


class ArticleNotFound(BotError):
    """No article has that title or path."""


class AmbiguousTitle(BotError):
    """Several articles match what was typed; the message lists them."""


@dataclass(frozen=True)
class Change:
    """What `/remove` or `/restore` did, and the sync that followed (None if it was refused)."""

    article_id: str
    title: str
    path: str
    action: str  # "deleted", "hidden" or "restored"
    report: SyncReport | None
    refused: SyncRefused | None = None


def query_words(text: str) -> list[str]:
    """Words compared case- and accent-blind ("cafe" finds "Café")."""
    return words(folded(text))


def matches(typed: Sequence[str], *texts: str) -> bool:
    """Every typed word starts a word of one of `texts`: "lib reop" finds "Library reopens"."""
    available = [word for text in texts for word in query_words(text)]
    return all(any(word.startswith(part) for word in available) for part in typed)


def find(items: Sequence[T], text: str) -> list[T]:
    """The items whose title or path holds every word of `text` (all of them for no words)."""
    typed = query_words(text)
    return [item for item in items if matches(typed, item.title, item.path)]


def resolve(items: Sequence[T], text: str, what: str = "article") -> T:
    """The one item `text` names: its id or path, else its exact title, else its words.

    None or several raise an error that says what to type instead.
    """
    wanted = text.strip()
    for same in (
        lambda item: wanted in (item.article_id, item.path),
        lambda item: folded(item.title.strip()) == folded(wanted),
    ):
        exact = [item for item in items if same(item)]
        if len(exact) == 1:
            return exact[0]
        if exact:
            raise _ambiguous(exact, wanted, what)
    found = find(items, wanted) if query_words(wanted) else []
    if len(found) == 1:
        return found[0]
    if found:
        raise _ambiguous(found, wanted, what)
    raise ArticleNotFound(
        f"No {what} matches '{shorten(wanted, 100)}'. List them with /articles (hidden ones "
        "are in /status) and give a title or a path exactly."
    )


def _ambiguous(items: Sequence[Titled], wanted: str, what: str) -> AmbiguousTitle:
    listed = [printable(f"  {item.title} ({item.path})") for item in items[:MATCHES_SHOWN]]
    if len(items) > MATCHES_SHOWN:
        listed.append(f"  … and {len(items) - MATCHES_SHOWN} more")
    return AmbiguousTitle(
        f"'{shorten(wanted, 100)}' matches {len(items)} {what}s; give more of the title, "
        "or the path:\n" + "\n".join(listed)
    )


def file_to_delete(corpus_dir: Path, article: ArticleSummary) -> Path | None:
    """The managed file holding just this article, or None when it must be hidden instead
    (the operator's file, one line of a .jsonl, or a link: nothing else is deleted)."""
    if not is_added(article.path) or article.article_id != article.path:
        return None
    target = corpus_dir / article.path
    if target.is_symlink() or not target.resolve().is_relative_to(
        added_folder(corpus_dir).resolve()
    ):
        return None
    return target


def remove_article(
    settings: Settings, store: IndexStore, embedder: Embedder, text: str, by: str
) -> Change:
    """Delete (added) or hide (operator's) the article `text` names, then sync."""
    article = resolve(store.article_summaries(), text)
    target = file_to_delete(settings.corpus_dir, article)
    refuse_early(settings, store)
    with reload_lock(settings.index_dir):  # no sync reads the folder or list half-changed
        if target is not None:
            target.unlink(missing_ok=True)
        else:
            hide(settings.index_dir, article, by)
    action = "deleted" if target is not None else "hidden"
    return _synced(settings, store, embedder, article, action)


def refuse_early(settings: Settings, store: IndexStore) -> None:
    """Raise now, before anything changes, what would stop the sync that follows: no corpus
    folder, another folder than the index's, vectors another process holds."""
    require_corpus(settings)
    refuse_other_folder(store, str(settings.corpus_dir.resolve()))
    store.vector_count()  # opens (and claims) the vectors: IndexBusy if another process has them


def hide(index_dir: Path, article: Titled, by: str) -> None:
    """Put the article on the hidden list (once), saying who hid it and when."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entry = HiddenArticle(article.article_id, article.path, article.title, by, now)
    others = [e for e in load_hidden(index_dir) if e.article_id != article.article_id]
    save_hidden(index_dir, [*others, entry])


def restore_article(settings: Settings, store: IndexStore, embedder: Embedder, text: str) -> Change:
    """Take the hidden article `text` names off the hidden list, then sync it back in."""
    refuse_early(settings, store)
    with reload_lock(settings.index_dir):
        hidden = load_hidden(settings.index_dir)
        entry = resolve(hidden, text, "hidden article")
        save_hidden(settings.index_dir, [e for e in hidden if e.article_id != entry.article_id])
    return _synced(settings, store, embedder, entry, "restored")


def _synced(
    settings: Settings, store: IndexStore, embedder: Embedder, article: Titled, action: str
) -> Change:
    try:
        report = reload_corpus(settings, store, embedder)
    except SyncRefused as refused:  # the change stands; the next sync that runs applies it
        return Change(article.article_id, article.title, article.path, action, None, refused)
    return Change(article.article_id, article.title, article.path, action, report)


def describe(change: Change, hints: Hints) -> str:
    """One paragraph saying what happened, for every front end; a refused sync with the
    front end's own `hints` on forcing it."""
    what = {
        "deleted": f"Deleted '{change.title}' ({change.path}) from the added articles.",
        "hidden": f"Hid '{change.title}' ({change.path}); its file stays in the corpus "
        "folder and /restore brings it back.",
        "restored": f"Restored '{change.title}' ({change.path}).",
    }[change.action]
    if change.report is None:
        return (
            f"{what} The index was not updated, so the change shows after the next reload: "
            f"{explained(change.refused, hints)}"
        )
    if change.action == "restored" and change.article_id not in change.report.added:
        what += " Its file is no longer in the corpus folder, so nothing came back."
    return f"{what} {change.report.summary()}"
