"""/articles, /remove and /restore through the real command tree, offline (SimCord).

The index is real; the bot, engine and members are test_client's, over a corpus with
the operator's articles, one article added through Discord and enough to need pages.
"""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.frontends.discord.cogs.catalog import (
    PAGE_LINES,
    article_line,
    articles_message,
    pack_pages,
)
from bot.library.managed import added_folder
from retrieval.hidden import load_hidden
from retrieval.search import Searcher
from retrieval.store import ArticleSummary, IndexStore
from tests.bot.frontends.discord import test_client
from tests.bot.library.test_catalog import ADDED, write_catalog_corpus

# test_client's bot and members, over this module's corpus (pytest finds fixtures by name).
settings, engine, library, simcord_bot, world = (
    test_client.settings,
    test_client.engine,
    test_client.library,
    test_client.simcord_bot,
    test_client.world,
)

pytestmark = pytest.mark.slow
EXTRA = 20  # with the 7 of the catalog corpus: 27 articles, three pages, over 25 choices


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = write_catalog_corpus(tmp_path / "corpus")
    for n in range(EXTRA):
        (folder / f"notice-{n:02}.txt").write_text(
            f"Parish notice {n:02}\n\nThe parish hall is booked on day {n} for the choir.\n"
        )
    return folder


@pytest.fixture
def moderator(world):
    env, guild, _, _ = world
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(env.create_user("mod"), roles=[mods])


def _button(message, label: str) -> dict:  # a SimCord ResponseMessage
    return next(c for row in message.components for c in row["components"] if c["label"] == label)


def _searchable(env, question: str) -> set[str]:
    store, embedder = env.bot.engine.store, env.bot.engine.searcher.embedder
    found = Searcher(store, embedder).search(question, k=10)
    return {passage.article_id for passage in found.passages}


async def test_articles_pages_with_buttons_under_the_message_limit(world) -> None:
    env, _, channel, alice = world
    result = await alice.slash(channel, "articles")
    first = result.response
    assert result.ephemeral and first.content.startswith("**27 articles** · page 1 of 3")
    assert len(first.content) < 2000 and first.content.count("\n• ") == PAGE_LINES
    assert "• Brookvale library reopens · `brookvale_library.txt`" in first.content
    assert "• [Ferry timetable changes](<https://x.example/ferry>)" in first.content
    assert _button(first, "Previous")["disabled"] and not _button(first, "Next").get("disabled")
    second = (await alice.click(first.message, label="Next")).response
    assert second.id == first.id and second.content.startswith("**27 articles** · page 2 of 3")
    assert "Brookvale library reopens" not in second.content
    third = (await alice.click(second.message, label="Next")).response
    assert third.content.count("\n• ") == 27 - 2 * PAGE_LINES
    assert _button(third, "Next")["disabled"] and not _button(third, "Previous").get("disabled")


async def test_articles_finds_titles_by_words(world) -> None:
    _, _, channel, alice = world
    found = (await alice.slash(channel, "articles", words="lib")).response.content
    assert found.startswith("**1 articles matching 'lib'** · page 1 of 1")
    assert "Brookvale library reopens" in found and "Parish" not in found
    none = (await alice.slash(channel, "articles", words="zeppelin")).response.content
    assert none == "No articles matching 'zeppelin'. Try fewer or shorter words."


def test_pages_keep_long_titles_under_the_limit() -> None:
    long = [
        ArticleSummary(f"a{n}.txt", "A very long headline " * 20, "https://x.example/" + "p" * 250,
                       f"a{n}.txt")
        for n in range(30)
    ]  # fmt: skip
    text, pages = articles_message(long, "", 2)
    assert len(text) < 2000 and pages == len(pack_pages([article_line(a) for a in long]))
    assert pages > 3  # fewer lines per page, not longer messages


async def test_remove_deletes_an_added_article_and_it_is_no_longer_found(
    world, moderator, corpus: Path
) -> None:
    env, _, channel, _ = world
    assert ADDED in _searchable(env, "council budget parks spending")
    result = await moderator.slash(channel, "remove", article=ADDED)
    text = result.response.content
    assert result.ephemeral and "Deleted 'Council budget passed'" in text and "1 removed" in text
    assert not (corpus / ADDED).exists() and added_folder(corpus).is_dir()
    assert ADDED not in _searchable(env, "council budget parks spending")
    assert load_hidden(env.bot.settings.index_dir) == []


async def test_remove_hides_an_operators_article_until_restored(
    world, moderator, corpus: Path
) -> None:
    env, _, channel, _ = world
    original = (corpus / "brookvale_library.txt").read_bytes()
    hid = await moderator.slash(channel, "remove", article="Brookvale library reopens")
    assert hid.ephemeral and "Hid 'Brookvale library reopens'" in hid.response.content
    assert (corpus / "brookvale_library.txt").read_bytes() == original
    assert "brookvale_library.txt" not in _searchable(env, "Who paid for the library works?")
    status = (await moderator.slash(channel, "status")).response.content
    assert (
        "**Hidden articles:** 1: Brookvale library reopens \\(brookvale\\_library.txt\\)" in status
    )
    reload = await moderator.slash(channel, "reload")
    assert "0 added, 0 updated, 0 removed" in reload.response.content  # still hidden
    back = await moderator.slash(channel, "restore", article="brookvale")
    assert back.ephemeral and "Restored 'Brookvale library reopens'" in back.response.content
    assert "1 added" in back.response.content
    assert "brookvale_library.txt" in _searchable(env, "Who paid for the library works?")
    status = (await moderator.slash(channel, "status")).response.content
    assert "Hidden" not in status


async def test_autocomplete_offers_matching_titles_and_only_hidden_ones_to_restore(
    world, moderator
) -> None:
    _, _, channel, _ = world
    everything = await moderator.autocomplete(channel, "remove", "article", "")
    assert len(everything) == 25  # Discord's most
    parish = await moderator.autocomplete(channel, "remove", "article", "parish not")
    assert len(parish) == EXTRA and parish[0]["name"] == "Parish notice 00 — notice-00.txt"
    assert parish[0]["value"] == "notice-00.txt"
    assert await moderator.autocomplete(channel, "restore", "article", "") == []
    await moderator.slash(channel, "remove", article="notice-03.txt")
    hidden = await moderator.autocomplete(channel, "restore", "article", "par")
    assert [c["value"] for c in hidden] == ["notice-03.txt"]


async def test_remove_and_restore_refuse_members_without_permission(world, corpus: Path) -> None:
    env, guild, channel, alice = world
    commands = {c.name: c for c in await env.bot.tree.fetch_commands()}
    for name in ("remove", "restore"):  # shown to alice, so the commands must refuse
        guild.set_command_permissions(commands[name], {alice: True})
    removed = await alice.slash(channel, "remove", article="Brookvale library reopens")
    assert removed.ephemeral and "Only moderators" in removed.response.content
    restored = await alice.slash(channel, "restore", article="Brookvale library reopens")
    assert restored.ephemeral and "Only moderators" in restored.response.content
    assert await alice.autocomplete(channel, "remove", "article", "") == []
    assert load_hidden(env.bot.settings.index_dir) == [] and (corpus / ADDED).exists()
    with IndexStore(env.bot.settings.index_dir) as store:
        assert store.article_count() == 27


async def test_an_ambiguous_title_lists_the_matches(world, moderator) -> None:
    env, _, channel, _ = world
    result = await moderator.slash(channel, "remove", article="parish notice 1")
    text = result.response.content
    assert result.ephemeral and "matches 10 articles" in text and "notice\\-13.txt" in text
    assert load_hidden(env.bot.settings.index_dir) == []
