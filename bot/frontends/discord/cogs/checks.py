"""Who may do what, and where, in Discord: the served-server gate in front of everything,
and the moderator and channel checks the commands use."""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import TYPE_CHECKING

import discord

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

NOT_SERVED = (
    "This bot serves other communities, not this server, so it answers nothing and changes "
    "nothing here. To allow it here, its operator would add this server's id ({guild_id}) "
    "to DISCORD_GUILD_IDS."
)
SERVERS_NOT_LISTED = (
    "This bot is in several servers and its operator has not said which ones it serves, so "
    "it answers nothing and changes nothing in any of them for now. The operator must list "
    "the served servers' ids in DISCORD_GUILD_IDS (this server's id is {guild_id})."
)
SERVERS_ONLY = (
    "Each community this bot serves has articles of its own, so it answers in their "
    "servers, not in direct messages; please ask in yours."
)


def named_guild_ids(settings: Settings) -> frozenset[int]:
    """The servers the operator named: DISCORD_GUILD_IDS, else DISCORD_GUILD_ID (the one
    server commands sync to is the community's), else none."""
    if settings.discord_guild_ids:
        return frozenset(settings.discord_guild_ids)
    if settings.discord_guild_id is not None:
        return frozenset({settings.discord_guild_id})
    return frozenset()


def guild_served(guild_id: int | None, settings: Settings, joined: Collection[int]) -> bool:
    """Whether the bot answers and takes commands from `guild_id`.

    One corpus belongs to one community: the owner of any server that invites the bot has
    Manage Server there, so without this gate they could change the community's articles
    (and their members spend its model time). Only named servers are served; with none
    named, only the one server the bot is in, and none once it is in several, since nobody
    said which of them is the community. `joined` holds the ids of the servers the bot is
    in, not just their count: a server that added only the commands (the
    applications.commands scope, no bot user) sends interactions without being among them.
    Direct messages (`None`) are served as before: nothing there changes articles, since
    moderation needs a server member. With CORPUS_PER_GUILD they are not: a direct
    message belongs to no server, so to no community's articles.
    """
    if guild_id is None:
        return not settings.corpus_per_guild
    named = named_guild_ids(settings)
    if named:
        return guild_id in named
    return len(joined) == 1 and guild_id in joined


def not_served_message(guild_id: int | None, settings: Settings, joined: Collection[int]) -> str:
    """The refusal a server the bot does not serve sees: that the bot is another
    community's (and how its operator would allow this one), or, when the bot is in several
    servers and none is named, that the operator must name them; in a direct message
    with per-server corpora, to ask in a server."""
    if guild_id is None:
        return SERVERS_ONLY
    unnamed_among_several = not named_guild_ids(settings) and len(joined) > 1
    template = SERVERS_NOT_LISTED if unnamed_among_several else NOT_SERVED
    return template.format(guild_id=guild_id)


async def admitted(interaction: discord.Interaction) -> bool:
    """The one gate every interaction passes (commands, autocomplete, buttons): True when
    the bot serves the interaction's server; else the refusal, shown only to the member
    (an autocomplete gets no choices), and False."""
    bot: CommunityBot = interaction.client  # type: ignore[assignment]
    if bot.serves(interaction.guild_id):
        return True
    with contextlib.suppress(discord.HTTPException):  # refused either way
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        elif not interaction.response.is_done():
            joined = bot.joined_guild_ids()
            text = not_served_message(interaction.guild_id, bot.settings, joined)
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
    return False


def is_moderator(user: discord.abc.User, settings: Settings) -> bool:
    """Manage Server permission, or one of the configured moderator roles."""
    if not isinstance(user, discord.Member):
        return False  # direct messages: no server, no moderators
    if user.guild_permissions.manage_guild:
        return True
    allowed = set(settings.moderator_role_ids)
    return any(role.id in allowed for role in user.roles)


class ServedOnly:
    """Mixed into every view and persistent button (before the discord.ui class): a click
    is gated like a command, since components do not pass the command tree's check."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Handle the click only in a server the bot serves (`admitted`)."""
        return await admitted(interaction)


ALREADY_RELOADING = "A reload is already running; its summary will appear when it finishes."


async def refused_change(interaction: discord.Interaction, bot: CommunityBot, refusal: str) -> bool:
    """Tell a member who is no moderator (`refusal`), or anyone while a reload runs, why the
    command that changes the articles will not run; False when it may run."""
    if not is_moderator(interaction.user, bot.settings):  # enforced here, not just hidden
        await interaction.response.send_message(refusal, ephemeral=True)
        return True
    if bot.community(interaction.guild_id).reload_lock.locked():  # this server's articles
        await interaction.response.send_message(ALREADY_RELOADING, ephemeral=True)
        return True
    return False


def in_allowed_channel(channel: object, settings: Settings) -> bool:
    """Whether the bot answers in `channel`: any channel when ALLOWED_CHANNEL_IDS is
    empty, else a listed channel or a thread inside one."""
    allowed = set(settings.allowed_channel_ids)
    if not allowed:
        return True
    return getattr(channel, "id", None) in allowed or getattr(channel, "parent_id", None) in allowed


def where_to_ask(settings: Settings) -> str:
    """The ephemeral reply to a question asked outside ALLOWED_CHANNEL_IDS."""
    channels = ", ".join(f"<#{channel_id}>" for channel_id in settings.allowed_channel_ids)
    return f"I answer questions in {channels}; please ask there."
