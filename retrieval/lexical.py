"""Turn a question into terms for the SQLite FTS5 (BM25) index.

Names, figures and exact phrases ("$420 million", "Save America") are where
embeddings alone miss; the lexical side of search catches them. Hyphenated
and dotted words ("Mar-a-Lago", "U.S.") become phrases so they match as written.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves whose say said says tell told according also many much
    one ones get got make made take took give gave use used like
    """.split()
)
_WORD = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"['’]s?(?=\W*$)", re.IGNORECASE)


def query_terms(question: str) -> list[str]:
    """Distinct search terms (words or phrases) of a question, stopwords removed, in order."""
    terms: list[str] = []
    for token in question.split():
        token = _POSSESSIVE.sub("", token)
        parts = [part.lower() for part in _WORD.findall(token)]
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
