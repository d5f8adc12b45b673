"""The lexical side of search: question terms, and the SQLite FTS5 (BM25) index of chunks.

Names, figures and exact phrases ("$420 million", "Save America") are where
embeddings alone miss; the lexical side of search catches them. Hyphenated
and dotted words ("Mar-a-Lago", "U.S.") become phrases so they match as written.
The FTS5 table lives in the index's SQLite file (`retrieval.articles` keeps it in step
with the chunks); `LexicalIndex` only reads it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from retrieval.guard import IndexGuard, locked
from retrieval.text import STOPWORDS, WORD

_POSSESSIVE = re.compile(r"['’]s?(?=\W*$)", re.IGNORECASE)


def query_terms(question: str) -> list[str]:
    """Distinct search terms (words or phrases) of a question, stopwords removed, in order."""
    terms: list[str] = []
    for token in question.split():
        token = _POSSESSIVE.sub("", token)
        parts = [part.lower() for part in WORD.findall(token)]
        if not parts:
            continue
        if len(parts) == 1:
            word = parts[0]
            if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
                continue
            term = word
        else:
            term = " ".join(parts)
        if term not in terms:
            terms.append(term)
    return terms


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH expression that finds passages containing any of the terms."""
    return " OR ".join(f'"{term}"' for term in terms)


class LexicalIndex:
    """FTS5 queries on the chunks of one open index, under its guard.

    An expression or term FTS5 cannot parse finds nothing rather than failing.
    """

    def __init__(self, db: sqlite3.Connection, guard: IndexGuard) -> None:
        self._db = db
        self._guard = guard

    @locked
    def lexical_query(self, expression: str, limit: int) -> list[tuple[str, float]]:
        """Chunk ids matching an FTS5 expression, with BM25 score (higher is better), best first."""
        try:
            rows = self._db.execute(
                "SELECT c.chunk_id, -bm25(chunks_fts) AS score FROM chunks_fts "
                "JOIN chunks c ON c.rowid = chunks_fts.rowid "
                "WHERE chunks_fts MATCH ? ORDER BY score DESC LIMIT ?",
                (expression, limit),
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        return [(row[0], float(row[1])) for row in rows]

    @locked
    def document_frequency(self, term: str) -> int:
        """How many chunks contain `term` (a word or phrase, stemmed as the index is)."""
        try:
            return self._db.execute(
                "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{term}"',)
            ).fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    @locked
    def chunks_containing(self, term: str, chunk_ids: Sequence[str]) -> set[str]:
        """Those of `chunk_ids` whose text contains `term`."""
        if not chunk_ids:
            return set()
        marks = ",".join("?" * len(chunk_ids))
        try:
            rows = self._db.execute(
                "SELECT c.chunk_id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
                f"WHERE chunks_fts MATCH ? AND c.chunk_id IN ({marks})",
                (f'"{term}"', *chunk_ids),
            ).fetchall()
        except sqlite3.OperationalError:
            return set()
        return {row[0] for row in rows}
