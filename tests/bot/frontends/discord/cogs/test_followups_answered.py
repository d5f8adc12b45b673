"""A declined question answered to its asker within one sync after the article arrives,
through SimCord (a fake Discord).

A member's question is declined, they press "Tell me if this gets answered", a moderator
adds the article that answers it, and the member gets the answer as a reply to the
decline (`ingest` while the bot is stopped: test_discord_followups). Real index in a temp
folder, real embedding model and the real small answer model (`qwen-0.5b`).
"""

# ruff: noqa: F811

from __future__ import annotations

import pytest

from bot.answering.engine import Engine
from bot.answering.prompting import Prompts
from bot.feedback.followups import FollowUps
from bot.frontends.discord.client import AnswerBot
from bot.frontends.discord.cogs.followups import OPENED
from bot.library.collection import Library
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import UNHURRIED
from tests.bot.frontends.discord import test_client as shared
from tests.bot.frontends.discord.cogs.test_followups import (
    FERRY,
    FERRY_QUESTION,
    follow_up_button,
    moderator,
)
from tests.conftest import PROJECT

corpus, settings, library, world = shared.corpus, shared.settings, shared.library, shared.world

# The re-ask runs after the sync, in the background; SimCord waits for all the bot's work
# after each action, here for a real model's answer.
pytestmark = [pytest.mark.slow, pytest.mark.simcord(settle_timeout=300)]


@pytest.fixture
def engine(settings, embedder, generator, injection_exemplars, sync_copy, corpus):
    """The town index answered by the real small model, unhurried (a busy machine must
    not turn the answer into a fallback)."""
    sync_copy(corpus)
    with IndexStore(settings.index_dir) as store:
        prompts = Prompts.load(PROJECT / "prompts")
        searcher = Searcher(store, embedder)
        yield Engine(store, searcher, generator, prompts, UNHURRIED, injection_exemplars)


@pytest.fixture
def simcord_bot(engine: Engine, library: Library, settings) -> AnswerBot:
    return AnswerBot.single(engine, library, settings)


def _sent_with(env, text: str) -> dict:
    """The request body of the message the bot sent holding `text`."""
    bodies = [e.json for e in env.http_requests if isinstance(e.json, dict)]
    return next(b for b in bodies if text in str(b.get("content", "")))


async def test_a_declined_question_is_answered_to_its_asker_after_the_article_is_added(
    world,
) -> None:
    env, guild, channel, alice = world
    declined = (await alice.slash(channel, "ask", question=FERRY_QUESTION)).response
    assert "7:15" not in declined.content
    opened = await alice.click(declined, custom_id=follow_up_button(declined))
    assert opened.ephemeral and opened.response.content == OPENED.format(days=14)

    await moderator(env, guild).slash(channel, "add", file=("ferry.md", FERRY))
    await env.settle()  # the re-ask ran in the background, through the queue

    reply = channel.last_message
    assert reply.author.id == env.bot.user.id
    assert reply.content.startswith(f"<@{alice.id}> you asked “{FERRY_QUESTION}”")
    assert "7:15" in reply.content and "\n> " in reply.content
    assert "Ferry timetable changes" in reply.content, "the quote's source line"
    assert reply.reference is not None and reply.reference.message_id == declined.id
    sent = _sent_with(env, "an article now answers it")
    assert list(map(int, sent["allowed_mentions"]["users"])) == [alice.id], "the asker alone"
    assert not sent["allowed_mentions"].get("parse"), "no @everyone, no roles"
    assert FollowUps(env.bot.settings.index_dir).open_questions() == [], "closed"
