"""Turn a question into terms for the SQLite FTS5 (BM25) index.

Names, figures and exact phrases ("$420 million", "Save America") are where
embeddings alone miss; the lexical side of search catches them. Hyphenated
and dotted words ("Mar-a-Lago", "U.S.") become phrases so they match as written.
"""

from __future__ import annotations

import re

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
