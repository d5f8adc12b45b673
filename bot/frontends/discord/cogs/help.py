"""Help: /help lists the commands, and example questions from the community's own articles.

The command list is read from the bot's own command tree, so a command added
later shows up without editing this file; commands hidden by default permissions
are listed under "For moderators".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.formatting import MESSAGE_LIMIT, escape_markdown
from bot.settings import Settings
from retrieval.cleaning import shorten
from retrieval.errors import KnownError

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot
    from bot.library.collection import Library

log = logging.getLogger("bot.discord")
EXAMPLES_SECONDS = 5.0  # a busy index gives help without examples rather than none


@dataclass(frozen=True)
class CommandLine:
    """One slash command as /help shows it."""

    usage: str  # "/ask question [private]"
    description: str
    moderators: bool


def command_lines(
    tree_commands: Iterable[app_commands.Command | app_commands.Group],
) -> list[CommandLine]:
    """Every slash command with its options, members' commands first."""
    lines = []
    for root in tree_commands:
        leaves = root.walk_commands() if isinstance(root, app_commands.Group) else [root]
        permissions = root.default_permissions
        for command in leaves:
            if not isinstance(command, app_commands.Command):
                continue
            options = (p.name if p.required else f"[{p.name}]" for p in command.parameters)
            usage = " ".join([f"/{command.qualified_name}", *options])
            moderators = permissions is not None and permissions.value != 0
            lines.append(CommandLine(usage, command.description, moderators))
    return sorted(lines, key=lambda line: (line.moderators, line.usage))


def help_text(lines: list[CommandLine], examples: list[str], settings: Settings) -> str:
    """The /help message: how to ask, examples, then the commands; within Discord's limit."""
    where = ", ".join(f"<#{channel}>" for channel in settings.allowed_channel_ids)
    parts = [
        "**Ask me about the articles.** Every answer quotes the article text it comes from. "
        "Use `/ask` (add `private:True` to be the only one who sees the answer), or mention "
        "me with your question." + (f" I answer in {where}." if where else "")
    ]
    if examples:
        parts.append("**For example**")
        parts += [f"• *{escape_markdown(example)}*" for example in examples]
    for heading, for_moderators in (("**Commands**", False), ("**For moderators**", True)):
        chosen = [line for line in lines if line.moderators == for_moderators]
        if chosen:
            parts.append(heading)
            parts += [f"`{line.usage}` — {shorten(line.description, 100)}" for line in chosen]
    text = ""
    for part in parts:
        if len(text) + len(part) + 2 > MESSAGE_LIMIT:
            return text + "\n…"
        text = f"{text}\n{part}" if text else part
    return text


async def read_examples(library: Library, seconds: float = EXAMPLES_SECONDS) -> list[str]:
    """`Library.examples` in a worker thread (never on the event loop); none when the
    index is busy, empty or unreadable, since help must still be given."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(library.examples), seconds)
    except (TimeoutError, KnownError) as error:
        log.warning("No example questions for help: %s", error or "the index is busy")
        return []


class HelpCog(commands.Cog):
    """The /help command."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot

    @app_commands.command(name="help")
    async def show_help(self, interaction: discord.Interaction) -> None:
        """How to ask, example questions from these articles, and every command."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        examples = await read_examples(self.bot.community(interaction.guild_id).library)
        text = help_text(command_lines(self.bot.tree.get_commands()), examples, self.bot.settings)
        await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(HelpCog(bot))
