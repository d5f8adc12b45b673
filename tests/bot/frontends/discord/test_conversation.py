"""Follow-ups on Discord, through SimCord (a fake Discord): in a thread the bot answered
in, and in a reply to one of its answers, the earlier turns are the question's context.

The engine, index and embedding model are real; the model is scripted, as in
test_client (the answer path with the real model is in test_conversation_answers).
"""

from __future__ import annotations

import pytest

from bot.frontends.discord.cogs.replies import SEARCHING
from tests.bot.frontends.discord import test_client as shared
from tests.bot.frontends.discord.test_client import QUESTION

# test_client's SimCord world, with its bot over the town index
corpus, settings, engine, library = shared.corpus, shared.settings, shared.engine, shared.library
simcord_bot, world = shared.simcord_bot, shared.world

pytestmark = pytest.mark.slow
FOLLOW_UP = "What age is she?"
READ_AS = f"*{SEARCHING} What age is Mara Quist?"


def _in_threads(env) -> None:  # noqa: ANN001
    env.bot.settings = env.bot.settings.model_copy(update={"reply_in_thread": True})


async def test_a_follow_up_in_the_thread_of_an_answer_is_read_with_it(world) -> None:
    env, _, channel, alice = world
    _in_threads(env)
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    [thread] = channel.threads
    await alice.send(thread, f"{env.bot.user.mention} {FOLLOW_UP}")
    reply = thread.last_message
    assert reply.author.id == env.bot.user.id and reply.content.startswith(READ_AS)
    assert len(channel.threads) == 1, "the follow-up stays in its thread"


async def test_a_reply_to_an_answer_is_read_with_it(world) -> None:
    env, _, channel, alice = world
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    answer = channel.last_message
    assert answer.author.id == env.bot.user.id
    await alice.send(channel, f"{env.bot.user.mention} {FOLLOW_UP}", reply_to=answer)
    assert channel.last_message.content.startswith(READ_AS)


async def test_a_question_with_no_earlier_answer_is_searched_as_typed(world) -> None:
    env, guild, channel, alice = world
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    elsewhere = guild.create_text_channel("elsewhere")
    await alice.send(elsewhere, f"{env.bot.user.mention} {FOLLOW_UP}")
    await alice.send(channel, f"{env.bot.user.mention} {FOLLOW_UP}")  # no reply, no thread
    assert SEARCHING not in elsewhere.last_message.content
    assert SEARCHING not in channel.last_message.content


async def test_ask_in_a_thread_the_bot_answered_in_is_read_with_it(world) -> None:
    env, _, channel, alice = world
    _in_threads(env)
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    [thread] = channel.threads
    result = await alice.slash(thread, "ask", question=FOLLOW_UP)
    assert result.response.content.startswith(READ_AS)
    private = await alice.slash(thread, "ask", question=FOLLOW_UP, private=True)
    assert SEARCHING not in private.response.content, "a private question has no thread context"
