"""Feeds from Discord: /feed add, /feed list, /feed remove, and the background poll.

Moderators only (checked here, not just hidden); replies are shown only to them, and
each server's moderators see and change only its own feeds (with CORPUS_PER_GUILD,
each server's are its own). The poll runs every FEED_POLL_MINUTES in a worker thread,
over every community's feeds in turn, so answering never waits for it; it takes that
community's reload lock only around each sync and stops cleanly, to try again next
time, when a reload or an /add holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontends.discord.cogs.checks import is_moderator
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.formatting import escape_markdown
from bot.library.feed_store import FeedState, FeedStore
from bot.library.feeds import RELOAD_RUNNING, PollReport, SyncSlot, check_feed, describe
from bot.library.fetching import FetchLimits

if TYPE_CHECKING:
    from bot.communities import Community
    from bot.frontends.discord.cogs.host import CommunityBot

log = logging.getLogger("bot.library.feeds")
MODERATORS_ONLY = "Only moderators (Manage Server, or a moderator role) can manage feeds."
NO_FEEDS = "No feeds are followed. Add one with `/feed add url:` and an RSS or Atom address."
LOCK_SECONDS = 10.0  # how long the poll's thread waits for the event loop to hand it the lock


class FeedsCog(commands.Cog):
    """/feed for moderators, and the poll that adds new entries."""

    feed = app_commands.Group(
        name="feed",
        description="RSS and Atom feeds whose new entries become articles (moderators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot
        self._poller: asyncio.Task | None = None

    async def cog_load(self) -> None:
        """Start polling, unless FEED_POLL_MINUTES is 0."""
        if self.bot.settings.feed_poll_minutes > 0:
            self._poller = asyncio.create_task(self._poll_forever(), name="feed-poll")

    async def cog_unload(self) -> None:
        """Stop polling (a sync under way finishes in its thread)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _poll_forever(self) -> None:
        while True:
            for community in self.bot.communities.all():
                try:
                    await self.poll_now(community)
                except Exception:  # a bug must not end polling for good: next time, again
                    log.exception("Feed poll failed")
            await asyncio.sleep(self.bot.settings.feed_poll_minutes * 60)

    async def poll_now(self, community: Community | None = None) -> PollReport:
        """One poll of `community`'s feeds (by default the one shared corpus's) in a worker
        thread; skipped at once while a reload or /add of its articles runs."""
        community = community or self.bot.communities.shared
        if community.reload_lock.locked():
            log.info("Feed poll skipped: %s", RELOAD_RUNNING)
            return PollReport(stopped=RELOAD_RUNNING)
        slot = self._sync_slot(asyncio.get_running_loop(), community.reload_lock)
        report = await asyncio.to_thread(community.library.poll, sync_slot=slot)
        if report.added:
            self.bot.articles_changed(community)  # and open questions asked again
        return report

    def _sync_slot(self, loop: asyncio.AbstractEventLoop, lock: asyncio.Lock) -> SyncSlot:
        """The reload lock, as the poll's thread takes it: at once if free, else not at all."""

        async def take() -> bool:
            if lock.locked():
                return False
            await lock.acquire()  # free: returns at once
            return True

        @contextlib.contextmanager
        def slot() -> Iterator[bool]:
            taken = asyncio.run_coroutine_threadsafe(take(), loop).result(LOCK_SECONDS)
            try:
                yield taken
            finally:
                if taken:
                    loop.call_soon_threadsafe(lock.release)

        return slot

    def _feeds(self, interaction: discord.Interaction) -> FeedStore:
        """The feeds of the server the command came from."""
        return self.bot.community(interaction.guild_id).library.feeds

    async def _refused(self, interaction: discord.Interaction) -> bool:
        """Refuse anyone but a moderator (enforced here, not just hidden)."""
        if is_moderator(interaction.user, self.bot.settings):
            return False
        await interaction.response.send_message(MODERATORS_ONLY, ephemeral=True)
        return True

    @feed.command(name="add", extras={"failed": "Not followed"})
    @app_commands.describe(url="the address of an RSS or Atom feed (http or https)")
    async def add(self, interaction: discord.Interaction, url: str) -> None:
        """Follow a feed: its new entries are added as articles (moderators only)."""
        if await self._refused(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = self.bot.settings
        url = url.strip()
        # Not a feed, or unreachable: told by `bot.frontends.discord.cogs.errors`.
        parsed = await asyncio.to_thread(check_feed, url, FetchLimits.from_settings(settings))
        who = f"{interaction.user.name} (Discord {interaction.user.id})"
        now = datetime.now(UTC)
        if not await asyncio.to_thread(
            self._feeds(interaction).add_feed, url, parsed.title, who, now
        ):
            await self._edit(interaction, f"Already following “{_quote(parsed.title)}” <{url}>.")
            return
        if settings.feed_poll_minutes > 0:
            when = (
                f"Its entries are added every {settings.feed_poll_minutes:g} minutes, at most "
                f"{settings.feed_max_new} per poll over all feeds (FEED_MAX_NEW)."
            )
        else:
            when = (
                "The bot does not poll (FEED_POLL_MINUTES=0): the operator adds entries with "
                "`python -m bot feeds poll`."
            )
        await self._edit(
            interaction,
            f"Following “{_quote(parsed.title)}” <{url}>: {len(parsed.entries)} entries "
            f"with a page. {when}",
        )

    @feed.command(name="list")
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        """The feeds followed, each with its last poll and any error (moderators only)."""
        if await self._refused(interaction):
            return
        feeds = await asyncio.to_thread(self._feeds(interaction).feeds)
        lines = [f"• {describe(feed, _quote)}" for feed in feeds] or [NO_FEEDS]
        await interaction.response.send_message(
            "\n".join(lines)[:2000], ephemeral=True, allowed_mentions=NO_PINGS
        )

    @feed.command(name="remove")
    @app_commands.describe(feed="the feed's address (start typing its title or address)")
    async def remove(self, interaction: discord.Interaction, feed: str) -> None:
        """Stop following a feed; the articles it added stay (moderators only)."""
        if await self._refused(interaction):
            return
        feeds = await asyncio.to_thread(self._feeds(interaction).feeds)
        found = _find(feeds, feed.strip())
        if found is None:
            await interaction.response.send_message(
                f"No followed feed has the address <{feed.strip()[:200]}>; `/feed list` shows "
                "them.",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return
        await asyncio.to_thread(self._feeds(interaction).remove_feed, found.url)
        await interaction.response.send_message(
            f"No longer following “{_quote(found.title)}” <{found.url}>. The articles it "
            "added stay.",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @remove.autocomplete("feed")
    async def _feed_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction.user, self.bot.settings):
            return []
        feeds = await asyncio.to_thread(self._feeds(interaction).feeds)
        typed = typed.lower()
        return [
            app_commands.Choice(name=f"{f.title} — {f.url}"[:100], value=f.url[:100])
            for f in feeds
            if typed in f.title.lower() or typed in f.url.lower()
        ][:25]

    async def _edit(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.edit_original_response(content=text[:2000], allowed_mentions=NO_PINGS)


def _find(feeds: list[FeedState], given: str) -> FeedState | None:
    """The feed with this address, or the one address it begins (a choice holds 100 chars)."""
    exact = [f for f in feeds if f.url == given]
    starts = [f for f in feeds if len(given) == 100 and f.url.startswith(given)]
    return (exact or starts or [None])[0] if len(exact) == 1 or len(starts) == 1 else None


def _quote(text: str) -> str:
    return escape_markdown(text)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(FeedsCog(bot))
