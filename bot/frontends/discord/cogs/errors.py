"""The one path from a failure in Discord to the member: a reply only they see.

As python-discord's `ErrorHandler` cog does, every slash command's error ends here:
a known error (`KnownError`) is told as its message with Discord's next step
(`HINTS`); a check that failed says so; anything else is logged with its traceback and
gets the one `APOLOGY`. A command names what did not happen in its `extras["failed"]`
("The reload did not run"), which the reply starts with. Questions, which also come
as mentions with no interaction to reply to, use the same `error_text`
(`bot.frontends.discord.cogs.replies.answer_to`).
"""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import Hints, explained
from bot.frontends.discord.formatting import escape_markdown
from bot.library.catalog import AmbiguousTitle, ArticleNotFound
from retrieval.errors import KnownError, SyncRefused

log = logging.getLogger("bot.discord")
APOLOGY = "Sorry, something went wrong on my side; please try again later."
NOT_HERE = "You can't use this command here."
HINTS: Hints = {  # the next step, in Discord's words (`bot.errors.explained`)
    SyncRefused: "If that is what you want, run `/reload force:True`.",
}
# Errors that quote what a member typed or an article's title: escaped, so Discord shows
# them as they are rather than as formatting.
QUOTING = (ArticleNotFound, AmbiguousTitle)
MESSAGE_LIMIT = 2000


def error_text(error: BaseException, during: str) -> str:
    """What a member is told of `error`: a known one in Discord's words, else the
    apology, with the traceback logged (`during` says what was being done)."""
    if isinstance(error, QUOTING):
        return explained(error, HINTS, escape_markdown(str(error)))
    if isinstance(error, KnownError):
        return explained(error, HINTS)
    if isinstance(error, app_commands.CheckFailure):
        return NOT_HERE
    log.error("Failed %s", during, exc_info=error)
    return APOLOGY


async def tell_privately(
    interaction: discord.Interaction, content: str, deferred_privately: bool
) -> None:
    """Say `content` to the member alone: at once, or in place of a private deferral.

    After a public deferral the first follow-up would take its place and be public
    too, so the deferral is resolved first, then deleted.
    """
    content = content[:MESSAGE_LIMIT]
    none = discord.AllowedMentions.none()
    if not interaction.response.is_done():
        await interaction.response.send_message(content, ephemeral=True, allowed_mentions=none)
    elif deferred_privately:
        await interaction.edit_original_response(content=content, allowed_mentions=none)
    else:
        await interaction.edit_original_response(content="…", allowed_mentions=none)
        await interaction.followup.send(content, ephemeral=True, allowed_mentions=none)
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()


async def is_private(interaction: discord.Interaction) -> bool:
    """Whether the interaction's reply so far is one only the member sees."""
    if not interaction.response.is_done():
        return True
    original = await interaction.original_response()
    return original.flags.ephemeral


class ErrorHandler(commands.Cog):
    """Installs `on_app_command_error` as the command tree's error handler while loaded."""

    def __init__(self, bot: commands.Bot) -> None:  # any bot: this cog needs only its tree
        self.bot = bot
        self._previous = bot.tree.on_error

    async def cog_load(self) -> None:
        """Take over the tree's errors."""
        self.bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        """Give them back."""
        self.bot.tree.on_error = self._previous

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Turn a failed command into a reply the member alone sees."""
        command = interaction.command
        name = f"/{command.qualified_name}" if command else "an interaction"
        text = error_text(getattr(error, "original", error), f"in {name}")
        if interaction.type is discord.InteractionType.autocomplete:
            return  # no reply to give: the member sees no choices
        failed = command.extras.get("failed") if command else None
        try:
            await tell_privately(
                interaction, f"{failed}: {text}" if failed else text, await is_private(interaction)
            )
        except discord.HTTPException:
            log.exception("Could not tell the member %s failed", name)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(ErrorHandler(bot))
