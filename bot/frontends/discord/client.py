"""`python -m bot discord`: the Discord front end, a thin adapter over the engine.

The bot owns an `AnswerQueue` (the model runs in one worker thread, never on
the event loop) and loads one cog per concern from `bot/frontends/discord/cogs/`. Which articles a
server is answered from is `AnswerBot.community`'s answer (`bot.communities`): one
corpus for all, or with CORPUS_PER_GUILD each server's own. Only the servers
in DISCORD_GUILD_IDS are served: every command, autocomplete, button and message
from any other is stopped here, before a cog sees it. Every message
it sends uses `AllowedMentions.none()`, so neither the model nor an article
can ping anyone; the one exception pings one member, whose declined question an article
now answers, and no one else (`bot.frontends.discord.cogs.followups`). Errors inside a command get a
short reply only the member sees (`cogs.errors`); an unexpected one's traceback goes
to the log and the bot keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.answering.conversation import ConversationMemory
from bot.answering.engine import Engine
from bot.communities import Communities, Community
from bot.errors import BotError
from bot.feedback.log import FeedbackLog
from bot.frontends.discord.answer_queue import AnswerQueue
from bot.frontends.discord.cogs.checks import admitted, guild_served, named_guild_ids
from bot.frontends.discord.cogs.followups import recheck
from bot.frontends.discord.cogs.replies import NO_PINGS
from bot.library.collection import Library
from bot.settings import Settings

log = logging.getLogger("bot.discord")
COGS = (
    "bot.frontends.discord.cogs.errors",  # first: every other cog's command errors end there
    "bot.frontends.discord.cogs.ask",
    "bot.frontends.discord.cogs.admin",
    "bot.frontends.discord.cogs.catalog",
    "bot.frontends.discord.cogs.feedback",
    "bot.frontends.discord.cogs.gaps",
    "bot.frontends.discord.cogs.followups",
    "bot.frontends.discord.cogs.adding",
    "bot.frontends.discord.cogs.feeds",
    "bot.frontends.discord.cogs.help",
)


class ServedTree(app_commands.CommandTree):
    """The command tree with the served-server gate in front of every slash command,
    context menu and autocomplete, so no cog can forget it."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Run the command only in a server the bot serves (`cogs.checks.admitted`)."""
        return await admitted(interaction)


NO_ARTICLES_HERE = "This server has no articles of its own here; ask in a server the bot serves."


class AnswerBot(commands.Bot):
    """The Discord client: the communities (each an engine, library, feedback log and
    reload lock) and the one answer queue they share."""

    def __init__(self, communities: Communities, settings: Settings) -> None:
        intents = discord.Intents.default()  # mentions carry their text without message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_PINGS,
            help_command=None,
            tree_cls=ServedTree,
        )
        self.communities = communities  # the articles each server is answered from
        self.settings = settings
        self.queue = AnswerQueue(  # one model, one line per server with per-server corpora
            _no_default_answer,
            max_waiting=settings.queue_max_waiting,
            cooldown_seconds=settings.user_cooldown_seconds,
        )
        # recent answers by thread and message id: a follow-up's earlier turns
        self.conversations = ConversationMemory(turns=settings.conversation_turns)
        self.refused_guilds: set[int] = set()  # logged once each, not on every message
        self.rechecks: set[asyncio.Task] = set()  # open questions being asked again
        self.warned_at_count = 0  # servers the bot was in at the last "none listed" warning

    @classmethod
    def single(cls, engine: Engine, library: Library, settings: Settings) -> AnswerBot:
        """A bot answering every server it serves from one corpus (CORPUS_PER_GUILD off)."""
        return cls(Communities.one(engine, library), settings)

    def community(self, guild_id: int | None) -> Community:
        """The articles a command, question or click from `guild_id` acts on: the one place
        a server is mapped to its corpus. The gate in front of every cog has refused a
        server without one, so reaching here without one is a bug, refused all the same."""
        community = self.communities.for_guild(guild_id)
        if community is None:
            raise BotError(NO_ARTICLES_HERE)
        return community

    # The one corpus of a bot without per-server corpora, for tests and benchmarks; the
    # cogs always go through `community(guild_id)`.
    @property
    def engine(self) -> Engine:
        """The shared community's engine."""
        return self.communities.shared.engine

    @property
    def library(self) -> Library:
        """The shared community's library."""
        return self.communities.shared.library

    @property
    def feedback(self) -> FeedbackLog:
        """The shared community's feedback log."""
        return self.communities.shared.feedback

    @feedback.setter
    def feedback(self, log: FeedbackLog) -> None:
        self.communities.shared.feedback = log

    @property
    def reload_lock(self) -> asyncio.Lock:
        """The shared community's reload lock."""
        return self.communities.shared.reload_lock

    @property
    def last_reload(self) -> str | None:
        """When the shared community's articles last changed."""
        return self.communities.shared.last_reload

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

    def dispatch(self, event_name: str, /, *args: object, **kwargs: object) -> None:
        """Hand events to the listeners, except a message from a server the bot does not
        serve: no listener sees it (today that is the mention path in `cogs.ask`), so
        no mention there is answered, queued or replied to, and none added later can be."""
        message = args[0] if event_name == "message" and args else None
        if isinstance(message, discord.Message):
            guild_id = message.guild.id if message.guild else None
            if not self.serves(guild_id):
                return
        super().dispatch(event_name, *args, **kwargs)

    def articles_changed(self, community: Community) -> None:
        """Every change of a community's articles in the bot ends here (`/add`, `/reload`,
        a feed poll, `/restore`): note when, and ask its open questions again in the
        background (`cogs.followups.recheck`), so the moderator's reply never waits."""
        community.last_reload = datetime.now(UTC).isoformat(timespec="seconds")
        self.start_recheck(community)

    def start_recheck(self, community: Community) -> asyncio.Task:
        """Ask `community`'s open questions again, in a task kept in `rechecks`."""
        task = asyncio.get_running_loop().create_task(
            recheck(self, community), name="followup-recheck"
        )
        self.rechecks.add(task)
        task.add_done_callback(self._recheck_done)
        return task

    def _recheck_done(self, task: asyncio.Task) -> None:
        self.rechecks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Asking open questions again failed", exc_info=task.exception())

    async def close(self) -> None:
        """Stop answering and asking again, then disconnect."""
        for task in list(self.rechecks):
            task.cancel()
        await self.queue.stop()
        await super().close()

    async def on_ready(self) -> None:
        """Log where the bot is, so an operator sees it started, and which servers it
        refuses; ask the open questions again against what changed while it was away
        (`python -m bot ingest`, another process)."""
        log.info("Connected as %s in %d servers", self.user, len(self.guilds))
        self.check_guilds()
        for community in self.communities.all():
            self.start_recheck(community)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A server invited the bot: say at once whether it will be served."""
        log.info("Joined server %s (%d)", guild.name, guild.id)
        self.check_guilds()

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """The same check when Discord reports a server as available: its event for a
        server back from an outage, which some gateways also send for a new one."""
        self.check_guilds()

    def joined_guild_ids(self) -> frozenset[int]:
        """The ids of the servers the bot is in."""
        return frozenset(guild.id for guild in self.guilds)

    def serves(self, guild_id: int | None) -> bool:
        """Whether the bot answers in `guild_id` (`guild_served`); a refused server is
        logged the first time only, so a busy stranger server cannot flood the log."""
        if guild_served(guild_id, self.settings, self.joined_guild_ids()):
            return True
        if guild_id is not None and guild_id not in self.refused_guilds:
            self.refused_guilds.add(guild_id)
            guild = self.get_guild(guild_id)
            log.warning(
                "Refusing server %d (%s): it is not served (DISCORD_GUILD_IDS=%s); every "
                "command there gets a refusal and mentions go unanswered",
                guild_id,
                guild.name if guild else "the bot is not a member, only its commands are",
                ",".join(map(str, sorted(named_guild_ids(self.settings)))) or "empty",
            )
        return False

    def check_guilds(self) -> None:
        """Warn when the bot is in several servers and none is named (it then refuses in
        all), and log each server it refuses, once."""
        count = len(self.guilds)
        if not named_guild_ids(self.settings) and count > 1 and count != self.warned_at_count:
            self.warned_at_count = count  # once per number of servers, not once per event
            log.warning(
                "The bot is in %d servers and DISCORD_GUILD_IDS is empty, so it refuses every "
                "command and mention in all of them. List the ids of the servers it serves in "
                "DISCORD_GUILD_IDS and restart.",
                count,
            )
        for guild in self.guilds:
            self.serves(guild.id)


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


def _no_default_answer(question: str, *callbacks: object) -> object:
    """Every question brings its community's engine (`cogs.replies.answer_to`)."""
    raise RuntimeError("a question reached the queue without its community's engine")


async def run_bot(communities: Communities, settings: Settings) -> None:
    """Connect and serve until stopped; a missing or rejected token is a clear error."""
    token = require_token(settings)
    bot = AnswerBot(communities, settings)
    async with bot, _discord_errors():
        await bot.start(token)
