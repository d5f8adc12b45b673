"""👍 / 👎 under every answer: persistent buttons that keep working after a restart.

Each button's custom id carries the answer's id in the feedback log
(`feedback:up:17`), and `VoteButton` is registered as a dynamic item when the
feedback cog loads, so a click on a message sent before a restart still finds its
answer. Declines carry no vote buttons: each is already logged with its reason, and a
👎 under "I couldn't find that" could mean "wrong" or "the article is missing" (a
public decline carries "Tell me if this gets answered" instead: `cogs.followups`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from functools import partial
from typing import TYPE_CHECKING, Protocol

import discord

from bot.answering.engine import Answer
from bot.feedback.log import DOWN, UP, FeedbackLog, VoteOutcome
from bot.frontends.discord.cogs.checks import ServedOnly

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

log = logging.getLogger("bot.discord")
LOG_SECONDS = 3.0  # a vote must be acknowledged within Discord's 3 s; SQLite gives up at 2 s
NOT_RECORDED = "Sorry, your vote could not be recorded just now; please try again later."
UNKNOWN_ANSWER = "This answer is no longer in the feedback log, so the vote was not recorded."
_EMOJI = {UP: "👍", DOWN: "👎"}
_NAMES = {UP: "up", DOWN: "down"}


class AskedWhere(Protocol):
    """Where a question was asked, as the feedback log keeps it."""

    guild_id: int | None
    channel_id: int | None
    private: bool


def vote_reply(outcome: VoteOutcome | None) -> str:
    """The short private acknowledgement a member gets for a click."""
    if outcome is None:
        return UNKNOWN_ANSWER
    emoji = _EMOJI[outcome.vote]
    if outcome.changed:
        return f"Changed your vote to {emoji}."
    if outcome.previous == outcome.vote:
        return f"You already voted {emoji} on this answer; the other button changes it."
    if outcome.vote == DOWN:
        return "Thanks — 👎 noted. Moderators review answers marked wrong."
    return "Thanks — 👍 noted."


class VoteButton(
    ServedOnly,
    discord.ui.DynamicItem[discord.ui.Button],
    template=re.compile(r"feedback:(?P<vote>up|down):(?P<answer_id>[0-9]{1,18})"),
):
    """One vote button; its custom id alone says which answer and which vote."""

    def __init__(self, answer_id: int, vote: int) -> None:
        self.answer_id = answer_id
        self.vote = vote
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji=_EMOJI[vote],
                custom_id=f"feedback:{_NAMES[vote]}:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Button,
        match: re.Match[str],
    ) -> VoteButton:
        """Rebuild the button from a click, also on a message sent before a restart."""
        return cls(int(match["answer_id"]), UP if match["vote"] == "up" else DOWN)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the member's vote (off the event loop) and tell only them."""
        bot: CommunityBot = interaction.client  # type: ignore[assignment]
        # the answer is in the log of the server it was given in
        feedback: FeedbackLog = bot.community(interaction.guild_id).feedback
        try:
            outcome = await asyncio.wait_for(
                asyncio.to_thread(feedback.vote, self.answer_id, interaction.user.id, self.vote),
                LOG_SECONDS,
            )
        except (TimeoutError, sqlite3.Error, OSError):
            log.warning("Could not record a vote on answer %s", self.answer_id, exc_info=True)
            text = NOT_RECORDED
        else:
            text = vote_reply(outcome)
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


def vote_view(answer_id: int) -> discord.ui.View:
    """The two buttons for one answer, never timing out."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, UP))
    view.add_item(VoteButton(answer_id, DOWN))
    return view


async def log_answer(
    feedback: FeedbackLog, answer: Answer, where: AskedWhere, member_id: int | None = None
) -> int | None:
    """Log the answer or decline (off the event loop) with where it was asked, whether
    privately and by whom (`member_id`, stored hashed); its id in the log, or None when
    the log cannot be written (the answer is sent anyway, without buttons)."""
    record = partial(
        feedback.record,
        answer,
        where.guild_id,
        where.channel_id,
        private=where.private,
        member_id=member_id,
    )
    try:
        return await asyncio.wait_for(asyncio.to_thread(record), LOG_SECONDS)
    except (TimeoutError, sqlite3.Error, OSError):
        log.warning("Could not log the answer to %r", answer.question[:200], exc_info=True)
        return None
