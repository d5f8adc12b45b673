"""Which articles a Discord server is answered from: one corpus for all, or one per server.

By default every served server shares one corpus (one `Library`, one `Engine`). With
`CORPUS_PER_GUILD=true` each server in `DISCORD_GUILD_IDS` is a community of its own:
its articles in `CORPUS_DIR/<guild id>/`, its index in `INDEX_DIR/<guild id>/`, and with
the index its feeds, hidden list and feedback log (all three live in the index folder).
A community is then one `Library` and one `Engine` over that index; every engine shares
the one answer model and the one embedding model, so the model is loaded once.

`Communities.for_guild` is the one place a server is mapped to its articles: the Discord
front end asks it for every command, question, autocomplete and button, so no cog can
reach another server's corpus. The command line works on one server's corpus at a time
(`--guild ID`, `for_guild_settings`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.answering.engine import Engine
from bot.errors import BotError
from bot.feedback.followups import FollowUps
from bot.feedback.log import FeedbackLog
from bot.library.collection import Library
from bot.settings import Settings

GUILD_NEEDED = (
    "CORPUS_PER_GUILD=true gives each server its own articles: pass --guild ID to say "
    "whose (one of {ids})."
)
GUILD_UNKNOWN = (
    "Server {guild_id} is not in DISCORD_GUILD_IDS ({ids}), so it has no articles of its "
    "own; add its id there first."
)
PER_GUILD_OFF = (
    "--guild works only with CORPUS_PER_GUILD=true; without it every server shares "
    "CORPUS_DIR and INDEX_DIR, so leave --guild out."
)


def guild_settings(settings: Settings, guild_id: int) -> Settings:
    """The settings of one server's corpus: its own corpus and index folders inside the
    configured ones, everything else shared."""
    return settings.model_copy(
        update={
            "corpus_dir": settings.corpus_dir / str(guild_id),
            "index_dir": settings.index_dir / str(guild_id),
        }
    )


def for_guild_settings(settings: Settings, guild_id: int | None) -> Settings:
    """The settings a command-line command works on: the one corpus, or with
    CORPUS_PER_GUILD the named server's (`--guild ID`); a missing, unknown or needless
    server id is an error saying what to pass."""
    ids = ", ".join(map(str, settings.discord_guild_ids))
    if not settings.corpus_per_guild:
        if guild_id is not None:
            raise BotError(PER_GUILD_OFF)
        return settings
    if guild_id is None:
        raise BotError(GUILD_NEEDED.format(ids=ids))
    if guild_id not in settings.discord_guild_ids:
        raise BotError(GUILD_UNKNOWN.format(guild_id=guild_id, ids=ids))
    return guild_settings(settings, guild_id)


@dataclass(eq=False)
class Community:
    """One corpus and what serves it in Discord: its engine and library, its feedback
    log and open questions, and the locks that let one change of its articles, and one
    round of asking its open questions again, run at a time (another community's never
    waits for them)."""

    engine: Engine
    library: Library
    feedback: FeedbackLog
    followups: FollowUps
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    recheck_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_reload: str | None = None  # when a change of these articles last finished

    @classmethod
    def of(cls, engine: Engine, library: Library) -> Community:
        """The community over `library`, its feedback log and open questions beside its
        index."""
        folder = library.settings.index_dir
        return cls(engine, library, FeedbackLog(folder), FollowUps(folder))


@dataclass(frozen=True)
class Communities:
    """The communities the bot serves, by server id; the key None holds the one corpus
    every server shares (CORPUS_PER_GUILD off)."""

    by_guild: Mapping[int | None, Community]

    @classmethod
    def one(cls, engine: Engine, library: Library) -> Communities:
        """One corpus for every server the bot serves (and direct messages)."""
        return cls({None: Community.of(engine, library)})

    @property
    def per_guild(self) -> bool:
        """Whether each server has articles of its own."""
        return None not in self.by_guild

    @property
    def shared(self) -> Community:
        """The one community of a bot without per-server corpora."""
        if self.per_guild:
            raise RuntimeError("each server has its own corpus here; use for_guild(guild_id)")
        return self.by_guild[None]

    def for_guild(self, guild_id: int | None) -> Community | None:
        """The articles questions and commands from `guild_id` (None: a direct message)
        use; None when that server has none of its own."""
        if not self.per_guild:
            return self.by_guild[None]
        return self.by_guild.get(guild_id) if guild_id is not None else None

    def queue_group(self, guild_id: int | None) -> int | None:
        """Whose share of the answer queue a question from `guild_id` takes: its server's
        with per-server corpora, else the one shared line (as before)."""
        return guild_id if self.per_guild else None

    def all(self) -> list[Community]:
        """Every community, for work done for each (the feed poll)."""
        return list(self.by_guild.values())
