"""Wire the engine together from settings, once, for any front end.

`open_engine` loads the embedding model and the answer model and opens the
index; front ends (CLI, console, Discord) call it in their `main` and pass the
engine down. Nothing here is global: close the context and everything is freed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.answering import Engine
from bot.conversation import Rewriter
from bot.feed_store import feeds_summary
from bot.generation import Generator, LlamaGenerator
from bot.model_files import resolve_model_path
from bot.model_server import ServerGenerator
from bot.policy import AnswerPolicy
from bot.prompting import Prompts
from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.errors import IndexUnavailable, ModelUnavailable
from retrieval.hidden import hidden_status
from retrieval.loading import require_corpus_folder
from retrieval.search import Searcher
from retrieval.store import IndexStore
from retrieval.sync import PIPELINE_VERSION, ProgressCallback, SyncReport, sync_corpus
from retrieval.vectors import ChromaServer

RESTORE_VECTORS = (
    "Run `python -m bot ingest` to restore them from the texts the index keeps, "
    "or `/reload` from a running bot."
)


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


def require_corpus(settings: Settings) -> None:
    """Fail with a how-to unless the corpus folder exists (and is a folder, not a file)."""
    require_corpus_folder(settings.corpus_dir)


def make_embedder(settings: Settings, on_load: Callable[[], None] | None = None) -> Embedder:
    """The embedding model the settings name; it loads on first use."""
    return Embedder(
        settings.embedding_model_path,
        settings.embed_batch_size,
        on_load=on_load,
        backend=settings.embedding_backend,
        cache_dir=settings.model_cache_dir,
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
    return Searcher(store, embedder, candidates=settings.search_candidates)


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


def status_info(settings: Settings, store: IndexStore) -> dict:
    """What the index holds, for `status` in every front end."""
    config = store.config() or {}
    return {
        "index_dir": str(settings.index_dir),
        "corpus_dir": str(settings.corpus_dir),
        "articles": store.article_count(),
        "chunks": store.chunk_count(),
        "sentences": store.sentence_count(),
        "vectors": _vectors_status(store),
        "embedding_model": config.get("embedding_model"),
        "embedding_backend": _backend_status(settings),
        "chunk_words": config.get("chunk_words"),
        "chunk_overlap_words": config.get("chunk_overlap_words"),
        "last_sync": store.get_meta("last_sync"),
        "indexed_from": store.corpus_folder(),
        "feeds": feeds_summary(settings.index_dir),
        "hidden": hidden_status(settings.index_dir),  # articles /remove hid (bot.catalog)
    }


def _backend_status(settings: Settings) -> str:
    """The embedding backend the settings will run, or why the model cannot be found."""
    try:
        return make_embedder(settings).planned_backend()
    except ModelUnavailable as error:
        return f"unavailable: {error}"


def _vectors_status(store: IndexStore) -> str:
    """Where the vectors are, or that they are missing and how to get them back."""
    embedded = store.chroma_server is None
    missing = store.missing_vectors(open_vectors=not embedded)  # never claim a bot's vectors
    if missing:
        return f"missing: {missing}. {RESTORE_VECTORS}"
    return "embedded" if embedded else str(store.chroma_server)


def reload_corpus(
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    on_progress: ProgressCallback | None = None,
    *,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    force: bool = False,
) -> SyncReport:
    """Sync the index with the corpus folder (incremental, atomic), as `ingest` and `/reload` do.

    Another reload of the same index raises `IndexBusy`, or with `wait=True` is waited for.
    A sync from another folder, or one removing most articles, raises `SyncRefused`
    unless `force`.
    """
    require_corpus(settings)
    return sync_corpus(
        settings.corpus_dir,
        store,
        embedder,
        chunk_words=settings.chunk_words,
        chunk_overlap_words=settings.chunk_overlap_words,
        max_article_bytes=settings.max_article_bytes,
        max_article_sentences=settings.max_article_sentences,
        on_progress=on_progress,
        wait=wait,
        on_wait=on_wait,
        force=force,
    )


@contextmanager
def open_engine(settings: Settings, generator: Generator | None = None) -> Iterator[Engine]:
    """An engine over the configured index and models, warmed up; closes the index on exit."""
    require_index(settings)
    prompts = Prompts.load(settings.prompts_dir)
    policy = AnswerPolicy.from_settings(settings)  # a bad confidence file fails before models load
    with open_store(settings) as store:
        searcher = open_searcher(settings, store)
        engine = Engine(
            store,
            searcher,
            generator or load_generator(settings),
            prompts,
            policy,
            Rewriter(settings.rewrite, prompts.rewrite, settings.rewrite_seconds),
        )
        engine.warm_up()
        yield engine
