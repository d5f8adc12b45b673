"""The "Tell me if this gets answered" button, through SimCord (a fake Discord).

Who may press it, on which replies it appears, that it survives a restart, and that an
article that does not answer the question leaves it open. Real index and embedding
model; the model is test_client's scripted one (the answer path with the real model is
test_discord_followups_answered).
"""

# ruff: noqa: F811

from __future__ import annotations

import pytest

from bot.feedback.followups import FollowUps
from bot.frontends.cli import main
from bot.frontends.discord.client import AnswerBot
from bot.frontends.discord.cogs.followups import ALREADY_OPEN, LABEL, ONLY_THE_ASKER, OPENED
from retrieval.store import IndexStore
from tests.bot.conftest import scripted_engine
from tests.bot.frontends.discord import test_client as shared
from tests.bot.frontends.discord.test_client import moderator

corpus, settings, engine, library = shared.corpus, shared.settings, shared.engine, shared.library
simcord_bot, world = shared.simcord_bot, shared.world

pytestmark = pytest.mark.slow
FERRY_QUESTION = "What time does the Dunmore ferry leave from Monday?"
FERRY = (
    b"# Ferry timetable changes\n\nThe Dunmore ferry will leave at 7:15 from Monday, the "
    b"harbour office said. The last crossing of the day moves to 21:40.\n"
)


def follow_up_button(message) -> str | None:
    """The custom id of the message's follow-up button, if it has one."""
    rows = [r if isinstance(r, dict) else r.to_dict() for r in message.components]
    buttons = [c for row in rows for c in row.get("components", [row])]
    ids = [b["custom_id"] for b in buttons if b.get("label") == LABEL]
    return ids[0] if ids else None


async def test_only_the_asker_can_follow_a_question_and_once_is_enough(world) -> None:
    env, guild, channel, alice = world
    declined = (await alice.slash(channel, "ask", question=FERRY_QUESTION)).response
    bob = guild.add_member(env.create_user("bob"))
    refused = await bob.click(declined, custom_id=follow_up_button(declined))
    assert refused.ephemeral and refused.response.content == ONLY_THE_ASKER
    await alice.click(declined, custom_id=follow_up_button(declined))
    again = await alice.click(declined, custom_id=follow_up_button(declined))
    assert again.response.content == ALREADY_OPEN
    [held] = FollowUps(env.bot.settings.index_dir).open_questions()
    assert (held.member_id, held.question) == (alice.id, FERRY_QUESTION)
    assert held.message_id == declined.id, "the answer will reply to the decline"


async def test_the_button_works_after_a_restart(world, engine, library, settings) -> None:
    env, _, channel, alice = world
    declined = (await alice.slash(channel, "ask", question=FERRY_QUESTION)).response
    await env.restart_bot(AnswerBot.single(engine, library, settings))  # no view in memory
    opened = await alice.click(declined, custom_id=follow_up_button(declined))
    assert opened.response.content == OPENED.format(days=14)


async def test_answers_and_private_declines_carry_no_follow_up_button(world) -> None:
    env, _, channel, alice = world
    answered = (await alice.slash(channel, "ask", question=shared.QUESTION)).response
    assert "Mara Quist" in answered.content and follow_up_button(answered) is None
    private = (await alice.slash(channel, "ask", question=FERRY_QUESTION, private=True)).response
    assert "couldn't find" in private.content and follow_up_button(private) is None


async def test_an_unrelated_article_leaves_the_question_open(world) -> None:
    env, guild, channel, alice = world
    declined = (await alice.slash(channel, "ask", question=FERRY_QUESTION)).response
    await alice.click(declined, custom_id=follow_up_button(declined))
    bakery = b"# Bakery opens\n\nA bakery opened on Mill Lane in Pellham on Friday.\n"
    await moderator(env, guild).slash(channel, "add", file=("bakery.md", bakery))
    await env.settle()
    assert channel.last_message.id == declined.id, "nobody was told anything"
    followups = FollowUps(env.bot.settings.index_dir)
    assert len(followups.open_questions()) == 1
    with IndexStore(env.bot.settings.index_dir) as store:
        assert followups.changed(store.manifest()) == frozenset(), "asked again, in vain"


async def test_an_article_ingested_while_the_bot_was_stopped_answers_at_its_next_start(
    world, engine, library, settings, injection_exemplars, tmp_path, monkeypatch, capsys
) -> None:
    """`ingest` cannot reply in Discord: the bot asks again when it next connects. The
    restarted bot's scripted model answers what the new article says."""
    env, _, channel, alice = world
    declined = (await alice.slash(channel, "ask", question=FERRY_QUESTION)).response
    await alice.click(declined, custom_id=follow_up_button(declined))
    (settings.corpus_dir / "ferry.md").write_bytes(FERRY)
    monkeypatch.chdir(tmp_path)  # no developer .env
    index = str(settings.index_dir)
    assert main(["ingest", "--corpus", str(settings.corpus_dir), "--index", index, "--quiet"]) == 0
    assert "Open questions members asked to be told about: 1." in capsys.readouterr().out
    assert channel.last_message.id == declined.id, "nothing told while the bot is away"
    ferry_model = scripted_engine(
        engine.store, engine.searcher.embedder, injection_exemplars, "7:15"
    )
    await env.restart_bot(AnswerBot.single(ferry_model, library, settings))
    await env.settle()
    reply = channel.last_message
    assert reply.content.startswith(f"<@{alice.id}> you asked") and "7:15" in reply.content
    assert reply.reference is not None and reply.reference.message_id == declined.id
