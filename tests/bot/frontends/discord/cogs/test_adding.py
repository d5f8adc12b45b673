"""/add driven through SimCord (a fake Discord) on the real command tree, index and model.

The fixtures (a town corpus indexed for real, the bot, a guild) are test_client's,
imported so both files build the same world; the tests take them as parameters.
"""

# ruff: noqa: F811

from __future__ import annotations

import pytest

from bot.library.managed import added_folder
from retrieval.store import IndexStore
from tests.bot.frontends.discord.test_client import (  # noqa: F401
    corpus,
    engine,
    library,
    moderator,
    settings,
    simcord_bot,
    world,
)
from tests.web_pages import ARTICLE_TITLE, CANONICAL, web_server

pytestmark = pytest.mark.slow
FERRY = (
    b"# Ferry timetable changes\n\nThe Dunmore ferry will leave at 7:15 from Monday, the "
    b"harbour office said. The last crossing of the day moves to 21:40.\n"
)


def _indexed(env, article_id: str):
    with IndexStore(env.bot.settings.index_dir) as store:
        return store.article(article_id)


async def test_a_moderator_adds_an_attached_file_and_only_they_see_the_reply(world) -> None:
    env, guild, channel, _ = world
    result = await moderator(env, guild).slash(channel, "add", file=("ferry.md", FERRY))
    text = result.response.content
    assert result.ephemeral
    assert text.startswith("Added “Ferry timetable changes” as added/ferry-timetable-changes.md")
    assert "passages indexed" in text and "1 added, 0 updated, 0 removed, 4 unchanged" in text
    article = _indexed(env, "added/ferry-timetable-changes.md")
    assert article is not None and "7:15" in article.text
    written = (added_folder(env.bot.settings.corpus_dir) / "ferry-timetable-changes.md").read_text()
    assert "added_by: mod (Discord " in written and "added_at: " in written
    assert env.bot.last_reload is not None


async def test_a_moderator_adds_a_page_by_its_address_and_a_second_time_it_is_had(world) -> None:
    env, guild, channel, _ = world
    env.bot.settings = env.bot.settings.model_copy(update={"fetch_allow_private": True})
    mod = moderator(env, guild)
    with web_server() as site:
        first = (await mod.slash(channel, "add", url=f"{site}/article")).response.content
        again = (await mod.slash(channel, "add", url=f"{site}/hop/1")).response.content
    assert first.startswith(f"Added “{ARTICLE_TITLE}”")
    assert _indexed(env, "added/harbour-wall-repaired-before-winter-storms.md").source == CANONICAL
    assert f"already have it: {ARTICLE_TITLE}" in again and "Added" not in again


async def test_the_bot_refuses_its_own_network_by_default(world) -> None:
    env, guild, channel, _ = world
    with web_server() as site:
        local = site.replace("127.0.0.1", "localhost")
        result = await moderator(env, guild).slash(channel, "add", url=f"{local}/article")
    text = result.response.content
    assert "was not added: 'localhost' is a loopback address" in text
    assert "FETCH_ALLOW_PRIVATE" in text and not added_folder(env.bot.settings.corpus_dir).exists()


async def test_add_refuses_members_without_permission(world) -> None:
    env, guild, channel, alice = world
    commands = await env.bot.tree.fetch_commands()
    add_command = next(c for c in commands if c.name == "add")
    guild.set_command_permissions(add_command, {alice: True})  # visible: the command must refuse
    result = await alice.slash(channel, "add", file=("ferry.md", FERRY))
    assert result.ephemeral and "Only moderators" in result.response.content
    assert not added_folder(env.bot.settings.corpus_dir).exists()
    assert _indexed(env, "added/ferry-timetable-changes.md") is None


async def test_add_says_what_it_takes_and_waits_for_a_running_reload(world) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    bare = await mod.slash(channel, "add")
    assert bare.ephemeral and "Attach a .txt, .md, .html or .jsonl file" in bare.response.content
    await env.bot.reload_lock.acquire()  # as if a reload were running
    try:
        busy = await mod.slash(channel, "add", file=("ferry.md", FERRY))
    finally:
        env.bot.reload_lock.release()
    assert busy.ephemeral and "A reload or another /add is running" in busy.response.content
    assert not added_folder(env.bot.settings.corpus_dir).exists()


async def test_each_bad_attachment_says_why_and_the_good_ones_are_added(world) -> None:
    env, guild, channel, _ = world
    result = await moderator(env, guild).slash(
        channel, "add", file=("photo.png", b"\x89PNG\r\n"), file2=("ferry.txt", FERRY)
    )
    text = result.response.content
    assert "photo.png was not added: it is a '.png'; attach a .txt" in text
    assert "Added “Ferry timetable changes”" in text
