"""/feed and the background poll driven through SimCord on the real command tree and index.

The fixtures (a town corpus indexed for real, the bot, a guild) are test_client's; the
settings here let the bot fetch loopback feeds and keep the timed poll off, so each test
polls when it says so (one test turns the timed poll on to see it run).
"""

# ruff: noqa: F811

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.frontends.discord.cogs.feeds import NO_FEEDS
from bot.library.feeds import RELOAD_RUNNING
from bot.settings import Settings
from retrieval.store import IndexStore
from tests.bot.frontends.discord.test_client import (  # noqa: F401
    corpus,
    engine,
    library,
    moderator,
    simcord_bot,
    world,
)
from tests.feed_pages import RSS_STORIES, feed_server

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(corpus: Path, index_dir: Path) -> Settings:
    """Loopback feeds allowed, and no timed poll racing the test's own."""
    loopback = {"fetch_allow_private": True, "feed_poll_minutes": 0}
    return Settings(_env_file=None, corpus_dir=corpus, index_dir=index_dir, **loopback)


def _cog(env):
    return env.bot.get_cog("FeedsCog")


def _articles(env) -> int:
    with IndexStore(env.bot.settings.index_dir) as store:
        return store.article_count()


async def test_a_moderator_follows_feeds_and_hears_how_many_entries_they_have(world) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    with feed_server() as site:
        rss = await mod.slash(channel, "feed add", url=f"{site.base}/rss")
        atom = await mod.slash(channel, "feed add", url=f" {site.base}/atom ")
        again = await mod.slash(channel, "feed add", url=f"{site.base}/rss")
        page = await mod.slash(channel, "feed add", url=f"{site.base}/article")
    assert rss.ephemeral and rss.response.content == (
        f"Following “Dunmore Parish News” <{site.base}/rss>: 3 entries with a page. The bot "
        "does not poll (FEED_POLL_MINUTES=0): the operator adds entries with "
        "`python -m bot feeds poll`."
    )
    assert atom.response.content.startswith("Following “Glenfield Notes”")
    assert again.response.content == f"Already following “Dunmore Parish News” <{site.base}/rss>."
    assert page.ephemeral and page.response.content.startswith(
        "Not followed: the address gives a web page, not an RSS or Atom feed."
    )
    assert [f.url for f in env.bot.library.feeds.feeds()] == [
        f"{site.base}/rss",
        f"{site.base}/atom",
    ]


async def test_a_poll_adds_the_entries_and_list_and_status_show_feeds_and_failures(world) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    with feed_server() as site:
        await mod.slash(channel, "feed add", url=f"{site.base}/rss")
        env.bot.library.feeds.add_feed(
            f"{site.base}/broken", "Broken News", "test", datetime.now(UTC)
        )
        report = await _cog(env).poll_now()
        listing = await mod.slash(channel, "feed list")
    assert report.added == 3 and _articles(env) == 4 + len(RSS_STORIES)
    assert env.bot.last_reload is not None
    text = listing.response.content
    assert listing.ephemeral and f"• Dunmore Parish News <{site.base}/rss>: 3 entries seen" in text
    assert "Broken News" in text and "FAILING 1x in a row: the page answered HTTP 500" in text
    status = (await mod.slash(channel, "status")).response.content
    assert (
        f"**Feeds:** 2 followed, 1 failing: {site.base}/broken \\(1x: the page answered" in status
    )


async def test_remove_autocompletes_the_feeds_and_stops_following_one(world) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    with feed_server() as site:
        await mod.slash(channel, "feed add", url=f"{site.base}/rss")
        choices = await mod.autocomplete(channel, "feed remove", "feed", "parish")
        unknown = await mod.slash(channel, "feed remove", feed=f"{site.base}/nothing")
        removed = await mod.slash(channel, "feed remove", feed=choices[0]["value"])
    assert [c["value"] for c in choices] == [f"{site.base}/rss"]
    assert "No followed feed has the address" in unknown.response.content
    assert removed.ephemeral and removed.response.content.startswith(
        f"No longer following “Dunmore Parish News” <{site.base}/rss>."
    )
    assert (await mod.slash(channel, "feed list")).response.content == NO_FEEDS


async def test_feed_commands_refuse_members_without_permission(world) -> None:
    env, guild, channel, alice = world
    commands = await env.bot.tree.fetch_commands()
    feed_command = next(c for c in commands if c.name == "feed")
    guild.set_command_permissions(feed_command, {alice: True})  # visible: it must refuse
    with feed_server() as site:
        env.bot.library.feeds.add_feed(f"{site.base}/rss", "Parish", "test", datetime.now(UTC))
        results = [
            await alice.slash(channel, "feed add", url=f"{site.base}/atom"),
            await alice.slash(channel, "feed list"),
            await alice.slash(channel, "feed remove", feed=f"{site.base}/rss"),
        ]
        choices = await alice.autocomplete(channel, "feed remove", "feed", "")
        hits = list(site.hits)
    assert all(r.ephemeral and "Only moderators" in r.response.content for r in results)
    assert choices == [] and hits == []  # the atom feed was not even fetched
    assert [f.url for f in env.bot.library.feeds.feeds()] == [f"{site.base}/rss"]


async def test_a_poll_skips_while_a_reload_runs_and_the_timed_poll_adds_entries(world) -> None:
    env, guild, channel, _ = world
    cog = _cog(env)
    with feed_server() as site:
        env.bot.library.feeds.add_feed(
            f"{site.base}/rss", "Dunmore Parish News", "test", datetime.now(UTC)
        )
        await env.bot.reload_lock.acquire()  # as if a reload were running
        try:
            skipped = await cog.poll_now()
        finally:
            env.bot.reload_lock.release()
        assert skipped.stopped == RELOAD_RUNNING and site.hits == [] and _articles(env) == 4
        env.bot.settings = env.bot.settings.model_copy(update={"feed_poll_minutes": 60})
        await cog.cog_load()  # as at start-up: the first poll runs at once, in a thread
        for _ in range(600):
            if _articles(env) == 4 + len(RSS_STORIES) and not env.bot.reload_lock.locked():
                break
            await asyncio.sleep(0.2)
        await cog.cog_unload()
    assert _articles(env) == 4 + len(RSS_STORIES)
    assert cog._poller.done()  # stopped on unload (as on close), not left sleeping
