"""Where an answer goes: an interaction's reply or a message in a channel, streamed by edits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from typing import TYPE_CHECKING, Protocol

import discord

from bot.answering.engine import Answer, Quote
from bot.answering.question import QuestionProblem, problem_of, too_long_message
from bot.frontends.discord.cogs.errors import error_text, tell_privately
from bot.frontends.discord.cogs.followups import answer_view
from bot.frontends.discord.cogs.votes import log_answer
from bot.frontends.discord.formatting import (
    MESSAGE_LIMIT,
    escape_markdown,
    progress_message,
    render_messages,
)
from retrieval.errors import KnownError

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

log = logging.getLogger("bot.discord")
NO_PINGS = discord.AllowedMentions.none()
THINKING = "Looking through the articles…"
HOW_TO_ASK = "Ask me a question about the articles."
SEARCHING = "Searching for:"


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
        """A public "thinking…" is replaced by a message only the asker sees."""
        await tell_privately(self.interaction, content, self.ephemeral)


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
        self._passage_shown = False
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
            latest = self.latest
            if self.passage is not None and not self._passage_shown:
                # The passage alone first, however fast the model: something true at once.
                self._passage_shown, latest = True, None
                if self.latest is not None:
                    self._changed.set()  # the answer so far follows after the pause
            content = progress_message(self.passage, latest, base_url=self.base_url)
            if not content or content == self.shown:
                continue
            self.shown = content
            with contextlib.suppress(discord.HTTPException):
                await self.target.show(content)
            with contextlib.suppress(TimeoutError):  # the pause between edits; stop cuts it short
                await asyncio.wait_for(self._stopping.wait(), self.interval)


def clean_question(text: str) -> str:
    """Collapse whitespace and drop control characters from what a user typed.

    Invisible format characters (zero-width spaces and joiners, direction marks) are
    deleted, not made spaces: inside a word a space split it ("Glen field") and the
    article was no longer found.
    """
    printable = "".join(
        "" if unicodedata.category(ch) == "Cf" else ch if ch.isprintable() else " " for ch in text
    )
    return " ".join(printable.split())


def how_to_ask(examples: list[str]) -> str:
    """What to tell someone who asked nothing, with an example from their own articles."""
    if not examples:
        return HOW_TO_ASK
    return f"{HOW_TO_ASK[:-1]}, for example: *{escape_markdown(examples[0])}*"


def question_problem(question: str) -> QuestionProblem | None:
    """What the asker must change before the question, as typed, can be answered, or None."""
    return problem_of(clean_question(question))


def problem_text(problem: QuestionProblem, question: str) -> str:
    """What to tell the asker about `problem` with `question` as typed."""
    if problem is QuestionProblem.EMPTY:
        return HOW_TO_ASK
    return too_long_message(clean_question(question))


def searching_line(answer: Answer) -> str | None:
    """How a follow-up was read, when it was rewritten to stand alone."""
    if not answer.rewritten:
        return None
    return f"*{SEARCHING} {escape_markdown(answer.standalone)}*"


async def answer_to(
    bot: CommunityBot,
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
        await target.refuse(problem_text(problem, question))
        return None
    question = clean_question(question)
    community = bot.community(target.guild_id)  # the articles of the server asked in
    base_url = bot.settings.source_base_url
    editor = StreamingEditor(target, bot.settings.stream_edit_seconds, base_url)
    editor.start()

    async def on_position(position: int) -> None:
        await target.show(f"You're number {position} in line; I'll answer as soon as I can.")

    try:
        try:
            answer = await bot.queue.submit(
                user_id, question, editor.update, on_position, editor.checking,
                group=bot.communities.queue_group(target.guild_id),
                answer=community.engine.ask,
                history=history,
            )  # fmt: skip
        finally:
            await editor.stop()
    except KnownError as error:  # refused by the queue (cooldown, full) or the index
        await target.refuse(error_text(error, "answering"))
        return None
    except Exception as error:  # the apology takes the answer's place; the log has why
        await target.show(error_text(error, f"answering {question[:200]!r}"))
        return None
    answer_id = await log_answer(community.feedback, answer, target, user_id)
    view = answer_view(answer, answer_id, target)  # on the last message
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
