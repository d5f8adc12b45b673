"""Who may do what, and where, in Discord: the moderator and channel checks every command uses."""

from __future__ import annotations

import discord

from bot.settings import Settings


def is_moderator(user: discord.abc.User, settings: Settings) -> bool:
    """Manage Server permission, or one of the configured moderator roles."""
    if not isinstance(user, discord.Member):
        return False  # direct messages: no server, no moderators
    if user.guild_permissions.manage_guild:
        return True
    allowed = set(settings.moderator_role_ids)
    return any(role.id in allowed for role in user.roles)


ALREADY_RELOADING = "A reload is already running; its summary will appear when it finishes."


async def refused_change(interaction: discord.Interaction, bot, refusal: str) -> bool:  # noqa: ANN001 - AnswerBot
    """Tell a member who is no moderator (`refusal`), or anyone while a reload runs, why the
    command that changes the articles will not run; False when it may run."""
    if not is_moderator(interaction.user, bot.settings):  # enforced here, not just hidden
        await interaction.response.send_message(refusal, ephemeral=True)
        return True
    if bot.reload_lock.locked():
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
