"""/feedback: what members rated 👎 and what the bot declined, for moderators only.

A moderator sees the server's totals, but only the questions asked in channels they can
read themselves, and never one asked privately: /feedback must not show a moderator
what Discord would not.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.feedback.log import FeedbackSummary
from bot.frontends.discord.cogs.checks import is_moderator
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.cogs.votes import VoteButton
from bot.frontends.feedback_report import format_feedback

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

log = logging.getLogger("bot.discord")
SUMMARY_SECONDS = 10.0
MODERATORS_ONLY = "Only moderators (Manage Server, or a moderator role) can see the feedback."
UNREADABLE = "The feedback log could not be read just now; the bot's log has details."


class FeedbackCog(commands.Cog):
    """The moderators' view of members' votes and of the questions the bot declined."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot

    async def cog_unload(self) -> None:
        """Stop routing vote clicks here."""
        self.bot.remove_dynamic_items(VoteButton)

    @app_commands.command(name="feedback")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def feedback(self, interaction: discord.Interaction) -> None:
        """Moderators: recent 👎 answers, vote totals and the most declined questions."""
        if not is_moderator(interaction.user, self.bot.settings):  # enforced here, not just hidden
            await interaction.response.send_message(MODERATORS_ONLY, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            summary = await asyncio.wait_for(self._summary(interaction), SUMMARY_SECONDS)
        except (TimeoutError, sqlite3.Error, OSError):
            log.warning("Could not read the feedback log", exc_info=True)
            content = UNREADABLE
        else:
            content = format_feedback(summary)
        await interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS)

    async def _summary(self, interaction: discord.Interaction) -> FeedbackSummary:
        """The server's summary listing only what this moderator may read (log reads off
        the event loop, permissions on it)."""
        guild_id = interaction.guild_id
        log = self.bot.community(guild_id).feedback  # this server's log
        asked_in = await asyncio.to_thread(log.channels, guild_id)
        readable = {c for c in asked_in if can_read(interaction.guild, interaction.user, c)}
        return await asyncio.to_thread(log.summary, guild_id, readable)


def can_read(guild: discord.Guild | None, member: object, channel_id: int) -> bool:
    """Whether `member` can read channel (or thread) `channel_id` of `guild`; False when it
    cannot be resolved (deleted, uncached), as its questions must then stay unshown."""
    if guild is None or not isinstance(member, discord.Member):
        return False
    channel = guild.get_channel_or_thread(channel_id)
    if channel is None:
        return False
    try:
        allowed = channel.permissions_for(member)
    except discord.ClientException:  # a thread whose parent channel is not cached
        return False
    if isinstance(channel, discord.Thread) and channel.is_private():
        return allowed.view_channel and allowed.manage_threads  # membership is not cached
    return allowed.view_channel and allowed.read_message_history


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`: the command, and the vote buttons of every answer."""
    bot.add_dynamic_items(VoteButton)
    await bot.add_cog(FeedbackCog(bot))
