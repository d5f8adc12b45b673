"""Where an answer goes: an interaction's reply or a message in a channel, streamed by edits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import discord

from bot.answering import Answer, Quote
from bot.cogs.votes import logged_view
from bot.discord_format import MESSAGE_LIMIT, escape_markdown, progress_message, render_messages
from retrieval.errors import BotError

log = logging.getLogger("bot.discord")
NO_PINGS = discord.AllowedMentions.none()
THINKING = "Looking through the articles…"
SORRY = "Sorry, something went wrong while answering. Please try again later."
HOW_TO_ASK = "Ask me a question about the articles."
SEARCHING = "Searching for:"
MAX_QUESTION_CHARS = 1000


class ReplyTarget(Protocol):
    """The first reply message (shown and re-edited) and further messages after it.

    `channel_id` is where the question was asked; `private` says only the asker sees the
    exchange (an ephemeral reply, a direct message), so no report may list the question.
    """

    guild_id: int | None
    channel_id: int | None
    private: bool

    async def show(self, content: str, view: discord.ui.View | None = None) -> None:
        """Create or edit the first reply message."""

    async def add(self, content: str, view: discord.ui.View | None = None) -> None:
        """Send one more message after the first."""

    async def refuse(self, content: str) -> None:
        """Say why the question is not answered: only to the asker, where Discord allows."""


def _with_view(view: discord.ui.View | None) -> dict:
    """`view=` only when there is one: an edit with `view=None` would remove the buttons."""
    return {} if view is None else {"view": view}


class InteractionTarget:
    """Replies to a deferred slash command; `ephemeral` when it was deferred privately."""

    def __init__(self, interaction: discord.Interaction, ephemeral: bool = False) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral
        self.guild_id = interaction.guild_id
        self.channel_id = interaction.channel_id
        self.private = ephemeral or interaction.guild_id is None

    async def show(self, content: str, view: discord.ui.View | None = None) -> None:
        """Edit the deferred response."""
        await self.interaction.edit_original_response(
            content=content, allowed_mentions=NO_PINGS, **_with_view(view)
        )

    async def add(self, content: str, view: discord.ui.View | None = None) -> None:
        """Send a follow-up message, as private as the first."""
        await self.interaction.followup.send(
            content, ephemeral=self.ephemeral, allowed_mentions=NO_PINGS, **_with_view(view)
        )

    async def refuse(self, content: str) -> None:
        """A public "thinking…" is replaced by a message only the asker sees.

        The first follow-up after a deferral takes the deferral's place (and its
        visibility), so the deferral is resolved first, then deleted.
        """
        if self.ephemeral:
            await self.show(content)
            return
        await self.show("…")
        await self.interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_PINGS)
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.delete_original_response()


class MessageTarget:
    """Replies to a message that mentioned the bot (or posts in a thread made for it)."""

    def __init__(
        self, message: discord.Message, channel: discord.abc.Messageable | None = None
    ) -> None:
        self.message = message
        self.channel = channel
        self.first: discord.Message | None = None
        self.sent: list[int] = []  # ids of the messages sent, for follow-ups replying to them
        self.guild_id = message.guild.id if message.guild else None
        self.channel_id = message.channel.id
        self.private = message.guild is None

    async def show(self, content: str, view: discord.ui.View | None = None) -> None:
        """Send the first reply, or edit it."""
        extra = _with_view(view)
        if self.first is not None:
            await self.first.edit(content=content, allowed_mentions=NO_PINGS, **extra)
        elif self.channel is not None:
            self.first = await self.channel.send(content, allowed_mentions=NO_PINGS, **extra)
            self.sent.append(self.first.id)
        else:
            self.first = await self.message.reply(
                content, mention_author=False, allowed_mentions=NO_PINGS, **extra
            )
            self.sent.append(self.first.id)

    async def add(self, content: str, view: discord.ui.View | None = None) -> None:
        """Send one more message in the same place."""
        channel = self.channel or self.message.channel
        sent = await channel.send(content, allowed_mentions=NO_PINGS, **_with_view(view))
        self.sent.append(sent.id)

    async def refuse(self, content: str) -> None:
        """A short reply: Discord cannot make a reply to a message visible to one member."""
        await self.show(content)


class StreamingEditor:
    """Edits the reply while the model works: first the passage being checked, then the
    answer so far under it. The first edit goes out as soon as there is something to show;
    after each edit the next waits at least `interval` seconds (Discord's rate limits)."""

    def __init__(self, target: ReplyTarget, interval: float, base_url: str | None = None) -> None:
        self.target = target
        self.interval = interval
        self.base_url = base_url
        self.passage: Quote | None = None
        self.latest: str | None = None
        self.shown: str | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    def checking(self, passage: Quote) -> None:
        """Called on the event loop with the verified passage the model is about to read."""
        self.passage = passage
        self._changed.set()

    def update(self, text: str) -> None:
        """Called on the event loop with the answer so far."""
        self.latest = text
        self._changed.set()

    def start(self) -> None:
        """Begin editing, in a task of its own."""
        self._task = asyncio.create_task(self.run(), name="streaming-editor")

    async def stop(self) -> None:
        """No more edits; one under way is finished first, so none lands after the reply."""
        self._stopping.set()
        self._changed.set()
        if self._task is not None:
            await self._task

    async def run(self) -> None:
        """Edit whenever what there is to show changed, at most once per interval."""
        while True:
            await self._changed.wait()
            if self._stopping.is_set():
                return
            self._changed.clear()
            content = progress_message(self.passage, self.latest, base_url=self.base_url)
            if not content or content == self.shown:
                continue
            self.shown = content
            with contextlib.suppress(discord.HTTPException):
                await self.target.show(content)
            with contextlib.suppress(TimeoutError):  # the pause between edits; stop cuts it short
                await asyncio.wait_for(self._stopping.wait(), self.interval)


def clean_question(text: str) -> str:
    """Collapse whitespace and drop control characters from what a user typed."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())


def how_to_ask(examples: list[str]) -> str:
    """What to tell someone who asked nothing, with an example from their own articles."""
    if not examples:
        return HOW_TO_ASK
    return f"{HOW_TO_ASK[:-1]}, for example: *{escape_markdown(examples[0])}*"


def question_problem(question: str) -> str | None:
    """What the asker must change before the question can be answered, or None."""
    question = clean_question(question)
    if not question.strip(" ?!.,"):
        return HOW_TO_ASK
    if len(question) > MAX_QUESTION_CHARS:
        return (
            f"That question is {len(question):,} characters long; please ask in at most "
            f"{MAX_QUESTION_CHARS:,}."
        )
    return None


def searching_line(answer: Answer) -> str | None:
    """How a follow-up was read, when it was rewritten to stand alone."""
    if not answer.rewritten:
        return None
    return f"*{SEARCHING} {escape_markdown(answer.standalone)}*"


async def answer_to(
    bot,  # noqa: ANN001 - AnswerBot
    target: ReplyTarget,
    user_id: int,
    question: str,
    history: tuple = (),
) -> Answer | None:
    """Queue the question; show the passage being checked as soon as it is found, stream the
    answer under it, then replace both with the answer and its quotes (or, when the bot
    declines, the passage marked as related). With `history`, a follow-up is read in its
    conversation and the reply says what was searched. Returns the answer, if one came."""
    problem = question_problem(question)
    if problem is not None:
        await target.refuse(problem)
        return None
    question = clean_question(question)
    base_url = bot.settings.source_base_url
    editor = StreamingEditor(target, bot.settings.stream_edit_seconds, base_url)
    editor.start()

    async def on_position(position: int) -> None:
        await target.show(f"You're number {position} in line; I'll answer as soon as I can.")

    try:
        try:
            answer = await bot.queue.submit(
                user_id, question, editor.update, on_position, editor.checking, history
            )
        finally:
            await editor.stop()
    except BotError as error:  # refused by the queue (cooldown, full) or the index
        await target.refuse(str(error))
        return None
    except Exception:
        log.exception("Answering failed for %r", question[:200])
        await target.show(SORRY)
        return None
    view = await logged_view(bot.feedback, answer, target)  # 👍 / 👎 on the last message
    messages = render_messages(answer, base_url=base_url)
    searching = searching_line(answer)
    if searching and messages and len(searching) + 2 + len(messages[0]) <= MESSAGE_LIMIT:
        messages[0] = f"{searching}\n\n{messages[0]}"
    elif searching:
        messages.insert(0, searching[:MESSAGE_LIMIT])
    for number, message in enumerate(messages):
        last_view = view if number == len(messages) - 1 else None
        await (target.show if number == 0 else target.add)(message, last_view)
    return answer
