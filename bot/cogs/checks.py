"""Who may do what in Discord: the one moderator check every command uses."""

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
