"""Asking: the /ask slash command and questions that mention the bot."""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.replies import THINKING, InteractionTarget, MessageTarget, answer_to
from retrieval.cleaning import shorten

_MENTION = re.compile(r"<@!?(\d+)>")


class AskCog(commands.Cog):
    """Answers questions from the articles, quoting them."""

    def __init__(self, bot) -> None:  # noqa: ANN001 - AnswerBot
        self.bot = bot

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question about the articles")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        """Ask a question; the answer quotes the articles it comes from."""
        await interaction.response.defer(thinking=True)  # within Discord's 3 seconds
        await answer_to(self.bot, InteractionTarget(interaction), interaction.user.id, question)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot."""
        me = self.bot.user
        if message.author.bot or me is None or me not in message.mentions:
            return
        question = _MENTION.sub(" ", message.content)
        refused = self.bot.queue.refusal(message.author.id)
        if refused is not None:  # before any thread: a refused question leaves none behind
            await MessageTarget(message).show(str(refused))
            return
        channel = None
        if self.bot.settings.reply_in_thread and isinstance(message.channel, discord.TextChannel):
            name = shorten(" ".join(question.split()) or "Question", 90)
            channel = await message.create_thread(name=name)
        target = MessageTarget(message, channel)
        await target.show(THINKING)
        await answer_to(self.bot, target, message.author.id, question)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(AskCog(bot))
