"""/gaps: what the community asks and the articles do not cover, for moderators only.

Read from the feedback log like /feedback, with its rules: only this server's
questions, only from channels the moderator can read, never a private one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.feedback.gaps import DEFAULT_DAYS, Gap, format_gaps, group_gaps, since
from bot.frontends.discord.cogs.checks import is_moderator
from bot.frontends.discord.cogs.feedback import can_read
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.formatting import MESSAGE_LIMIT, escape_markdown

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

log = logging.getLogger("bot.discord")
GAPS_SECONDS = 10.0
MODERATORS_ONLY = (
    "Only moderators (Manage Server, or a moderator role) can see the unanswered questions."
)
UNREADABLE = "The feedback log could not be read just now; the bot's log has details."


class GapsCog(commands.Cog):
    """The moderators' list of questions the articles do not answer."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot

    @app_commands.command(name="gaps")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.describe(days=f"how far back to look (default {DEFAULT_DAYS} days)")
    async def gaps(
        self,
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, 365] = DEFAULT_DAYS,
    ) -> None:
        """Moderators: the most asked questions the articles did not answer, by members."""
        if not is_moderator(interaction.user, self.bot.settings):  # enforced here, not just hidden
            await interaction.response.send_message(MODERATORS_ONLY, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            found = await asyncio.wait_for(self._gaps(interaction, days), GAPS_SECONDS)
        except (TimeoutError, sqlite3.Error, OSError):
            log.warning("Could not read the feedback log for /gaps", exc_info=True)
            content = UNREADABLE
        else:
            content = format_gaps(found, days, escape_markdown, limit=MESSAGE_LIMIT)
        await interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS)

    async def _gaps(self, interaction: discord.Interaction, days: int) -> list[Gap]:
        """This server's gaps among the channels this moderator can read (the log read and
        the grouping off the event loop, permissions on it)."""
        guild_id = interaction.guild_id
        feedback = self.bot.community(guild_id).feedback  # this server's log
        asked_in = await asyncio.to_thread(feedback.channels, guild_id)
        readable = {c for c in asked_in if can_read(interaction.guild, interaction.user, c)}
        asked = await asyncio.to_thread(feedback.declined_since, since(days), guild_id, readable)
        return await asyncio.to_thread(group_gaps, asked)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(GapsCog(bot))
