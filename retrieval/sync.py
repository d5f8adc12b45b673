"""Bring the index in step with the corpus folder, re-embedding only what changed.

`plan_sync` is pure: it compares the fingerprints found on disk with the
manifest and says what to add, update, remove and leave alone. `sync_corpus`
carries the plan out under the index's reload lock: it embeds in batches (so
progress can be shown) into vectors nobody reads yet, then switches the index
to the new state in one commit (see `retrieval.atomic`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from retrieval.chunking import chunk_article, sentences_of
from retrieval.embedding import Embedder
from retrieval.errors import SyncRefused, SyncRisk
from retrieval.hidden import hidden_ids, without_hidden
from retrieval.loading import Scan, Source, guarded, parse_source, scan_corpus
from retrieval.locking import reload_lock
from retrieval.models import Skipped, SplitArticle
from retrieval.store import IndexStore, ManifestEntry

# Bump when cleaning or chunking code changes what is stored: the index then rebuilds.
PIPELINE_VERSION = 4
_EMBED_BATCH_SENTENCES = 1024
# Most sentences one article may have: every sentence is embedded while the reload lock is
# held (about 250 a second on 2 cores), so "Xa. " * 125,000 would hold it for many minutes.
# The longest BBC article has 244, the longest demo article 49.
MAX_ARTICLE_SENTENCES = 2000
_NAMES_SHOWN = 10  # articles named per kind of change in a summary

ProgressCallback = Callable[[int, int], None]  # (articles done, articles to index)


@dataclass(frozen=True)
class IndexConfig:
    """What the stored vectors depend on; any change means a full rebuild."""

    embedding_model: str
    embedding_dimension: int
    chunk_words: int
    chunk_overlap_words: int
    pipeline_version: int = PIPELINE_VERSION

    def as_dict(self) -> dict:
        """The config as stored in the index meta table."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class SyncPlan:
    """What a sync must do, decided from fingerprints alone."""

    to_index: list[Source]
    new_ids: frozenset[str]
    removed: list[str]
    unchanged: list[str]


@dataclass
class SyncReport:
    """What a sync did, for the CLI summary and for tests."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    sentences_embedded: int = 0  # embedded now (vectors left by a killed run are reused)
    repaired: str | None = None  # damaged vectors restored from the index's copy, and why
    rebuilt: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        """One line a person can read at a glance."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped "
            f"({self.sentences_embedded} sentences embedded in {self.seconds:.1f} s)"
        )
        return ("Rebuilt the index from scratch: " + line) if self.rebuilt else line

    def changes(self, shown: int = _NAMES_SHOWN) -> list[str]:
        """Which articles were added, updated and removed, by name, so a slip is seen at once."""
        lines = [f"repaired: {self.repaired}"] if self.repaired else []
        kinds = (("added", self.added), ("updated", self.updated), ("removed", self.removed))
        for label, ids in kinds:
            if ids:
                more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
                lines.append(f"{label}: {', '.join(ids[:shown])}{more}")
        return lines


def plan_sync(
    scan: Scan, manifest: dict[str, ManifestEntry], missing_vectors: frozenset[str] = frozenset()
) -> SyncPlan:
    """Decide, from fingerprints, which sources to (re)index and which articles to drop.

    Articles whose file exists but could not be read or was skipped this time are
    kept as indexed: a broken file never costs the index what it already had. Paths
    the scan refused (links out of the corpus, loops) are dropped: they must not stay.
    Articles in `missing_vectors` are redone even if unchanged (their vectors are gone).
    """
    seen = {source.article_id for source in scan.sources}
    protected_paths = (scan.unreadable_paths | {s.path for s in scan.skipped}) - scan.refused_paths
    to_index = [
        source
        for source in scan.sources
        if source.article_id not in manifest
        or manifest[source.article_id].fingerprint != source.fingerprint
        or source.article_id in missing_vectors
    ]
    removed = sorted(
        article_id
        for article_id, entry in manifest.items()
        if article_id not in seen and entry.path not in protected_paths
    )
    changed = {source.article_id for source in to_index}
    return SyncPlan(
        to_index=to_index,
        new_ids=frozenset(aid for aid in changed if aid not in manifest),
        removed=removed,
        unchanged=[s.article_id for s in scan.sources if s.article_id not in changed],
    )


def index_config(embedder: Embedder, chunk_words: int, chunk_overlap_words: int) -> IndexConfig:
    """The configuration an index built now with these settings would have."""
    return IndexConfig(embedder.name, embedder.dimension, chunk_words, chunk_overlap_words)


def sync_corpus(
    corpus_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    *,
    chunk_words: int,
    chunk_overlap_words: int,
    max_article_bytes: int,
    max_article_sentences: int = MAX_ARTICLE_SENTENCES,
    on_progress: ProgressCallback | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    force: bool = False,
) -> SyncReport:
    """Index new and changed articles, drop deleted ones, and report what happened.

    An article longer than `max_article_bytes` or with more than `max_article_sentences`
    sentences is skipped with the reason (an indexed version of it stays).

    Holds the index's reload lock: a second reload (here or in another process)
    raises `IndexBusy`, or with `wait=True` waits its turn. Unless `force`, a sync
    from another folder than the index was built from, or one that would remove
    more than half of its articles, raises `SyncRefused` before anything changes.
    """
    with reload_lock(store.index_dir, wait=wait, on_wait=on_wait):
        return _sync_locked(
            corpus_dir,
            store,
            embedder,
            index_config(embedder, chunk_words, chunk_overlap_words),
            (max_article_bytes, max_article_sentences),
            on_progress,
            force,
        )


def _sync_locked(
    corpus_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    config: IndexConfig,
    limits: tuple[int, int],  # (bytes, sentences) an article may have
    on_progress: ProgressCallback | None,
    force: bool,
) -> SyncReport:
    started = time.perf_counter()
    report = SyncReport()
    settings = config.as_dict()
    rebuild = store.config() != settings
    report.rebuilt = rebuild and store.config() is not None
    folder = str(corpus_dir.resolve())
    if not force:
        refuse_other_folder(store, folder)

    # Articles a moderator hid (`/remove`) are left out as if their files were not there.
    max_bytes, max_sentences = limits
    scan = without_hidden(scan_corpus(corpus_dir, max_bytes), hidden_ids(store.index_dir))
    report.skipped.extend(scan.skipped)
    if not rebuild:  # a rebuild replaces the collection anyway
        report.repaired = store.repair_vectors()
    indexed = store.manifest()
    manifest = {} if rebuild else indexed
    repair = frozenset() if rebuild else frozenset(store.articles_missing_vectors())
    plan = plan_sync(scan, manifest, repair)
    lost = articles_lost(scan, indexed) if rebuild else plan.removed
    if not force:
        refuse_mass_removal(store, folder, len(lost), len(indexed))
    report.unchanged = len(plan.unchanged)
    collection = store.collection_for(settings)

    written: Batch = []
    done = 0
    if on_progress and plan.to_index:
        on_progress(0, len(plan.to_index))  # show the bar before the first slow batch
    for batch, parsed in _batches(
        plan.to_index, config.chunk_words, config.chunk_overlap_words, max_sentences, report
    ):
        sentences = [sentence for split in batch for sentence in split.sentences]
        have = store.vector_ids(collection, [sentence.sentence_id for sentence in sentences])
        todo = [sentence for sentence in sentences if sentence.sentence_id not in have]
        if todo:
            store.add_vectors(collection, todo, embedder.embed([s.text for s in todo]))
        report.sentences_embedded += len(todo)
        for split in batch:
            article_id = split.article.article_id
            is_new = article_id in plan.new_ids or rebuild
            (report.added if is_new else report.updated).append(article_id)
        written.extend(batch)
        done += parsed
        if on_progress:
            on_progress(done, len(plan.to_index))

    report.removed.extend(lost)
    store.commit(
        collection,
        settings,
        written,
        plan.removed,
        replace_all=rebuild,
        extra_meta={
            "last_sync": datetime.now(UTC).isoformat(timespec="seconds"),
            "corpus_dir": folder,
        },
    )
    store.collect_garbage()
    report.seconds = time.perf_counter() - started
    return report


def refuse_other_folder(store: IndexStore, folder: str) -> None:
    """Stop a sync from a folder other than the index's: a forgotten --corpus would replace it."""
    built_from = store.corpus_folder()
    if built_from is not None and built_from != folder:
        raise SyncRefused(SyncRisk.OTHER_FOLDER, store.index_dir, built_from, folder)


def refuse_mass_removal(store: IndexStore, folder: str, removing: int, indexed: int) -> None:
    """Stop a sync that would drop most of the index: an emptied or wrong folder, not an edit."""
    if 2 * removing <= indexed:
        return
    raise SyncRefused(
        SyncRisk.MASS_REMOVAL, store.index_dir, store.corpus_folder(), folder, removing, indexed
    )


def articles_lost(scan: Scan, indexed: dict[str, ManifestEntry]) -> list[str]:
    """Indexed articles a rebuild would not bring back (a rebuild replaces the whole index)."""
    kept = {source.article_id for source in scan.sources}
    return sorted(article_id for article_id in indexed if article_id not in kept)


Batch = list[SplitArticle]


def _batches(
    sources: list[Source],
    chunk_words: int,
    overlap_words: int,
    max_sentences: int,
    report: SyncReport,
) -> Iterator[tuple[Batch, int]]:
    """Parse and split sources, yielding groups big enough to embed efficiently.

    Each group comes with how many sources it covers (skipped ones included), for progress.
    """
    batch: Batch = []
    sentence_total = parsed = 0
    for source in sources:
        parsed += 1
        result = guarded(
            source.path, _parse_and_split, source, chunk_words, overlap_words, max_sentences
        )
        if isinstance(result, Skipped):
            report.skipped.append(result)
            continue
        batch.append(result)
        sentence_total += len(result.sentences)
        if sentence_total >= _EMBED_BATCH_SENTENCES:
            yield batch, parsed
            batch, sentence_total, parsed = [], 0, 0
    if batch or parsed:
        yield batch, parsed


def _parse_and_split(
    source: Source, chunk_words: int, overlap_words: int, max_sentences: int
) -> SplitArticle | Skipped:
    """Decode, clean, date and split one source, and check the store can take its text.

    An article with more than `max_sentences` sentences is skipped whole, not cut short:
    an index holding half an article would answer "not in the articles" about the rest.
    """
    article = parse_source(source)
    if isinstance(article, Skipped):
        return article
    for value in (article.article_id, article.title, article.text, article.source, article.date):
        (value or "").encode("utf-8")  # raises here, for this file only, not in the batch write
    sentences = sentences_of(article, chunk_words)
    if len(sentences) > max_sentences:
        return Skipped(
            source.article_id,
            f"too many sentences ({len(sentences):,}; the limit is {max_sentences:,}, raise "
            "MAX_ARTICLE_SENTENCES or split the article to index it)",
        )
    return SplitArticle(
        article, tuple(chunk_article(article, chunk_words, overlap_words)), tuple(sentences)
    )
