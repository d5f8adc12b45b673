"""Asking: the /ask slash command and questions that mention the bot."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering.question import QuestionProblem
from bot.frontends.discord.cogs.checks import in_allowed_channel, where_to_ask
from bot.frontends.discord.cogs.help import read_examples
from bot.frontends.discord.cogs.replies import (
    NO_PINGS,
    THINKING,
    InteractionTarget,
    MessageTarget,
    answer_to,
    how_to_ask,
    problem_text,
    question_problem,
)
from retrieval.cleaning import shorten

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

_MENTION = re.compile(r"<@!?(\d+)>")
EXAMPLE_SECONDS = 1.5  # a slash command must be answered within 3 seconds


class AskCog(commands.Cog):
    """Answers questions from the articles, quoting them."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="Your question about the articles",
        private="Only you see the answer",
    )
    async def ask(
        self, interaction: discord.Interaction, question: str, private: bool = False
    ) -> None:
        """Ask a question; the answer quotes the articles it comes from."""
        problem = await self._problem(
            interaction.channel, interaction.guild_id, interaction.user.id, question
        )
        if problem is not None:  # something the asker can act on: told to them alone
            await interaction.response.send_message(
                problem, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        await interaction.response.defer(thinking=True, ephemeral=private)  # within 3 seconds
        target = InteractionTarget(interaction, ephemeral=private)
        thread = _thread_id(interaction.channel)
        history = () if private else self.bot.conversations.history(thread)
        answer = await answer_to(self.bot, target, interaction.user.id, question, history)
        if answer is not None and not private:  # a private answer is no thread's context
            self.bot.conversations.record(history, answer.as_turn(question), [thread])

    async def _problem(
        self, channel: object, guild_id: int | None, user_id: int, question: str
    ) -> str | None:
        """What the asker must change before being answered (where or what they ask,
        or waiting their turn), or None."""
        settings = self.bot.settings
        if not in_allowed_channel(channel, settings):
            return where_to_ask(settings)
        problem = question_problem(question)
        if problem is QuestionProblem.EMPTY:  # asked nothing: suggest a question about these
            library = self.bot.community(guild_id).library
            return how_to_ask(await read_examples(library, EXAMPLE_SECONDS))
        if problem is not None:
            return problem_text(problem, question)
        refused = self.bot.queue.refusal(user_id, self.bot.communities.queue_group(guild_id))
        return str(refused) if refused else None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot."""
        me = self.bot.user
        if message.author.bot or me is None or me not in message.mentions:
            return
        if not in_allowed_channel(message.channel, self.bot.settings):
            return  # answering here would be noise the server asked the bot to keep out of
        question = _MENTION.sub(" ", message.content)
        guild_id = message.guild.id if message.guild else None
        problem = await self._problem(message.channel, guild_id, message.author.id, question)
        if problem is not None:  # before any thread: a refused question leaves none behind
            await MessageTarget(message).refuse(problem)
            return
        replied_to = message.reference.message_id if message.reference else None
        history = self.bot.conversations.history(replied_to, _thread_id(message.channel))
        channel = None
        if (
            self.bot.settings.reply_in_thread
            and isinstance(message.channel, discord.TextChannel)
            and not history  # a follow-up stays where its conversation is
        ):
            name = shorten(" ".join(question.split()) or "Question", 90)
            channel = await message.create_thread(name=name)
        target = MessageTarget(message, channel)
        await target.show(THINKING)
        answer = await answer_to(self.bot, target, message.author.id, question, history)
        if answer is not None:
            keys = [*target.sent, _thread_id(channel or message.channel)]
            self.bot.conversations.record(history, answer.as_turn(question), keys)


def _thread_id(channel: object) -> int | None:
    """The id of a thread (whose earlier answers are a follow-up's context), else None."""
    return channel.id if isinstance(channel, discord.Thread) else None


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(AskCog(bot))
