"""`python -m bot feeds poll|list|add|remove`: feeds for operators, scripts and cron.

The same feeds as Discord's `/feed` (INDEX_DIR/feeds.sqlite) and the same poll as the
bot's background task. With FEED_POLL_MINUTES=0 the bot never polls and cron runs
`feeds poll`; while the bot runs with embedded vectors, its own poll does the work.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from bot.app import open_library
from bot.library.adding import who_runs_this
from bot.library.feed_store import FeedStore
from bot.library.feeds import check_feed, describe
from bot.library.fetching import FetchLimits
from bot.library.syncing import require_corpus
from bot.settings import Settings
from bot.terminal import printable, say_loading_embedding

EXIT_FAILED = 2


def add_feeds_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The `feeds` command and its verbs."""
    feeds = commands.add_parser(
        "feeds",
        help="follow RSS and Atom feeds and poll them (as Discord's /feed does)",
        description="Feeds live in INDEX_DIR/feeds.sqlite. `feeds poll` adds new entries of "
        "every feed that is due (at most FEED_MAX_NEW) through the same path as `add`; exit "
        "code 0 when every feed answered, 2 when one failed (the reasons are on stderr).",
    )
    verbs = feeds.add_subparsers(dest="verb", required=True, metavar="VERB")
    poll = verbs.add_parser("poll", parents=[common], help="add the new entries now (cron)")
    poll.set_defaults(handler=cmd_feeds_poll)
    listing = verbs.add_parser("list", parents=[common], help="the feeds, last polls and errors")
    listing.set_defaults(handler=cmd_feeds_list)
    add = verbs.add_parser("add", parents=[common], help="check a feed once and follow it")
    add.add_argument("url", metavar="URL")
    add.set_defaults(handler=cmd_feeds_add)
    remove = verbs.add_parser("remove", parents=[common], help="stop following a feed")
    remove.add_argument("url", metavar="URL")
    remove.set_defaults(handler=cmd_feeds_remove)


def cmd_feeds_poll(args: argparse.Namespace, settings: Settings) -> int:
    """One poll of every due feed; the articles are written and synced as `add` does."""
    require_corpus(settings)
    # the model loads only if something is added
    with open_library(settings, on_load=say_loading_embedding) as library:
        report = library.poll(wait=True)
    failed = any(result.error for result in report.results)
    print("\n".join(map(printable, report.lines())), file=sys.stderr if failed else sys.stdout)
    return EXIT_FAILED if failed else 0


def cmd_feeds_list(args: argparse.Namespace, settings: Settings) -> int:
    """Every followed feed with its last poll and any error."""
    feeds = FeedStore(settings.index_dir).feeds()
    print("\n".join(describe(feed, printable) for feed in feeds) or "No feeds are followed.")
    return 0


def cmd_feeds_add(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch and parse the feed once, then follow it."""
    url = args.url.strip()
    parsed = check_feed(url, FetchLimits.from_settings(settings))  # refusals: exit 2, stderr
    now = datetime.now(UTC)
    if not FeedStore(settings.index_dir).add_feed(url, parsed.title, who_runs_this("cli"), now):
        print(f"Already following “{printable(parsed.title)}” <{url}>.")
        return 1
    print(
        f"Following “{printable(parsed.title)}” <{url}>: {len(parsed.entries)} entries with a page."
    )
    return 0


def cmd_feeds_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Stop following a feed; its articles stay."""
    found = FeedStore(settings.index_dir).remove_feed(args.url.strip())
    if found is None:
        print(f"No followed feed has the address {args.url}.", file=sys.stderr)
        return EXIT_FAILED
    print(f"No longer following “{printable(found.title)}”; the articles it added stay.")
    return 0
