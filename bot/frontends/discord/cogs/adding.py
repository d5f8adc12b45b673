"""Adding articles from Discord: /add with attached files and/or a web page's address.

Moderators only (checked here, not just hidden). The files are written into the
managed folder and the same incremental sync as /reload runs, under the same lock;
the result is shown only to the moderator who ran it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontends.discord.cogs.checks import is_moderator
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.formatting import escape_markdown
from bot.library.adding import (
    ADDABLE,
    AddRefused,
    Draft,
    Outcome,
    Provenance,
    draft_from_url,
    drafts_from_file,
    require_size,
)
from bot.library.fetching import FetchLimits
from retrieval.errors import KnownError

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot

MODERATORS_ONLY = "Only moderators (Manage Server, or a moderator role) can add articles."
HOW_TO_ADD = f"Attach {ADDABLE} (up to three), or give `url:` with the address of a web page."
BUSY = "A reload or another /add is running; try again when it has finished."


class AddingCog(commands.Cog):
    """/add: new articles from attachments or the web, for moderators."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot

    @app_commands.command(name="add", extras={"failed": "Nothing was added"})
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.describe(
        url="the address of an article's web page (http or https)",
        file="a .txt, .md, .html or .jsonl file with articles",
        file2="another file",
        file3="another file",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: str | None = None,
        file: discord.Attachment | None = None,
        file2: discord.Attachment | None = None,
        file3: discord.Attachment | None = None,
    ) -> None:
        """Add articles from attached files or a web page (moderators only)."""
        if not is_moderator(interaction.user, self.bot.settings):  # enforced here, not just hidden
            await interaction.response.send_message(MODERATORS_ONLY, ephemeral=True)
            return
        files = [f for f in (file, file2, file3) if f is not None]
        url = (url or "").strip()
        if not files and not url:
            await interaction.response.send_message(HOW_TO_ADD, ephemeral=True)
            return
        community = self.bot.community(interaction.guild_id)  # this server's articles
        if community.reload_lock.locked():
            await interaction.response.send_message(BUSY, ephemeral=True)
            return
        async with community.reload_lock:
            await interaction.response.defer(ephemeral=True, thinking=True)
            drafts, refused = await self._collect(files, url)
            who = f"{interaction.user.name} (Discord {interaction.user.id})"
            # Another reload, a refused sync: nothing was added (told by `cogs.errors`).
            report = await asyncio.to_thread(
                community.library.add, drafts, Provenance.now(who), refused=refused
            )
            if report.sync is not None:
                self.bot.articles_changed(community)  # and open questions asked again
            text = "\n".join(report.lines(escape_markdown))
            await interaction.edit_original_response(content=text[:2000], allowed_mentions=NO_PINGS)

    async def _collect(
        self, files: list[discord.Attachment], url: str
    ) -> tuple[list[Draft], list[Outcome]]:
        """Drafts from every attachment and the page; what cannot be added, with why."""
        drafts: list[Draft] = []
        refused: list[Outcome] = []
        for attachment in files:
            try:
                drafts += await self._attachment_drafts(attachment)
            except KnownError as error:  # one file or page refused: the others go on
                refused.append(Outcome(attachment.filename, reason=str(error)))
        if url:
            limits = FetchLimits.from_settings(self.bot.settings)
            try:
                drafts.append(await asyncio.to_thread(draft_from_url, url, limits))
            except KnownError as error:
                refused.append(Outcome(url, reason=str(error)))
        return drafts, refused

    async def _attachment_drafts(self, attachment: discord.Attachment) -> list[Draft]:
        """The articles in one attachment; its size is checked before it is downloaded."""
        settings = self.bot.settings
        require_size(attachment.size, settings.max_article_bytes)
        try:
            data = await asyncio.wait_for(attachment.read(), settings.fetch_timeout_seconds)
        except (TimeoutError, discord.HTTPException) as error:
            raise AddRefused(
                f"could not download it from Discord ({type(error).__name__}); try again."
            ) from None
        return await asyncio.to_thread(
            drafts_from_file, attachment.filename, data, settings.max_article_bytes
        )


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(AddingCog(bot))
