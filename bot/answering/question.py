"""A question, parsed once: its search terms and their weights, the kind of answer it
asks for, and the names it is about.

Evidence selection and the answer signals all read these; parsing them in one
place keeps every stage agreeing on what the question asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from retrieval.confusables import strip_invisible
from retrieval.lexical import query_terms
from retrieval.text import NAME, QUESTION_WORDS

MAX_QUESTION_CHARS = 1000
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

# The kind of answer a question asks for, by its question words alone. A general
# grammar of English questions, not a list of dev-set nouns.
_KINDS = (
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|fast|big|long|far|old|large|high|tall|heavy|often)\b|"
            r"\bwhat (?:share|percentage|proportion|price|amount|figure|sum|number|"
            r"rate|level|score|age|salary|fee|value|total|size)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\W*when\b|\b(?:what|which|in what|in which|on what|on which) "
            r"(?:year|date|day|month|week|decade)\b",
            re.IGNORECASE,
        ),
    ),
    ("name", re.compile(r"^\W*(?:who|whom|whose)\b", re.IGNORECASE)),
    ("place", re.compile(r"^\W*where\b", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Question:
    """What every stage needs to know about a question."""

    text: str
    terms: tuple[str, ...]
    weights: dict[str, float] = field(default_factory=dict)  # IDF per term
    kind: str = ""  # "number", "date", "name", "place" or "" (anything)
    names: tuple[str, ...] = ()  # its capitalised words after the first: what it is about


class QuestionProblem(StrEnum):
    """What the asker must change before a question can be answered.

    A value, so a front end decides what to do (suggest an example question, say how
    long) by comparing it, never by comparing the message it shows.
    """

    EMPTY = "empty"  # nothing but spaces and punctuation: nothing to search for
    TOO_LONG = "too_long"  # longer than MAX_QUESTION_CHARS


def problem_of(text: str) -> QuestionProblem | None:
    """What is wrong with a question as it will be asked, or None."""
    if not " ".join(text.split()).strip(" ?!.,"):
        return QuestionProblem.EMPTY
    if len(text) > MAX_QUESTION_CHARS:
        return QuestionProblem.TOO_LONG
    return None


def too_long_message(text: str) -> str:
    """What to tell someone whose question is over MAX_QUESTION_CHARS."""
    return (
        f"That question is {len(text):,} characters long; please ask in "
        f"at most {MAX_QUESTION_CHARS:,}."
    )


def normalise(text: str) -> str:
    """One line, single spaces, at most MAX_QUESTION_CHARS, and valid Unicode: a lone
    surrogate (undecodable bytes in a command-line argument) broke the tokenizer.
    Characters drawn as nothing go, as at ingest: a zero-width one inside a word split
    it, so "Glen<ZWNJ>field" no longer found the article, in every front end."""
    text = _LONE_SURROGATE.sub("\ufffd", strip_invisible(text))
    return " ".join(text.split())[:MAX_QUESTION_CHARS]


def expected_kind(text: str) -> str:
    """The kind of answer the question asks for, or "" when any will do."""
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return ""


def question_names(text: str) -> tuple[str, ...]:
    """The capitalised words of a question after its first word: the names it asks about."""
    names = []
    for match in NAME.finditer(text):
        word = re.sub(r"['’]s$", "", match.group()).strip("'’-")
        if match.start() == 0 or not word or word.lower() in QUESTION_WORDS:
            continue
        names.append(word)
    return tuple(dict.fromkeys(names))


def parse_question(
    text: str, term_weights: Callable[[list[str]], dict[str, float]] | None = None
) -> Question:
    """Parse once; `term_weights` gives each search term its rarity in the index (IDF)."""
    text = normalise(text)
    terms = query_terms(text)
    weights = term_weights(terms) if term_weights and terms else {}
    return Question(text, tuple(terms), weights, expected_kind(text), question_names(text))
