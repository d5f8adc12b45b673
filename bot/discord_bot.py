"""`python -m bot discord`: the Discord front end, a thin adapter over the engine.

The bot owns an `AnswerQueue` (the model runs in one worker thread, never on
the event loop) and loads one cog per concern from `bot/cogs/`. Every message
it sends uses `AllowedMentions.none()`, so neither the model nor an article
can ping anyone. Errors inside a command get a short polite reply; the
traceback goes to the log and the bot keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_queue import AnswerQueue
from bot.answering import Engine
from bot.cogs.replies import NO_PINGS
from bot.feedback import FeedbackLog
from bot.settings import Settings
from retrieval.errors import BotError

log = logging.getLogger("bot.discord")
COGS = (
    "bot.cogs.ask",
    "bot.cogs.admin",
    "bot.cogs.catalog",
    "bot.cogs.feedback",
    "bot.cogs.adding",
    "bot.cogs.feeds",
    "bot.cogs.help",
)
SORRY = "Sorry, something went wrong while handling that; the details are in the bot's log."


class AnswerBot(commands.Bot):
    """The Discord client: engine, queue, feedback log, and the reload lock shared by the cogs."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        intents = discord.Intents.default()  # mentions carry their text without message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_PINGS,
            help_command=None,
        )
        self.engine = engine
        self.settings = settings
        self.queue = AnswerQueue(
            engine.ask,
            max_waiting=settings.queue_max_waiting,
            cooldown_seconds=settings.user_cooldown_seconds,
        )
        self.reload_lock = asyncio.Lock()
        self.feedback = FeedbackLog(settings.index_dir)  # questions and votes; reloads keep it
        self.last_reload: str | None = None
        self.tree.on_error = self.on_app_command_error

    async def setup_hook(self) -> None:
        """Load the cogs and register the slash commands with Discord."""
        for cog in COGS:
            await self.load_extension(cog)
        if self.settings.discord_guild_id:
            guild = discord.Object(id=self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def close(self) -> None:
        """Stop answering, then disconnect."""
        await self.queue.stop()
        await super().close()

    async def on_ready(self) -> None:
        """Log where the bot is, so an operator sees it started."""
        log.info("Connected as %s in %d servers", self.user, len(self.guilds))

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """One place that turns a failed slash command into a polite reply."""
        original = getattr(error, "original", error)
        if isinstance(original, BotError):
            message = str(original)
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            log.error("Command failed", exc_info=original)
            message = SORRY
        await send_reply(interaction, message, ephemeral=True)


async def send_reply(
    interaction: discord.Interaction, content: str, *, ephemeral: bool = False
) -> None:
    """Reply to an interaction whether or not it was already acknowledged."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=ephemeral, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(
                content, ephemeral=ephemeral, allowed_mentions=NO_PINGS
            )
    except discord.HTTPException:
        log.exception("Could not send an error reply")


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
LOGIN_SECONDS = 30.0


def require_token(settings: Settings) -> str:
    """The Discord token, or a clear error saying where to get one or what is wrong with it."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise BotError(
            "DISCORD_TOKEN is not set. Create a bot in the Discord developer portal, copy its "
            "token into .env as DISCORD_TOKEN=..., and run again (see README, Discord)."
        )
    if not _TOKEN_SHAPE.fullmatch(token):
        hint = (
            " Leave out the 'Bot ' prefix." if token.lower().startswith("bot ") else
            " Leave out any quotes or spaces." if any(c in token for c in "\"' ") else ""
        )  # fmt: skip
        raise BotError(
            "DISCORD_TOKEN does not look like a bot token (three parts separated by dots, "
            f"about 70 characters).{hint} Copy it again from the developer portal "
            "(Bot → Reset Token)."
        )
    return token


@contextlib.asynccontextmanager
async def _discord_errors() -> AsyncIterator[None]:
    """Turn the ways logging in can fail into one clear message each."""
    try:
        yield
    except discord.LoginFailure as error:
        raise BotError(
            "Discord rejected DISCORD_TOKEN. Reset the token in the developer portal "
            "(Bot → Reset Token) and put the new one in .env."
        ) from error
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise BotError(
            f"Cannot reach Discord ({type(error).__name__}: {error}). Check this machine's "
            "network connection and try again."
        ) from error
    except discord.PrivilegedIntentsRequired as error:
        raise BotError(
            "Discord refused the bot's intents. Enable them for the application in the "
            "developer portal (Bot → Privileged Gateway Intents)."
        ) from error


async def check_login(token: str) -> None:
    """Log in once and out again, before the models load: a wrong token or no network
    is reported in a second, not after the models have loaded."""
    async with _discord_errors(), discord.Client(intents=discord.Intents.none()) as probe:
        await asyncio.wait_for(probe.login(token), LOGIN_SECONDS)


async def run_bot(engine: Engine, settings: Settings) -> None:
    """Connect and serve until stopped; a missing or rejected token is a clear error."""
    token = require_token(settings)
    bot = AnswerBot(engine, settings)
    async with bot, _discord_errors():
        await bot.start(token)
