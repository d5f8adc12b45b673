"""Moderation: /reload re-syncs the corpus without a restart; /status shows the index."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontends.discord.cogs.checks import refused_change
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.formatting import escape_markdown

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot
    from bot.library.collection import Library, Status
    from retrieval.sync import SyncReport

MODERATORS_ONLY = "Only moderators (Manage Server, or a moderator role) can reload the articles."
STATUS_SECONDS = 10.0
STATUS_SLOW = (
    "The index did not answer within 10 s (a Chroma server or the disk may be stuck); "
    "questions may fail too. The operator's log has details."
)


class AdminCog(commands.Cog):
    """Corpus reloads for moderators, and the bot's status for everyone."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot
        self.status_seconds = STATUS_SECONDS

    @app_commands.command(name="reload", extras={"failed": "The reload did not run"})
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.describe(
        force="also sync from another folder, or when most articles would be removed"
    )
    async def reload(self, interaction: discord.Interaction, force: bool = False) -> None:
        """Re-sync the articles folder (moderators only); answers continue meanwhile."""
        if await refused_change(interaction, self.bot, MODERATORS_ONLY):
            return
        community = self.bot.community(interaction.guild_id)  # this server's articles
        async with community.reload_lock:
            await interaction.response.defer(thinking=True, ephemeral=True)  # for the moderator
            # Another reload, no corpus folder, a refused sync: told by `cogs.errors`.
            report = await self._reload_with_progress(interaction, community.library, force)
            self.bot.articles_changed(community)  # and open questions asked again
            lines = [report.summary()]
            lines += [f"• {escape_markdown(c)}" for c in report.changes()]
            lines += [
                f"• skipped `{s.path.replace('`', '')}`: {escape_markdown(s.reason)}"
                for s in report.skipped[:15]
            ]
            if len(report.skipped) > 15:
                lines.append(f"• … and {len(report.skipped) - 15} more skipped files")
            await interaction.edit_original_response(
                content="\n".join(lines)[:2000], allowed_mentions=NO_PINGS
            )

    async def _reload_with_progress(
        self, interaction: discord.Interaction, library: Library, force: bool
    ) -> SyncReport:
        loop = asyncio.get_running_loop()
        progress: dict[str, int] = {}

        def on_progress(done: int, total: int) -> None:  # in the reload thread
            loop.call_soon_threadsafe(progress.update, {"done": done, "total": total})

        async def show_progress() -> None:
            shown = None
            while True:
                await asyncio.sleep(self.bot.settings.stream_edit_seconds)
                if progress and progress != shown:
                    shown = dict(progress)
                    with contextlib.suppress(discord.HTTPException):
                        await interaction.edit_original_response(
                            content=f"Reloading… {shown['done']} of {shown['total']} new or "
                            "changed articles indexed."
                        )

        reporter = asyncio.create_task(show_progress())
        try:
            return await asyncio.to_thread(library.reload, on_progress, force=force)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show how many articles the bot knows, its model, last reload and queue length."""
        await interaction.response.defer(thinking=True, ephemeral=True)  # only the asker's
        community = self.bot.community(interaction.guild_id)  # this server's articles only
        info = await read_status(community.library, self.status_seconds)
        if info is None:
            await interaction.edit_original_response(content=STATUS_SLOW, allowed_mentions=NO_PINGS)
            return
        lines = [
            f"**Articles:** {info.articles}  ·  **Passages:** {info.chunks}",
            f"**Answer model:** {community.engine.generator.name}",
            f"**Embedding model:** {info.embedding_model} ({info.embedding_backend})",
            f"**Last reload:** {community.last_reload or info.last_sync or 'never'}",
            f"**Questions in line:** {self._in_line(interaction.guild_id)}",
            f"**Feeds:** {escape_markdown(info.feeds)}",
        ]
        if info.hidden != "none":  # articles /remove hid (bot.frontends.discord.cogs.catalog)
            lines.append(f"**Hidden articles:** {escape_markdown(info.hidden)}")
        if community.reload_lock.locked():
            lines.append("A reload is running now.")
        await interaction.edit_original_response(
            content="\n".join(lines)[:2000], allowed_mentions=NO_PINGS
        )

    def _in_line(self, guild_id: int | None) -> int:
        """The questions waiting or answered now: this server's, with per-server corpora."""
        if not self.bot.communities.per_guild:
            return self.bot.queue.length
        return self.bot.queue.length_of(self.bot.communities.queue_group(guild_id))


async def read_status(library: Library, seconds: float) -> Status | None:
    """`Library.status` in a worker thread, so a busy or stuck index never blocks the event
    loop (every other member's question); None when it takes longer than `seconds`."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(library.status), seconds)
    except TimeoutError:
        return None


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(AdminCog(bot))
