"""/feedback: what members rated 👎 and what the bot declined, for moderators only."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.checks import is_moderator
from bot.cogs.replies import NO_PINGS
from bot.cogs.votes import VoteButton
from bot.feedback_report import format_feedback

log = logging.getLogger("bot.discord")
SUMMARY_SECONDS = 10.0
MODERATORS_ONLY = "Only moderators (Manage Server, or a moderator role) can see the feedback."
UNREADABLE = "The feedback log could not be read just now; the bot's log has details."


class FeedbackCog(commands.Cog):
    """The moderators' view of members' votes and of the questions the bot declined."""

    def __init__(self, bot) -> None:  # noqa: ANN001 - AnswerBot
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
            summary = await asyncio.wait_for(
                asyncio.to_thread(self.bot.feedback.summary, interaction.guild_id),
                SUMMARY_SECONDS,
            )
        except (TimeoutError, sqlite3.Error, OSError):
            log.warning("Could not read the feedback log", exc_info=True)
            content = UNREADABLE
        else:
            content = format_feedback(summary)
        await interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`: the command, and the vote buttons of every answer."""
    bot.add_dynamic_items(VoteButton)
    await bot.add_cog(FeedbackCog(bot))
