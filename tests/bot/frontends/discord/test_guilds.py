"""Servers the bot does not serve, driven through SimCord (a fake Discord) on the real
command tree, cogs, index and embedding model (the answer model is scripted, as in
test_client): their owner changes nothing, their members' questions reach no model.

The stranger server's owner has Manage Server there (Discord gives owners every
permission), so each refusal below is the served-server gate's, not the moderator check's.
"""

# ruff: noqa: F811

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import discord
import pytest

from bot.frontends.discord.client import COGS
from bot.frontends.discord.cogs.checks import NOT_SERVED, SERVERS_NOT_LISTED, ServedOnly
from bot.library.managed import added_folder
from bot.settings import Settings
from retrieval.store import IndexStore
from tests.bot.frontends.discord.cogs.test_adding import FERRY
from tests.bot.frontends.discord.cogs.test_feedback import _vote_ids
from tests.bot.frontends.discord.test_client import (  # noqa: F401
    QUESTION,
    corpus,
    discord_settings,
    engine,
    library,
    moderator,
    simcord_bot,
    world,
)
from tests.feed_pages import feed_server

pytestmark = pytest.mark.slow
NEW_ARTICLE = "Budget approved\n\nThe council approved the harbour budget today.\n"


@pytest.fixture
def settings(corpus: Path, index_dir: Path) -> Settings:
    """test_client's settings, with loopback feeds allowed (so only the gate stops
    /feed add from following the test server's feed) and no timed poll."""
    return discord_settings(corpus, index_dir, fetch_allow_private=True, feed_poll_minutes=0)


@pytest.fixture
def stranger(world):
    """A second server whose owner invited the bot, while DISCORD_GUILD_IDS names the
    first alone: the server, a text channel in it and its owner."""
    env, home, _, _ = world
    _serve_only(env, home)
    owner = env.create_user("mallory")
    guild = env.create_guild("Stranger's server", owner=owner)
    return guild, guild.create_text_channel("general"), guild.add_member(owner)


def _serve_only(env, guild) -> None:
    """DISCORD_GUILD_IDS names `guild` alone."""
    env.bot.settings = env.bot.settings.model_copy(update={"discord_guild_ids": [guild.id]})


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _articles(env) -> list[str]:
    with IndexStore(env.bot.settings.index_dir) as store:
        return sorted(a.article_id for a in store.article_summaries())


def _answering_calls(env) -> list[str]:
    """Wrap the engine's answer; the list fills with each question that reaches it."""
    calls: list[str] = []
    real = env.bot.engine.ask

    def counting(question, *callbacks):
        calls.append(question)
        return real(question, *callbacks)

    env.bot.engine.ask = counting
    return calls


def _refused(result, template: str, guild) -> bool:
    """The result is the gate's refusal: at once, only to the member, naming the server."""
    return (
        result.ephemeral
        and not result.deferred
        and result.response.content == template.format(guild_id=guild.id)
    )


async def test_a_stranger_servers_owner_cannot_change_the_articles(world, stranger) -> None:
    env, home, home_channel, _ = world
    guild, channel, owner = stranger
    corpus_dir = env.bot.settings.corpus_dir
    hid = await moderator(env, home).slash(home_channel, "remove", article="Brookvale library")
    assert "Hid 'Brookvale" in hid.response.content, "hidden at home, for the stranger to restore"
    (corpus_dir / "new.txt").write_text(NEW_ARTICLE)  # a /reload that ran would index it
    files, articles, last_reload = _files(corpus_dir), _articles(env), env.bot.last_reload
    hidden = (env.bot.settings.index_dir / "hidden.json").read_bytes()
    with feed_server() as site:
        results = [
            await owner.slash(channel, "add", file=("ferry.md", FERRY), url=f"{site.base}/article"),
            await owner.slash(channel, "remove", article="Glenfield backs riverside walkway"),
            await owner.slash(channel, "restore", article="Brookvale library reopens"),
            await owner.slash(channel, "reload", force=True),
            await owner.slash(channel, "feed add", url=f"{site.base}/rss"),
            await owner.slash(channel, "feed remove", feed=f"{site.base}/rss"),
        ]
        hits = list(site.hits)
    assert all(_refused(r, NOT_SERVED, guild) for r in results), [
        r.response.content for r in results
    ]
    assert "add this server's id" in results[0].response.content
    assert _files(corpus_dir) == files and not added_folder(corpus_dir).exists()
    assert _articles(env) == articles and "new.txt" not in articles
    assert (env.bot.settings.index_dir / "hidden.json").read_bytes() == hidden
    assert env.bot.library.feeds.feeds() == [] and hits == []  # nothing fetched
    assert env.bot.last_reload == last_reload


async def test_every_command_and_autocomplete_is_refused_in_a_stranger_server(
    world, stranger
) -> None:
    env, home, _, _ = world
    guild, channel, owner = stranger
    for name in ("help", "status", "articles", "feedback", "gaps", "feed list"):
        assert _refused(await owner.slash(channel, name), NOT_SERVED, guild), name
    assert await owner.autocomplete(channel, "remove", "article", "") == []
    assert await owner.autocomplete(channel, "restore", "article", "") == []
    assert await owner.autocomplete(channel, "feed remove", "feed", "") == []


async def test_a_stranger_servers_questions_reach_no_model(world, stranger) -> None:
    env, home, _, _ = world
    guild, channel, owner = stranger
    calls = _answering_calls(env)
    member = guild.add_member(env.create_user("visitor"))
    asked = await member.slash(channel, "ask", question=QUESTION)
    assert _refused(asked, NOT_SERVED, guild)
    await member.send(channel, f"{env.bot.user.mention} {QUESTION}")
    await owner.send(channel, f"{env.bot.user.mention}")  # not even how to ask
    assert all(m.author.id != env.bot.user.id for m in channel.history()), "no reply at all"
    assert not channel.threads
    assert calls == [] and env.bot.queue.length == 0
    logged = [env.bot.feedback.summary(g.id, set()).answers for g in (home, guild)]
    assert logged == [0, 0], "nothing logged"


async def test_a_listed_server_is_served_beside_a_stranger(world, stranger) -> None:
    env, home, channel, alice = world
    calls = _answering_calls(env)
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    assert answer.content.startswith("Mara Quist") and not answer.ephemeral
    click = await alice.click(answer, custom_id=_vote_ids(answer)["👍"])
    assert "👍 noted" in click.response.content
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    assert "Mara Quist" in channel.last_message.content
    assert channel.last_message.author.id == env.bot.user.id
    assert calls == [QUESTION, QUESTION]
    (env.bot.settings.corpus_dir / "new.txt").write_text(NEW_ARTICLE)
    reload = await moderator(env, home).slash(channel, "reload")
    assert "1 added" in reload.response.content and "new.txt" in _articles(env)


async def test_a_stranger_server_is_logged_once(world, caplog) -> None:
    env, home, _, _ = world
    _serve_only(env, home)
    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        owner = env.create_user("mallory")
        guild = env.create_guild("Stranger's server", owner=owner)
        channel, mallory = guild.create_text_channel("general"), guild.add_member(owner)
        for _ in range(3):
            await mallory.slash(channel, "ask", question=QUESTION)
            await mallory.send(channel, f"{env.bot.user.mention} {QUESTION}")
    logged = [r.getMessage() for r in caplog.records]
    refusals = [m for m in logged if m.startswith(f"Refusing server {guild.id} ")]
    assert len(refusals) == 1, logged
    assert "(Stranger's server)" in refusals[0] and f"DISCORD_GUILD_IDS={home.id}" in refusals[0]


async def test_one_server_and_no_list_is_served(world) -> None:
    env, guild, channel, alice = world
    assert env.bot.settings.discord_guild_ids == [] and env.bot.settings.discord_guild_id is None
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    assert answer.content.startswith("Mara Quist")
    click = await alice.click(answer, custom_id=_vote_ids(answer)["👎"])
    assert "👎 noted" in click.response.content
    assert env.bot.feedback.summary(guild.id, set()).downs == 1


async def test_a_second_server_and_no_list_stop_the_bot_everywhere(world, caplog) -> None:
    env, home, channel, alice = world
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response  # one server
    calls = _answering_calls(env)
    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        owner = env.create_user("mallory")
        other = env.create_guild("Second server", owner=owner)
        await env.settle()  # on_guild_join has run
    assert any(
        "The bot is in 2 servers and DISCORD_GUILD_IDS is empty" in r.getMessage()
        for r in caplog.records
    ), "warned on joining the second server"
    other_channel = other.create_text_channel("general")
    mallory = other.add_member(owner)
    for member, where, guild in ((alice, channel, home), (mallory, other_channel, other)):
        assert _refused(
            await member.slash(where, "ask", question=QUESTION), SERVERS_NOT_LISTED, guild
        )
        await member.send(where, f"{env.bot.user.mention} {QUESTION}")
        assert where.last_message.author.id == member.id, "the mention went unanswered"
    click = await alice.click(answer, custom_id=_vote_ids(answer)["👎"])
    assert _refused(click, SERVERS_NOT_LISTED, home)
    assert _refused(
        await mallory.slash(other_channel, "reload", force=True), SERVERS_NOT_LISTED, other
    )
    assert calls == [] and env.bot.feedback.summary(home.id, set()).downs == 0
    _serve_only(env, home)  # the operator lists the community's server: it is served again
    again = await alice.slash(channel, "ask", question=QUESTION)
    assert again.response.content.startswith("Mara Quist") and calls == [QUESTION]
    assert (
        "👎 noted"
        in (await alice.click(answer, custom_id=_vote_ids(answer)["👎"])).response.content
    )


async def test_the_sync_server_is_the_one_served_when_nothing_is_listed(world, stranger) -> None:
    env, home, channel, alice = world
    guild, stranger_channel, owner = stranger
    sync_only = {"discord_guild_ids": [], "discord_guild_id": home.id}
    env.bot.settings = env.bot.settings.model_copy(update=sync_only)
    assert (await alice.slash(channel, "ask", question=QUESTION)).response.content.startswith(
        "Mara Quist"
    )
    refused = await owner.slash(stranger_channel, "ask", question=QUESTION)
    assert _refused(refused, NOT_SERVED, guild)


async def test_direct_messages_are_answered_as_before(world, stranger) -> None:
    env, home, _, _ = world
    _, _, owner = stranger
    await owner.send_dm(f"{env.bot.user.mention} {QUESTION}")
    reply = owner.user.dm_channel.last_message
    assert reply.author.id == env.bot.user.id and "Mara Quist" in reply.content


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found)) if found else found


def test_every_view_and_button_of_the_bot_passes_the_gate() -> None:
    """Components skip the command tree's check: each view and item must mix it in."""
    for cog in COGS:  # every cog module, so every view and item is defined
        importlib.import_module(cog)

    ours = {
        cls
        for base in (discord.ui.View, discord.ui.Item)
        for cls in _subclasses(base)
        if cls.__module__.startswith("bot.")
    }
    assert {cls.__name__ for cls in ours} >= {"ArticlePager", "VoteButton"}
    assert [cls.__name__ for cls in ours if not issubclass(cls, ServedOnly)] == []
