"""The one sync every change of the articles runs: `ingest`, `/reload`, `/add`, `/remove`,
`/restore` and a feed poll.

It sits below `bot.library.collection` (and the `adding`, `catalog` and `feeds` it calls)
rather than in `bot.app`, so adding or removing an article never depends on the
answer model's wiring.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.loading import require_corpus_folder
from retrieval.store import IndexStore
from retrieval.sync import ProgressCallback, SyncReport, sync_corpus


def require_corpus(settings: Settings) -> None:
    """Fail with a how-to unless the corpus folder exists (and is a folder, not a file)."""
    require_corpus_folder(settings.corpus_dir)


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
