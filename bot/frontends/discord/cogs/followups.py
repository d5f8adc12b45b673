"""Declined questions that come back answered: the button under a decline, and the reply
when a new or changed article answers it.

"Tell me if this gets answered" sits under every public decline an article could still
answer (`bot.feedback.followups.followable`). Its custom id names the decline in the feedback log
(`followup:17`) and it is registered as a dynamic item when this cog loads, so, like the
vote buttons, it works on messages sent before a restart. Only the member who asked can
press it (the log keeps the asker's salted hash); that opens the question
(`bot.feedback.followups.FollowUps`).

Every change of a community's articles in the bot (`/add`, `/reload`, a feed poll,
`/restore`) ends in `AnswerBot.articles_changed`, which starts `recheck`, and the bot
starts one for every community when it connects, which finds what `python -m bot ingest`
changed while it was stopped. A recheck asks each open question again, one at a time,
through the answer queue in a line of the community's own (members' lines take turns
with it, so a member waits behind at most one re-ask), with the normal confidence; an
answer quoting a changed article is posted as a reply to the decline, mentioning the
asker (the one mention the bot ever makes), and closes the question.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.answering.engine import Answer
from bot.feedback.followups import NewQuestion, OpenQuestion, cutoff, followable
from bot.feedback.reasking import answer_from_changed
from bot.frontends.discord.cogs.checks import ServedOnly
from bot.frontends.discord.cogs.votes import AskedWhere, log_answer, vote_view
from bot.frontends.discord.formatting import MESSAGE_LIMIT, escape_markdown, render_messages
from retrieval.cleaning import shorten
from retrieval.errors import KnownError

if TYPE_CHECKING:
    from bot.communities import Community
    from bot.frontends.discord.cogs.host import CommunityBot

log = logging.getLogger("bot.discord")
CLICK_SECONDS = 2.5  # a click must be acknowledged within Discord's 3 s
LABEL = "Tell me if this gets answered"
OPENED = (
    "I'll reply to you here if an article added or changed in the next {days:g} days answers it."
)
ALREADY_OPEN = "You're already on the list for this question; I'll reply here if it's answered."
ONLY_THE_ASKER = (
    "Only the member who asked can be told about this one. Ask it yourself with /ask to "
    "get your own button."
)
UNKNOWN = "This question is no longer in the bot's log, so it cannot be followed."
NOT_SAVED = "Sorry, that could not be saved just now; please try again later."


@dataclass(frozen=True)
class _Where:
    """Where a re-asked question's answer goes, as the feedback log records it."""

    guild_id: int | None
    channel_id: int | None
    private: bool = False


class FollowUpButton(
    ServedOnly,
    discord.ui.DynamicItem[discord.ui.Button],
    template=re.compile(r"followup:(?P<answer_id>[0-9]{1,18})"),
):
    """The button under a decline; its custom id alone says which question."""

    def __init__(self, answer_id: int) -> None:
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=LABEL,
                custom_id=f"followup:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> FollowUpButton:
        """Rebuild the button from a click, also on a message sent before a restart."""
        return cls(int(match["answer_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the question for its asker (off the event loop); tell only them."""
        bot: CommunityBot = interaction.client  # type: ignore[assignment]
        community = bot.community(interaction.guild_id)
        try:
            text = await asyncio.wait_for(self._open(interaction, community), CLICK_SECONDS)
        except (TimeoutError, sqlite3.Error, OSError, KnownError):
            log.warning("Could not open question %s", self.answer_id, exc_info=True)
            text = NOT_SAVED
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _open(self, interaction: discord.Interaction, community: Community) -> str:
        asked = await asyncio.to_thread(community.feedback.asked, self.answer_id)
        if asked is None:
            return UNKNOWN
        member = await asyncio.to_thread(community.feedback.member_hash, interaction.user.id)
        if asked.asker != member:
            return ONLY_THE_ASKER
        question = NewQuestion(
            answer_id=self.answer_id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
            message_id=interaction.message.id if interaction.message else 0,
            member_id=interaction.user.id,
            question=asked.question,
            asked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        store = community.library.store
        opened = await asyncio.to_thread(community.followups.open, question, store.manifest)
        days = interaction.client.settings.followup_days  # type: ignore[attr-defined]
        return OPENED.format(days=days) if opened else ALREADY_OPEN


def followup_view(answer_id: int) -> discord.ui.View:
    """The one button under a decline, never timing out."""
    view = discord.ui.View(timeout=None)
    view.add_item(FollowUpButton(answer_id))
    return view


def answer_view(answer: Answer, answer_id: int | None, where: AskedWhere) -> discord.ui.View | None:
    """The buttons under a reply: 👍 / 👎 under an answer, "Tell me if this gets
    answered" under a public decline an article could still answer, else none (and none
    when the log could not be written: the buttons would name nothing)."""
    if answer_id is None:
        return None
    if not answer.abstained:
        return vote_view(answer_id)
    if where.private or not followable(answer.decline):
        return None  # a reply in the channel would show a question only its asker saw
    return followup_view(answer_id)


async def recheck(bot: CommunityBot, community: Community) -> int:
    """Ask `community`'s open questions again against the articles changed since they
    were last asked, and answer each one that now has an answer; how many were. Expired
    questions are dropped first, and those of a server no longer served closed unasked.
    One round per community at a time; a round started while one runs waits for it, then
    sees the changes it did not."""
    async with community.recheck_lock:
        followups = community.followups
        await asyncio.to_thread(followups.expire, cutoff(bot.settings.followup_days))
        questions = await asyncio.to_thread(followups.open_questions)
        if not questions:
            return 0
        manifest = await asyncio.to_thread(community.library.store.manifest)
        changed = await asyncio.to_thread(followups.changed, manifest)
        if not changed:
            return 0
        answered = 0
        for question in questions:
            if bot.serves(question.guild_id):
                work = partial(answer_from_changed, community.engine, changed, question.question)
                found = await bot.queue.run_quietly(work, group=("followups", id(community)))
                if found is None:
                    continue
                await _deliver(bot, community, question, found)
                answered += 1
            await asyncio.to_thread(followups.close, [question.question_id])
        await asyncio.to_thread(followups.checked, manifest)  # only after a whole round
        return answered


def mention_line(question: OpenQuestion) -> str:
    """The line above the answer: the asker's mention and their question, escaped."""
    asked = escape_markdown(shorten(" ".join(question.question.split()), 300))
    return f"<@{question.member_id}> you asked “{asked}”: an article now answers it."


async def _deliver(
    bot: CommunityBot, community: Community, question: OpenQuestion, answer: Answer
) -> None:
    """Reply to the decline with the answer and its quotes, as any answer is shown (with
    its 👍 / 👎), pinging the asker alone."""
    where = _Where(question.guild_id, question.channel_id)
    answer_id = await log_answer(community.feedback, answer, where, question.member_id)
    view = answer_view(answer, answer_id, where)
    header = mention_line(question)
    room = MESSAGE_LIMIT - len(header) - 2
    messages = render_messages(answer, limit=room, base_url=bot.settings.source_base_url)
    messages[0] = f"{header}\n\n{messages[0]}"
    channel = bot.get_partial_messageable(question.channel_id, guild_id=question.guild_id)
    asker = discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(question.member_id)], replied_user=False
    )
    try:
        for number, content in enumerate(messages):
            sent = {
                "allowed_mentions": asker if number == 0 else discord.AllowedMentions.none(),
                **({"view": view} if view is not None and number == len(messages) - 1 else {}),
            }
            if number == 0:
                await _reply(channel, question.message_id, content, sent)
            else:
                await channel.send(content, **sent)
    except discord.HTTPException:  # the channel is gone, or the bot may no longer post there
        log.warning("Could not answer open question %s", question.question_id, exc_info=True)


async def _reply(
    channel: discord.PartialMessageable, message_id: int, content: str, sent: dict
) -> None:
    """Reply to the decline; into its channel or thread when it was deleted."""
    try:
        await channel.get_partial_message(message_id).reply(content, **sent)
    except discord.NotFound:
        await channel.send(content, **sent)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`: the button under every decline."""
    bot.add_dynamic_items(FollowUpButton)


async def teardown(bot: commands.Bot) -> None:
    """Stop routing clicks on the button here."""
    bot.remove_dynamic_items(FollowUpButton)
