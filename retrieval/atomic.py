"""Atomic reloads: the order in which a sync touches the vectors and SQLite.

A sync first adds the new vectors, where nobody sees them yet (readers only accept
sentence ids SQLite lists), then switches everything in one SQLite transaction, and
only then deletes vectors nothing refers to. A reader therefore sees the old index or
the new one, never a mix; a process killed part-way leaves the old index whole, and
its vectors are reused by the next sync (sentence ids name the article version, so
they never change meaning). A sentence counts as embedded once both the vector
database and SQLite's copy hold its vector.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np

from retrieval.articles import ArticleStore
from retrieval.guard import IndexGuard, locked
from retrieval.models import Sentence, SplitArticle
from retrieval.vectors import VectorStore

_LEGACY_COLLECTION = "chunks"  # the single collection of pipeline version 1
_RESTORE_PAGE = 2000  # sentence vectors put back in Chroma per call


class AtomicIndex:
    """The vectors in `vectors` and the articles in `articles`, kept in step under `guard`."""

    def __init__(self, articles: ArticleStore, vectors: VectorStore, guard: IndexGuard) -> None:
        self._articles = articles
        self._vectors = vectors
        self._guard = guard

    def active(self) -> str | None:
        """The collection the committed state points at (re-read: another process may switch it)."""
        return self._articles.get_meta("collection")

    # -- reading ------------------------------------------------------------------
    @locked
    def dense_query(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """Indexed sentence ids nearest to `vector`, with cosine similarity, best first.

        Vectors a reload has added but not yet committed are skipped, so the query
        asks for more until it has `limit` indexed ones (or the collection is exhausted).
        Chroma returns fewer than asked only when it has no more; asking it to count
        first cost 14 ms a question on the BBC index.
        """
        active = self.active()
        if active is None or limit <= 0:
            return []
        asked = limit
        while True:
            pairs = self._vectors.query(active, vector, asked)
            indexed = self._articles.indexed_ids([sid for sid, _ in pairs])
            found = [(sid, score) for sid, score in pairs if sid in indexed]
            if len(found) >= limit or len(pairs) < asked:
                return found[:limit]
            asked *= 2

    @locked
    def vector_count(self) -> int:
        """How many vectors the active collection holds (equals the sentence count after a sync)."""
        active = self.active()
        return self._vectors.count(active) if active is not None else 0

    @locked
    def missing_vectors(self, open_vectors: bool = True) -> str | None:
        """Why indexed passages have no vectors (a deleted chroma/ folder, a new server), or None.

        Without `open_vectors`, only what needs no vector database is checked.
        """
        sentences = self._articles.sentence_count()
        if sentences == 0:
            return None
        active = self.active()
        lost = self._vectors.lost() or (self._vectors.damaged(active) if active else None)
        if lost is not None:
            return lost
        vectors = self.vector_count() if open_vectors else sentences
        if vectors < sentences:
            return f"only {vectors} of the {sentences} sentences have a vector"
        return None

    @locked
    def articles_missing_vectors(self) -> set[str]:
        """Indexed articles some of whose sentences have no vector, in the vector database
        (a new Chroma server, say) or in SQLite's copy."""
        copied = self._articles.copied_ids(self.active())
        if self.vector_count() == self._articles.sentence_count() == len(copied):
            return set()
        have = self._all_vector_ids() & copied
        rows = self._articles.sentence_articles()
        return {article_id for sentence_id, article_id in rows if sentence_id not in have}

    # -- writing (a sync calls these while holding the reload lock) -----------------
    @locked
    def collection_for(self, config: dict) -> str:
        """The collection that holds vectors built with `config` (created if new).

        The name carries this index's id, so indexes sharing one Chroma server never
        touch each other's vectors.
        """
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        name = f"{self._prefix()}{digest}"
        self._vectors.ensure_collection(name)
        return name

    @locked
    def vector_ids(self, collection: str, sentence_ids: Sequence[str]) -> set[str]:
        """Those of `sentence_ids` with a vector in `collection`, in the vector database and
        in SQLite's copy (reusable: a killed sync's vectors are not embedded again)."""
        in_database = self._vectors.ids_among(collection, sentence_ids)
        return in_database & self._articles.copied_among(collection, sentence_ids)

    @locked
    def add_vectors(
        self, collection: str, sentences: Sequence[Sentence], vectors: np.ndarray
    ) -> None:
        """Add sentence vectors to `collection`; invisible to readers until `commit` lists them."""
        self._vectors.add(collection, [(s.sentence_id, s.article_id) for s in sentences], vectors)
        # The copy goes in after the database's: a sentence counts as embedded once both hold it.
        self._articles.copy_vectors(collection, sentences, vectors)

    @locked
    def repair_vectors(self) -> str | None:
        """Refill the active collection from SQLite's copy if Chroma can no longer read it.

        A kill while Chroma saves a collection leaves it unreadable (see
        `ChromaVectors.damaged`), and every search and sync would fail on it. SQLite's copy
        holds every indexed sentence's vector, so the collection is dropped and filled
        again from the copy: nothing is embedded and no article is lost. Returns what was
        repaired, or None.
        """
        active = self.active()
        damage = self._vectors.damaged(active) if active is not None else None
        if damage is None:
            return None
        self._vectors.discard(active)
        self._vectors.ensure_collection(active)
        rows = self._articles.sentence_articles()
        for at in range(0, len(rows), _RESTORE_PAGE):
            copied = self._articles.vectors([sid for sid, _ in rows[at : at + _RESTORE_PAGE]])
            page = [(sid, aid) for sid, aid in rows[at : at + _RESTORE_PAGE] if sid in copied]
            if page:
                self._vectors.add(active, page, np.stack([copied[sid] for sid, _ in page]))
        return f"{damage}; its vectors were restored from the index's own copy"

    @locked
    def commit(
        self,
        collection: str,
        config: dict,
        written: Sequence[SplitArticle],
        removed: Sequence[str],
        *,
        replace_all: bool = False,
        extra_meta: dict[str, str] | None = None,
    ) -> None:
        """Switch to the new state in one transaction: readers see all of it or none of it."""
        meta = {"config": json.dumps(config, sort_keys=True), "collection": collection}
        meta.update(extra_meta or {})
        self._articles.switch(written, removed, meta, replace_all=replace_all)

    @locked
    def collect_garbage(self) -> int:
        """Delete vectors no indexed sentence refers to, and collections of old configurations."""
        active = self.active()
        self._drop_stale_collections(active)
        if active is None:
            return 0
        self._vectors.ensure_collection(active)
        self._articles.drop_stale_copies(active)
        orphans = sorted(self._vectors.all_ids(active) - self._articles.all_sentence_ids())
        self._vectors.delete(active, orphans)
        return len(orphans)

    # -- helpers ------------------------------------------------------------------
    def _prefix(self) -> str:
        """What the names of this index's collections start with."""
        return f"chunks-{self._articles.get_meta('index_uid')}-"

    def _drop_stale_collections(self, active: str | None) -> None:
        """Delete this index's collections other than `active` (and, embedded, version 1's)."""
        prefix = self._prefix()
        for name in self._vectors.collection_names():
            stale = name.startswith(prefix) or (
                name == _LEGACY_COLLECTION and not self._vectors.shared
            )
            if stale and name != active:
                self._vectors.drop_collection(name)

    def _all_vector_ids(self) -> set[str]:
        """Every id in the active collection (none without one)."""
        active = self.active()
        return self._vectors.all_ids(active) if active is not None else set()
