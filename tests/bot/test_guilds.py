"""Which Discord servers the bot serves: the pure decision and the refusal's wording.

Driven through the real command tree, mentions and buttons in test_discord_guilds.
"""

from __future__ import annotations

import pytest

from bot.frontends.discord.cogs.checks import guild_served, named_guild_ids, not_served_message
from bot.settings import Settings

HOME, OTHER, THIRD = 111, 222, 333


def _settings(listed: list[int] | None = None, sync: int | None = None) -> Settings:
    return Settings(_env_file=None, discord_guild_ids=listed or [], discord_guild_id=sync)


@pytest.mark.parametrize(
    ("guild_id", "listed", "sync", "joined", "served"),
    [
        # listed servers only, whoever else invites the bot
        (HOME, [HOME], None, {HOME}, True),
        (OTHER, [HOME], None, {HOME, OTHER}, False),
        (OTHER, [HOME, OTHER], None, {HOME, OTHER, THIRD}, True),
        (THIRD, [HOME, OTHER], None, {HOME, OTHER, THIRD}, False),
        (HOME, [HOME], None, set(), True),  # a listed server that added only the commands
        # nothing listed: the one server the bot is in, and none once it is in several
        (HOME, [], None, {HOME}, True),
        (HOME, [], None, {HOME, OTHER}, False),
        (OTHER, [], None, {HOME, OTHER}, False),
        (HOME, [], None, set(), False),
        (OTHER, [], None, {HOME}, False),  # the commands added without the bot user
        # DISCORD_GUILD_ID (the sync server) stands in for an empty list
        (HOME, [], HOME, {HOME, OTHER}, True),
        (OTHER, [], HOME, {HOME, OTHER}, False),
        (OTHER, [], HOME, {OTHER}, False),
        (HOME, [OTHER], HOME, {HOME, OTHER}, False),  # the list, once set, decides alone
        # direct messages: no server, served as before in every configuration
        (None, [], None, {HOME, OTHER}, True),
        (None, [HOME], None, {HOME, OTHER}, True),
    ],
)
def test_guild_served(guild_id, listed, sync, joined, served) -> None:
    assert guild_served(guild_id, _settings(listed, sync), frozenset(joined)) is served


def test_named_servers_are_the_list_else_the_sync_server() -> None:
    assert named_guild_ids(_settings([HOME, OTHER], sync=THIRD)) == {HOME, OTHER}
    assert named_guild_ids(_settings(sync=THIRD)) == {THIRD}
    assert named_guild_ids(_settings()) == frozenset()


@pytest.mark.parametrize(
    ("listed", "sync", "joined"),
    [([HOME], None, {HOME, OTHER}), ([], HOME, {HOME, OTHER}), ([], None, {HOME})],
)
def test_a_stranger_server_is_told_the_bot_is_another_communitys(listed, sync, joined) -> None:
    text = not_served_message(OTHER, _settings(listed, sync), joined)
    assert text.startswith("This bot serves other communities, not this server")
    assert f"add this server's id ({OTHER}) to DISCORD_GUILD_IDS" in text


def test_several_servers_and_none_listed_say_the_operator_must_list_them() -> None:
    text = not_served_message(HOME, _settings(), {HOME, OTHER})
    assert text.startswith("This bot is in several servers")
    assert "The operator must list the served servers' ids in DISCORD_GUILD_IDS" in text
    assert str(HOME) in text


def test_with_a_corpus_per_server_direct_messages_are_not_served() -> None:
    """A direct message belongs to no server, so to no community's articles."""
    settings = Settings(_env_file=None, discord_guild_ids=[HOME], corpus_per_guild=True)
    assert guild_served(None, settings, {HOME}) is False
    assert guild_served(HOME, settings, {HOME}) is True
    assert not_served_message(None, settings, {HOME}).endswith("please ask in yours.")
