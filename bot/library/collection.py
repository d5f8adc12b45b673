"""The article collection as the front ends see it: sync, add, remove, restore, poll, status.

`Library` holds what every change of the articles needs (the settings, the index, the
embedding model and the followed feeds), so a front end calls `library.add(...)`
instead of threading `(settings, store, embedder)` through each call, and never reaches
through the engine for them. `bot.app` builds it beside the `Engine`, sharing one
index and one embedding model; the command line builds one alone (no answer model)
for `ingest`, `add`, `status` and the rest. The work itself stays in `bot.library.adding`,
`bot.library.catalog`, `bot.library.feeds` and `bot.library.syncing`; this class only
holds what they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from bot.library.adding import AddReport, Draft, Outcome, Provenance, add_drafts, add_target
from bot.library.catalog import Change, remove_article, restore_article
from bot.library.examples import example_questions
from bot.library.feed_store import FeedStore, feeds_summary
from bot.library.feeds import PollReport, SyncSlot, free_slot, poll_feeds
from bot.library.syncing import reload_corpus
from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.errors import ModelUnavailable
from retrieval.hidden import HiddenArticle, hidden_status, load_hidden
from retrieval.models import Article
from retrieval.store import ArticleSummary, IndexStore
from retrieval.sync import ProgressCallback, SyncReport

RESTORE_VECTORS = (
    "Run `python -m bot ingest` to restore them from the texts the index keeps, "
    "or `/reload` from a running bot."
)


@dataclass(frozen=True)
class Status:
    """What the index holds, for `status` in every front end (each renders it its own way).

    The fields are in the order the console and `status --json` show them.
    """

    index_dir: str
    corpus_dir: str
    articles: int
    chunks: int
    sentences: int
    vectors: str  # "embedded", the Chroma server, or "missing: …" with what to run
    embedding_model: str | None
    embedding_backend: str  # the backend the settings will run, or "unavailable: …"
    chunk_words: int | None
    chunk_overlap_words: int | None
    last_sync: str | None
    indexed_from: str | None
    feeds: str
    hidden: str  # "none", or how many articles /remove hid, the first few named

    def as_dict(self) -> dict:
        """The fields by name, in order: `status --json` and the console's lines."""
        return asdict(self)


def make_embedder(settings: Settings, on_load: Callable[[], None] | None = None) -> Embedder:
    """The embedding model the settings name; it loads on first use."""
    return Embedder(
        settings.embedding_model_path,
        settings.embed_batch_size,
        on_load=on_load,
        backend=settings.embedding_backend,
        cache_dir=settings.model_cache_dir,
    )


class Library:
    """The articles behind the answers, and every way they change.

    `embedder` is None for a library opened only to read (`status` must work even when
    the embedding model cannot be found); the methods that sync then refuse to run.
    """

    def __init__(
        self,
        settings: Settings,
        store: IndexStore,
        embedder: Embedder | None,
        feeds: FeedStore | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.feeds = feeds or FeedStore(settings.index_dir)

    def _embedding(self) -> Embedder:
        if self.embedder is None:
            raise RuntimeError("this Library was opened to read only; it has no embedding model")
        return self.embedder

    # -- changes (each ends in the same incremental, atomic sync) ---------------------
    def reload(
        self,
        on_progress: ProgressCallback | None = None,
        *,
        wait: bool = False,
        on_wait: Callable[[str], None] | None = None,
        force: bool = False,
    ) -> SyncReport:
        """Sync the index with the corpus folder: `ingest`, `/reload` (`bot.library.syncing`)."""
        return reload_corpus(
            self.settings,
            self.store,
            self._embedding(),
            on_progress,
            wait=wait,
            on_wait=on_wait,
            force=force,
        )

    def add(
        self,
        drafts: Sequence[Draft],
        provenance: Provenance,
        *,
        refused: Iterable[Outcome] = (),
        wait: bool = False,
    ) -> AddReport:
        """Write new drafts into the managed folder and sync once (`adding.add_drafts`)."""
        return add_drafts(
            drafts,
            self.settings,
            self.store,
            self._embedding(),
            provenance,
            refused=refused,
            wait=wait,
        )

    def add_target(self, target: str, added_by: str, *, wait: bool = False) -> AddReport:
        """Add a PATH-or-URL, as the console's `/add` and `python -m bot add` do."""
        return add_target(target, self.settings, self.store, self._embedding(), added_by, wait=wait)

    def remove(self, text: str, by: str) -> Change:
        """Delete (added) or hide (operator's) the article `text` names, then sync."""
        return remove_article(self.settings, self.store, self._embedding(), text, by)

    def restore(self, text: str) -> Change:
        """Bring back the hidden article `text` names, then sync."""
        return restore_article(self.settings, self.store, self._embedding(), text)

    def poll(
        self, *, sync_slot: SyncSlot = free_slot, wait: bool = False, now: datetime | None = None
    ) -> PollReport:
        """Poll every feed that is due and add its new entries (`bot.library.feeds.poll_feeds`)."""
        return poll_feeds(
            self.settings,
            self.store,
            self._embedding(),
            self.feeds,
            sync_slot=sync_slot,
            wait=wait,
            now=now,
        )

    # -- reading -----------------------------------------------------------------------
    def status(self) -> Status:
        """What the index holds; no model is loaded."""
        config = self.store.config() or {}
        return Status(
            index_dir=str(self.settings.index_dir),
            corpus_dir=str(self.settings.corpus_dir),
            articles=self.store.article_count(),
            chunks=self.store.chunk_count(),
            sentences=self.store.sentence_count(),
            vectors=_vectors_status(self.store),
            embedding_model=config.get("embedding_model"),
            embedding_backend=_backend_status(self.settings),
            chunk_words=config.get("chunk_words"),
            chunk_overlap_words=config.get("chunk_overlap_words"),
            last_sync=self.store.get_meta("last_sync"),
            indexed_from=self.store.corpus_folder(),
            feeds=feeds_summary(self.settings.index_dir),
            hidden=hidden_status(self.settings.index_dir),  # articles /remove hid
        )

    def totals(self) -> dict[str, int]:
        """How many articles, chunks and sentences the index holds (after an `ingest`)."""
        return {
            "articles": self.store.article_count(),
            "chunks": self.store.chunk_count(),
            "sentences": self.store.sentence_count(),
        }

    def articles(self) -> list[ArticleSummary]:
        """Every indexed article's id, path, title and source, for listing and finding."""
        return self.store.article_summaries()

    def article(self, article_id: str) -> Article | None:
        """One indexed article with its full clean text, or None."""
        return self.store.article(article_id)

    def hidden(self) -> list[HiddenArticle]:
        """The articles `/remove` hid (a damaged list raises, never reads as empty)."""
        return load_hidden(self.settings.index_dir)

    def examples(self) -> list[str]:
        """Example questions about these articles, for help (`bot.library.examples`)."""
        return example_questions(self.store)


def _backend_status(settings: Settings) -> str:
    """The embedding backend the settings will run, or why the model cannot be found.

    Asked of a fresh embedder, not the library's, so status reads the same whether or
    not a model has run in this process.
    """
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
