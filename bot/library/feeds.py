"""RSS and Atom feeds that keep the articles fresh: check a feed, and poll them all.

A feed is fetched like a page for `/add` (the same limits and address guard) and its
bytes are parsed here with feedparser, which never fetches anything itself. A poll
takes each feed that is not waiting out a backoff, fetches each new entry's link as
a page and adds it through the `/add` path (`add_drafts`: the managed folder, then
the incremental sync), with `added_by` naming the feed. At most `FEED_MAX_NEW`
entry pages are fetched per poll over all feeds; the rest wait for the next poll.

Nothing is lost or added twice: an entry counts as seen only after its article is
written and synced; before the add its entries are marked `writing`, and a poll that
finds such marks (an earlier one was killed) syncs the folder first, so an article
written but not indexed is found as "already have it". The sync runs inside
`sync_slot`, which the Discord bot maps to its reload lock (free, or skip the poll).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.errors import BotError
from bot.library.adding import Draft, Provenance, add_drafts, draft_from_url, indexed_under
from bot.library.feed_store import EntryRef, FeedState, FeedStore
from bot.library.fetching import FeedBody, FetchLimits, fetch_feed
from bot.library.syncing import reload_corpus
from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.store import IndexStore

log = logging.getLogger("bot.library.feeds")
SyncSlot = Callable[[], AbstractContextManager[bool]]  # True: the sync may run now
NOT_A_FEED = (
    "the address gives {what}, not an RSS or Atom feed. Give the feed's own address (a site "
    "links it as RSS or Atom; it often ends in /feed, /rss, /atom or .xml)."
)
_TITLE_MAX_CHARS = 200
RELOAD_RUNNING = "a reload was running; the poll stopped and the rest waits for the next poll"


def free_slot() -> AbstractContextManager[bool]:
    """The sync slot of a poll with no reload lock to share (the command line's): always free."""
    return nullcontext(True)


class FeedRefused(BotError):
    """An address that is no usable feed; the message says why and what to give instead."""


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title and its entries with links, oldest first."""

    title: str
    entries: tuple[EntryRef, ...]


@dataclass
class FeedResult:
    """What one poll did with one feed."""

    url: str
    title: str
    added: list[str] = field(default_factory=list)  # titles
    had: int = 0
    failed: list[str] = field(default_factory=list)  # "link: reason"
    waiting: int = 0  # new entries left for the next poll (FEED_MAX_NEW)
    error: str = ""  # the feed itself failed (or its entries could not be added)

    def line(self) -> str:
        """One line for a log or a reply."""
        if self.error:
            return f"{self.title or self.url}: failed: {self.error}"
        parts = [f"{len(self.added)} added", f"{self.had} already had"]
        parts += [f"{len(self.failed)} failed"] if self.failed else []
        parts += [f"{self.waiting} waiting for the next poll"] if self.waiting else []
        return f"{self.title or self.url}: " + ", ".join(parts)


@dataclass
class PollReport:
    """What one poll did, feed by feed; `stopped` says why it ended early, if it did."""

    results: list[FeedResult] = field(default_factory=list)
    stopped: str = ""

    @property
    def added(self) -> int:
        """Articles added by the whole poll."""
        return sum(len(r.added) for r in self.results)

    def lines(self) -> list[str]:
        """One line per feed polled, then why it stopped early, if it did."""
        lines = [r.line() for r in self.results] or ["No feed was due."]
        return lines + ([f"Stopped: {self.stopped}"] if self.stopped else [])


def parse_feed(fetched: FeedBody) -> ParsedFeed:
    """The feed in fetched bytes, relative links resolved against its address; a body that
    is no RSS or Atom feed is refused saying what it is."""
    parsed = feedparser.parse(  # a stream: feedparser must neither fetch nor open a path
        io.BytesIO(fetched.body), response_headers={"content-location": fetched.url}
    )
    if not parsed.get("version"):
        head = fetched.body[:512].lstrip().lower()
        what = "a web page" if b"<html" in head or b"<!doctype html" in head else "no feed"
        raise FeedRefused(NOT_A_FEED.format(what=what))
    entries = []
    links: set[str] = set()
    for entry in parsed.entries:
        link = urljoin(fetched.url, (entry.get("link") or "").strip())
        if urlsplit(link).scheme.lower() not in ("http", "https") or link in links:
            continue  # an entry without a page of its own, or one listed twice
        links.add(link)
        entries.append((_entry_time(entry), EntryRef(entry.get("id") or link, link)))
    if all(moment is not None for moment, _ in entries):
        entries.sort(key=lambda pair: pair[0])  # stable: same-time entries keep feed order
    else:
        entries.reverse()  # feeds list the newest first
    title = " ".join((parsed.feed.get("title") or "").split())[:_TITLE_MAX_CHARS] or fetched.url
    return ParsedFeed(title, tuple(entry for _, entry in entries))


def _entry_time(entry: dict) -> float | None:
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.mktime(moment) if moment else None


def check_feed(url: str, limits: FetchLimits) -> ParsedFeed:
    """Fetch and parse a feed once, as `/feed add` does before following it."""
    return parse_feed(fetch_feed(url.strip(), limits))


def poll_interval(settings: Settings) -> timedelta:
    """The time between polls; also the first backoff step of a failing feed."""
    return timedelta(minutes=settings.feed_poll_minutes or 60)


def poll_feeds(
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    feeds: FeedStore,
    *,
    sync_slot: SyncSlot = free_slot,
    wait: bool = False,
    now: datetime | None = None,
) -> PollReport:
    """Poll every feed that is due, adding at most FEED_MAX_NEW new entries in all.

    Runs in a worker thread (it fetches and syncs). `wait` is `add_drafts`'s: wait for
    another process's sync of the same index rather than fail.
    """
    moment = now or datetime.now(UTC)
    report = PollReport()
    if feeds.interrupted():  # an earlier poll was killed while adding
        with sync_slot() as free:
            if not free:
                report.stopped = RELOAD_RUNNING
                return report
            reload_corpus(settings, store, embedder, wait=wait)
            feeds.settle_interrupted()
    budget = settings.feed_max_new
    for feed in feeds.due(moment):
        result, batch = _harvest(feed, budget, settings, store, feeds, moment)
        report.results.append(result)
        budget -= len(batch) + len(result.failed)
        if batch:
            with sync_slot() as free:
                if not free:
                    report.stopped = RELOAD_RUNNING
                    break
                _add_batch(feed, batch, result, settings, store, embedder, feeds, wait, moment)
        log.info("Feed poll: %s", result.line())
    return report


def _harvest(
    feed: FeedState,
    budget: int,
    settings: Settings,
    store: IndexStore,
    feeds: FeedStore,
    now: datetime,
) -> tuple[FeedResult, list[tuple[EntryRef, Draft]]]:
    """Fetch the feed and up to `budget` of its new entries' pages (no lock held)."""
    limits = FetchLimits.from_settings(settings)
    result = FeedResult(feed.url, feed.title)
    try:
        parsed = check_feed(feed.url, limits)
    except BotError as error:
        state = feeds.record_failure(feed.url, str(error), now, poll_interval(settings))
        result.error = f"{error} (failed {state.failures}x in a row; next try {state.next_try})"
        log.warning("Feed %s failed: %s", feed.url, result.error)
        return result, []
    feeds.record_success(feed.url, parsed.title, now)
    result.title = parsed.title
    seen = feeds.seen(feed.url)
    new = [e for e in parsed.entries if e.key not in seen and e.link not in seen]
    batch: list[tuple[EntryRef, Draft]] = []
    for number, entry in enumerate(new):
        if len(batch) + len(result.failed) >= budget:
            result.waiting = len(new) - number
            break
        known = indexed_under(store, entry.link)
        if known is not None:  # no need to fetch what is indexed already
            feeds.mark(feed.url, [entry], "had", now, known.title)
            result.had += 1
            continue
        try:
            batch.append((entry, draft_from_url(entry.link, limits)))
        except BotError as error:
            gave_up = feeds.entry_failed(feed.url, entry, str(error), now)
            result.failed.append(f"{entry.link}: {error}" + (" (given up)" if gave_up else ""))
    return result, batch


def _add_batch(
    feed: FeedState,
    batch: list[tuple[EntryRef, Draft]],
    result: FeedResult,
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    feeds: FeedStore,
    wait: bool,
    now: datetime,
) -> None:
    """Add one feed's drafts in one sync; only then mark their entries seen."""
    entries = [entry for entry, _ in batch]
    feeds.mark(feed.url, entries, "writing", now)  # a kill from here on: see the docstring
    try:
        added = add_drafts(
            [draft for _, draft in batch],
            settings,
            store,
            embedder,
            Provenance.now(f"feed {feed.url}"),
            wait=wait,
        )
    except BaseException as error:  # the files written are taken out again: try again later
        feeds.mark(feed.url, entries, "failing", now, f"could not add: {error}")
        if not isinstance(error, BotError):
            raise
        result.error = f"could not add its entries: {error}"
        log.warning("Feed %s: %s", feed.url, result.error)
        return
    by_origin = {draft.origin: entry for entry, draft in batch}
    for outcome in added.added:
        feeds.mark(feed.url, [by_origin[outcome.origin]], "added", now, outcome.path)
        result.added.append(outcome.title)
    for outcome in added.duplicates:
        feeds.mark(feed.url, [by_origin[outcome.origin]], "had", now, outcome.title)
        result.had += 1
    for outcome in added.refused:  # the page's own content: trying again cannot help
        feeds.mark(feed.url, [by_origin[outcome.origin]], "gave up", now, outcome.reason)
        result.failed.append(f"{outcome.origin}: {outcome.reason} (given up)")


def describe(feed: FeedState, quote: Callable[[str], str] = str) -> str:
    """One feed for `/feed list` and `python -m bot feeds list`; `quote` escapes its texts."""
    text = f"{quote(feed.title)} <{feed.url}>: {feed.seen} entries seen, "
    text += f"last poll {feed.last_poll or 'never'}"
    if feed.failing:
        text += (
            f"; FAILING {feed.failures}x in a row: {quote(feed.last_error or '')}; "
            f"next try {feed.next_try}"
        )
    return text
