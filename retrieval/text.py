"""Word, number and name patterns, stop words and the stemmer, in one place.

Search, evidence selection and the answer signals all compare questions with
sentences word by word; they must agree on what a word, a number and a name are,
so the patterns live here once.
"""

from __future__ import annotations

import re
import unicodedata

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
WORD = re.compile(r"\w+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NAME = re.compile(r"\b[A-Z][\w'’-]*")
CAPITALISED_WORD = re.compile(r"\b[A-Z][a-z]+")  # a plain word with a capital: "Otis", not "DS"
NUMBER_WORDS = frozenset(
    "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred hundreds thousand thousands million millions billion billions half dozen".split()
)
MONTHS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b|\b(?:19|20)\d\d\b",
    re.IGNORECASE,
)
QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "i"}
)


def words(text: str) -> list[str]:
    """Lower-cased words in order."""
    return WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude plural stripper: "companies" → "company", "shares" → "share"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words that carry meaning (no stop words)."""
    return {stem(w) for w in words(text) if w not in STOPWORDS}


def mentions(joined_words: str, term: str) -> bool:
    """Whether space-joined lower-case words contain a term, allowing plural/verb endings.

    The term's last word is matched as a prefix, trailing s's removed ("rates" finds "rated").
    """
    parts = term.split()
    last = parts[-1].rstrip("s") if len(parts[-1]) > 3 else parts[-1]
    prefix = " ".join([*parts[:-1], last])
    return re.search(rf"(?<!\w){re.escape(prefix)}", joined_words) is not None


def weighted_coverage(text: str, weights: dict[str, float]) -> float:
    """Share of the question's term weight (IDF) whose terms appear in `text`, 0..1."""
    total = sum(weights.values())
    if not total:
        return 0.0
    joined = " ".join(words(text))
    return sum(w for term, w in weights.items() if mentions(joined, term)) / total


def folded(text: str) -> str:
    """Lower case without accents, so "Nestle" finds "Nestlé"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def has_capitalised(name: str, text: str) -> bool:
    """`text` has `name` as a capitalised word (a plural allowed): "Met" is not "met" nor "Meta"."""
    return re.search(rf"(?<!\w){re.escape(name)}(?:e?s)?(?!\w)", text) is not None


def has_word(name: str, text: str) -> bool:
    """`text` has `name` as a whole word, ignoring case and accents."""
    return re.search(rf"(?<!\w){re.escape(folded(name))}(?!\w)", folded(text)) is not None


def numbers_in(text: str) -> set[str]:
    """The figures in a text, thousands separators dropped ("1,200" → "1200")."""
    return {n.replace(",", "") for n in NUMBER.findall(text)}
