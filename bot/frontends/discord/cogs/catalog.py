"""The article catalogue: /articles lists and finds titles for anyone; /remove and /restore
take articles out of the answers and back (moderators only, checked here)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontends.discord.cogs.admin import STATUS_SECONDS, STATUS_SLOW
from bot.frontends.discord.cogs.checks import ServedOnly, is_moderator, refused_change
from bot.frontends.discord.cogs.errors import HINTS
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.frontends.discord.formatting import escape_markdown
from bot.library.catalog import describe, find
from bot.library.collection import Library
from bot.sources import article_link
from retrieval.cleaning import shorten
from retrieval.errors import KnownError
from retrieval.store import ArticleSummary

if TYPE_CHECKING:
    from bot.frontends.discord.cogs.host import CommunityBot
    from bot.library.catalog import Change

MODERATORS_ONLY = (
    "Only moderators (Manage Server, or a moderator role) can remove or restore articles."
)
PAGE_LINES = 10  # articles per page
PAGE_CHARS = 1700  # the lines of one page; the header and Discord's 2,000 limit need the rest
CHOICES = 25  # Discord's most autocomplete choices
CHOICE_CHARS = 100  # Discord's longest choice name and value
AUTOCOMPLETE_SECONDS = 2.0  # Discord drops autocomplete answers after 3 s
PAGER_SECONDS = 900.0  # page buttons work this long after the list was shown
T = TypeVar("T")


def article_line(article: ArticleSummary, base_url: str | None = None) -> str:
    """One article: its title, linked when a web address is known (`bot.sources`), else
    with its source (the file's path)."""
    title = escape_markdown(shorten(" ".join(article.title.split()), 150))
    link = article_link(article.source, article.path, base_url)
    if link and len(link) <= 300:
        return f"• [{title}](<{link}>)"
    return f"• {title} · `{shorten(article.source, 200).replace('`', '')}`"


def pack_pages(
    lines: Sequence[str], per_page: int = PAGE_LINES, chars: int = PAGE_CHARS
) -> list[list[str]]:
    """Lines grouped into pages of at most `per_page` lines and `chars` characters."""
    pages: list[list[str]] = []
    for line in lines:
        last = pages[-1] if pages else None
        if (
            last is None
            or len(last) >= per_page
            or sum(map(len, last)) + len(last) + len(line) > chars
        ):
            pages.append([line])
        else:
            last.append(line)
    return pages


def articles_message(
    articles: Sequence[ArticleSummary], words: str, page: int, base_url: str | None = None
) -> tuple[str, int]:
    """The text of one page of the list (or why it is empty), and how many pages there are."""
    found = find(articles, words)
    which = f" matching '{escape_markdown(shorten(words.strip(), 80))}'" if words.strip() else ""
    if not found:
        hint = " Try fewer or shorter words." if which else ""
        return f"No articles{which}.{hint}", 0
    pages = pack_pages([article_line(article, base_url) for article in found])
    page = min(max(page, 1), len(pages))
    header = f"**{len(found)} articles{which}** · page {page} of {len(pages)}"
    return "\n".join([header, *pages[page - 1]]), len(pages)


def choice_for(article_id: str, title: str, path: str) -> app_commands.Choice[str]:
    """An autocomplete choice showing title and path; its value names the article exactly
    when the id fits Discord's 100 characters (else the title is looked up)."""
    name = shorten(f"{' '.join(title.split())} — {path}", CHOICE_CHARS)
    value = article_id if len(article_id) <= CHOICE_CHARS else title[:CHOICE_CHARS]
    return app_commands.Choice(name=name, value=value)


async def off_the_loop(read: Callable[..., T], *args: object, seconds: float) -> T | None:
    """`read` in a worker thread, so a busy index never blocks the event loop; None when it
    takes longer than `seconds`."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(read, *args), seconds)
    except TimeoutError:
        return None


class ArticlePager(ServedOnly, discord.ui.View):
    """Previous / next buttons under a page of /articles; each click re-reads the index."""

    def __init__(self, cog: CatalogCog, words: str, page: int, pages: int) -> None:
        super().__init__(timeout=PAGER_SECONDS)
        self.cog, self.words, self.page = cog, words, page
        self.previous.disabled = page <= 1
        self.next.disabled = page >= pages

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Show the page before."""
        await self.cog.turn_page(interaction, self.words, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Show the page after."""
        await self.cog.turn_page(interaction, self.words, self.page + 1)


class CatalogCog(commands.Cog):
    """Listing articles for everyone; removing and restoring them for moderators."""

    def __init__(self, bot: CommunityBot) -> None:
        self.bot = bot
        self.read_seconds = STATUS_SECONDS

    # -- /articles ------------------------------------------------------------------
    @app_commands.command(name="articles")
    @app_commands.describe(words="only titles (or paths) with these words", page="which page")
    async def articles(
        self, interaction: discord.Interaction, words: str = "", page: int = 1
    ) -> None:
        """List or find the articles the bot answers from, with their sources."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        content, view = await self._page(interaction.guild_id, words, page)
        await interaction.edit_original_response(
            content=content, view=view, allowed_mentions=NO_PINGS
        )

    async def turn_page(self, interaction: discord.Interaction, words: str, page: int) -> None:
        """A page button was clicked: show that page in the same message."""
        await interaction.response.defer()
        content, view = await self._page(interaction.guild_id, words, page)
        await interaction.edit_original_response(
            content=content, view=view, allowed_mentions=NO_PINGS
        )

    async def _page(
        self, guild_id: int | None, words: str, page: int
    ) -> tuple[str, discord.ui.View | None]:
        library = self.bot.community(guild_id).library  # this server's articles only
        articles = await off_the_loop(library.articles, seconds=self.read_seconds)
        if articles is None:
            return STATUS_SLOW, None
        base_url = self.bot.settings.source_base_url
        content, pages = articles_message(articles, words, page, base_url)
        shown = min(max(page, 1), pages)
        return content, ArticlePager(self, words, shown, pages) if pages > 1 else None

    # -- /remove and /restore -------------------------------------------------------
    async def _removable(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction.user, self.bot.settings):
            return []
        library = self.bot.community(interaction.guild_id).library
        articles = await off_the_loop(library.articles, seconds=AUTOCOMPLETE_SECONDS)
        found = find(articles or [], current)[:CHOICES]
        return [choice_for(a.article_id, a.title, a.path) for a in found]

    async def _hidden(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction.user, self.bot.settings):
            return []
        try:
            library = self.bot.community(interaction.guild_id).library
            hidden = await off_the_loop(library.hidden, seconds=AUTOCOMPLETE_SECONDS)
        except KnownError:  # a damaged list: /restore itself says how to fix it
            hidden = None
        found = find(hidden or [], current)[:CHOICES]
        return [choice_for(e.article_id, e.title, e.path) for e in found]

    @app_commands.command(name="remove")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.describe(article="the article's title (pick one as you type) or its path")
    @app_commands.autocomplete(article=_removable)
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        """Take an article out of the answers: an added one is deleted, any other hidden."""
        by = f"{interaction.user.name} ({interaction.user.id})"
        await self._change(interaction, Library.remove, article, by)

    @app_commands.command(name="restore")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.describe(article="the hidden article's title (pick one as you type) or path")
    @app_commands.autocomplete(article=_hidden)
    async def restore(self, interaction: discord.Interaction, article: str) -> None:
        """Bring back an article /remove hid."""
        await self._change(interaction, Library.restore, article)

    async def _change(
        self, interaction: discord.Interaction, job: Callable[..., Change], *args: str
    ) -> None:
        """Run /remove or /restore (`job`, a `Library` method) on this server's articles and
        sync, in a worker thread, one reload at a time; the reply goes to the moderator
        alone."""
        if await refused_change(interaction, self.bot, MODERATORS_ONLY):
            return
        community = self.bot.community(interaction.guild_id)
        async with community.reload_lock:
            await interaction.response.defer(ephemeral=True, thinking=True)
            # Not found, ambiguous, another reload, a damaged list: told by `cogs.errors`.
            change = await asyncio.to_thread(job, community.library, *args)
            if change.report is not None:
                self.bot.articles_changed(community)  # and open questions asked again
            await interaction.edit_original_response(
                content=escape_markdown(describe(change, HINTS))[:2000], allowed_mentions=NO_PINGS
            )


async def setup(bot: commands.Bot) -> None:
    """Entry point for `load_extension`."""
    await bot.add_cog(CatalogCog(bot))
