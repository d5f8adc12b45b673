"""Wire the engine and the library together from settings, once, for any front end.

`open_app` opens the index, loads the embedding model and the answer model, and
gives the `Engine` (answers) and the `Library` (the articles and their upkeep)
sharing that one index and embedding model; `open_library` gives the library alone,
for commands that never answer. Only the entry points (the command line, the
console, the Discord start-up and the benchmarks) import this module; they pass
`(engine, library)` down. Nothing here is global: close the context and everything
is freed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from bot.answering.conversation import Rewriter
from bot.answering.engine import Engine
from bot.answering.injection import LazyExemplars
from bot.answering.policy import AnswerPolicy
from bot.answering.prompting import Prompts
from bot.communities import Communities, Community, guild_settings
from bot.generation.generators import Generator, LlamaGenerator
from bot.generation.model_files import resolve_model_path
from bot.generation.model_server import ServerGenerator
from bot.library.collection import RESTORE_VECTORS, Library, make_embedder
from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.errors import IndexUnavailable
from retrieval.models import ChromaServer
from retrieval.search import Searcher, SearchRules
from retrieval.store import IndexStore
from retrieval.sync import PIPELINE_VERSION


def chroma_server(settings: Settings) -> ChromaServer | None:
    """The Chroma server the settings name, or None for the embedded database."""
    if not settings.chroma_host:
        return None
    return ChromaServer(
        settings.chroma_host, settings.chroma_port, settings.chroma_ssl,
        timeout=settings.chroma_timeout_seconds,
    )  # fmt: skip


def open_store(settings: Settings) -> IndexStore:
    """The index the settings name: `INDEX_DIR`, with vectors embedded or on the Chroma server."""
    return IndexStore(settings.index_dir, chroma_server(settings))


def require_index(settings: Settings) -> None:
    """Fail with a how-to unless an index exists in the configured folder."""
    if not (settings.index_dir / "articles.sqlite").exists():
        raise IndexUnavailable(
            f"No index in '{settings.index_dir}' yet. Run `python -m bot ingest` to build it "
            "(or pass --index DIR)."
        )


def open_searcher(
    settings: Settings, store: IndexStore, embedder: Embedder | None = None
) -> Searcher:
    """A searcher over `store` with the embedding model the index was built with."""
    if store.article_count() == 0:
        raise IndexUnavailable(
            f"The index in '{settings.index_dir}' is empty. Run `python -m bot ingest` first."
        )
    config = store.config() or {}
    if config.get("pipeline_version") != PIPELINE_VERSION or not store.get_meta("collection"):
        raise IndexUnavailable(
            f"The index in '{settings.index_dir}' was built by an older version of the bot. "
            "Run `python -m bot ingest` to rebuild it."
        )
    missing = store.missing_vectors()
    if missing:
        raise IndexUnavailable(
            f"The vectors of the index in '{settings.index_dir}' are missing ({missing}), so "
            f"no question could be answered. {RESTORE_VECTORS}"
        )
    embedder = embedder or make_embedder(settings)
    built_with = config.get("embedding_model")
    if built_with != embedder.name:
        raise IndexUnavailable(
            f"The index was built with embedding model '{built_with}' but the settings name "
            f"'{embedder.name}'. Run `python -m bot ingest` to rebuild it."
        )
    return Searcher(store, embedder, SearchRules(candidates=settings.search_candidates))


def load_generator(settings: Settings) -> Generator:
    """The answer model the settings name: a model server, or a GGUF loaded here."""
    if settings.llm_base_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return ServerGenerator(
            settings.llm_base_url,
            model=settings.llm_model,
            api_key=key,
            max_tokens=settings.llm_max_tokens,
            check_seconds=settings.llm_check_seconds,
            warm_up_seconds=settings.llm_warm_up_seconds,
            answer_seconds=settings.llm_answer_seconds,
        )
    path = resolve_model_path(settings.model_path, settings.model_cache_dir, settings.answer_model)
    return LlamaGenerator(
        path,
        context_tokens=settings.llm_context_tokens,
        threads=settings.llm_threads,
        max_tokens=settings.llm_max_tokens,
    )


@contextmanager
def open_library(
    settings: Settings, on_load: Callable[[], None] | None = None, *, embedding: bool = True
) -> Iterator[Library]:
    """The library alone, for commands that never answer (`ingest`, `add`, `status`, …).

    The embedding model is named first (a wrong EMBEDDING_MODEL_PATH fails before the
    index is opened) and loads only if something must be embedded, calling `on_load`;
    with `embedding=False` none is named, for reading only (`status`).
    """
    embedder = make_embedder(settings, on_load) if embedding else None
    with open_store(settings) as store:
        yield Library(settings, store, embedder)


@contextmanager
def open_app(
    settings: Settings, generator: Generator | None = None
) -> Iterator[tuple[Engine, Library]]:
    """The engine and the library over the configured index and models, sharing one index
    and one embedding model; the engine is warmed up; closes the index on exit."""
    require_index(settings)
    prompts = Prompts.load(settings.prompts_dir)
    policy = AnswerPolicy.from_settings(settings)  # a bad confidence file fails before models load
    with open_store(settings) as store:
        searcher = open_searcher(settings, store)
        exemplars = LazyExemplars(prompts.injection_exemplars, searcher.embedder)
        engine = _engine(settings, store, searcher, generator, prompts, policy, exemplars)
        engine.warm_up()
        yield engine, Library(settings, store, searcher.embedder)


def _engine(
    settings: Settings,
    store: IndexStore,
    searcher: Searcher,
    generator: Generator | None,
    prompts: Prompts,
    policy: AnswerPolicy,
    exemplars: LazyExemplars,
) -> Engine:
    """One engine over `store`, with the answer model given or loaded now."""
    return Engine(
        store,
        searcher,
        generator or load_generator(settings),
        prompts,
        policy,
        exemplars,
        Rewriter(settings.rewrite, prompts.rewrite, settings.rewrite_seconds),
    )


@contextmanager
def open_engine(settings: Settings, generator: Generator | None = None) -> Iterator[Engine]:
    """The engine alone (`ask`, `eval`, the benchmarks), as `open_app` builds it."""
    with open_app(settings, generator) as (engine, _):
        yield engine


@contextmanager
def open_communities(
    settings: Settings, generator: Generator | None = None
) -> Iterator[Communities]:
    """What the Discord bot serves: the one corpus (`open_app`), or with CORPUS_PER_GUILD
    one engine and library per server in DISCORD_GUILD_IDS over its own index, all
    sharing one answer model and one embedding model, each loaded once.

    Every server's index is checked before any model loads, so a server whose index
    was never built stops the start at once, saying which and how to build it.
    """
    if not settings.corpus_per_guild:
        with open_app(settings, generator) as (engine, library):
            yield Communities.one(engine, library)
        return
    guilds = {
        guild_id: guild_settings(settings, guild_id) for guild_id in settings.discord_guild_ids
    }
    for guild_id, own in guilds.items():
        _for_guild(guild_id, require_index, own)
    prompts = Prompts.load(settings.prompts_dir)
    policy = AnswerPolicy.from_settings(settings)
    embedder = make_embedder(settings)
    exemplars = LazyExemplars(prompts.injection_exemplars, embedder)  # embedded once, for all
    with ExitStack() as stack:
        by_guild: dict[int | None, Community] = {}
        for guild_id, own in guilds.items():
            store = stack.enter_context(open_store(own))
            searcher = _for_guild(guild_id, open_searcher, own, store, embedder)
            engine = _engine(settings, store, searcher, generator, prompts, policy, exemplars)
            generator = engine.generator  # loaded once, for every server
            by_guild[guild_id] = Community.of(engine, Library(own, store, embedder))
        first, *_ = (community.engine for community in by_guild.values())
        first.warm_up()  # the others share its answer model and its exemplars
        yield Communities(by_guild)


def _for_guild(guild_id: int, step: Callable, *args: object):
    """`step(*args)`, its "no usable index" error naming the server and its `--guild`."""
    try:
        return step(*args)
    except IndexUnavailable as error:
        raise IndexUnavailable(
            f"Server {guild_id} (CORPUS_PER_GUILD): {error} Add `--guild {guild_id}` to the "
            "command to work on this server's articles."
        ) from error
