"""Checks that make answers trustworthy whatever the model does.

A small model answers well from good sentences but also invents answers when
the sentences do not hold one. So the model's reply is never trusted as is:
its answer must be supported by the words of the sentences it is quoted with,
and every quote must equal the stored article text at its offsets.
"""

from __future__ import annotations

import re
import unicodedata

from bot.evidence import Evidence, content_words, weighted_coverage
from retrieval.lexical import STOPWORDS

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'’-]*")
_YEAR_OR_DATE = re.compile(
    r"^\W*(?:(?:on |in )?(?:\d{1,2} )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
    r"(?: \d{1,2})?(?:,? (?:19|20)\d\d)?|(?:in )?(?:19|20)\d\d)\W*$",
    re.IGNORECASE,
)
_ASKS_WHEN = re.compile(
    r"\bwhen\b|\b(?:what|which|whose|in|on) (?:\w+ )?(?:year|date|day|month)s?\b|"
    r"\bwhat time\b|\bhow long ago\b",
    re.IGNORECASE,
)
_ASKS_AGE = re.compile(r"\bhow old\b|\bage\b|\baged\b", re.IGNORECASE)
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "i"}
_NOT_FOUND = re.compile(
    r"^\W*(?:(?:not found|n/?a|none|unknown|no answer)\W*$|i (?:do not|don't|cannot|can't) "
    r"(?:know|find|answer)|(?:the )?(?:sentences|articles|text|context) (?:do(?:es)? not|don't) "
    r"(?:say|state|mention|contain|provide)|there is no (?:information|mention))",
    re.IGNORECASE,
)


def says_not_found(answer: str) -> bool:
    """True when the model's answer is a refusal or empty."""
    return not answer.strip() or bool(_NOT_FOUND.match(answer.strip()))


def answer_support(answer: str, sentences: list[str]) -> float:
    """Share of the answer's meaningful words found in `sentences` (0 if a number is not)."""
    joined = " ".join(sentences)
    numbers = {n.replace(",", "") for n in _NUMBER.findall(answer)}
    present = {n.replace(",", "") for n in _NUMBER.findall(joined)}
    if numbers - present:
        return 0.0  # an invented figure is the worst kind of wrong answer
    names = {n for n in _NAME.findall(answer) if n.lower() not in STOPWORDS}
    if any(not _has_name(name, joined) for name in names):
        return 0.0  # so is a person, place or organisation the sentences never mention
    wanted = content_words(answer)
    if not wanted:
        return 1.0 if sentences else 0.0
    return len(wanted & content_words(joined)) / len(wanted)


def _has_name(name: str, text: str) -> bool:
    """`text` has `name` as a capitalised word (a plural allowed): "Met" is not "met" nor "Meta"."""
    return re.search(rf"(?<!\w){re.escape(name)}(?:e?s)?(?!\w)", text) is not None


def addresses_question(
    chosen: list[Evidence],
    best: Evidence,
    weights: dict[str, float],
    min_similarity: float,
    min_coverage: float,
) -> bool:
    """The quotes are about the question: its meaning, or its key terms, are in them.

    A quote from the same story as the best sentence shown may lean on that sentence
    ("Under the plans, Patrick Cescau will become chief executive").
    """
    if any(e.article_id == best.article_id for e in chosen):
        chosen = [*chosen, best]
    if max(e.cosine for e in chosen) >= min_similarity:
        return True
    if not weights:
        return True
    quoted = " ".join(f"{e.title} {e.text}" for e in chosen)
    return weighted_coverage(quoted, weights) >= min_coverage


def quote_is_exact(article_text: str | None, text: str, start: int, end: int) -> bool:
    """The quote is exactly the stored article text at its offsets."""
    return article_text is not None and 0 <= start < end and article_text[start:end] == text


def only_repeats_question(answer: str, question: str) -> bool:
    """The answer adds nothing the question did not already say ("Who wrote Santy?" → "Santy")."""
    words = content_words(answer)
    return bool(words) and words <= content_words(question)


def wrong_kind_of_answer(answer: str, question: str) -> bool:
    """A bare date or year given to a question that asks for no date ("How many…?" → "2005")."""
    dated = any(c.isdigit() for c in answer) and _YEAR_OR_DATE.match(answer.strip())
    return bool(dated) and not _ASKS_WHEN.search(question)


def number_cut_from_a_word(answer: str, question: str, sentences: list[str]) -> bool:
    """A bare number the sentences only hold inside a word ("17" of "17-year-old").

    "How many goals did Henry score?" answered "17" from "17-year-old striker" is a
    number lifted out of an age; a question about age may take it.
    """
    if not _NUMBER.fullmatch(answer.strip()) or _ASKS_AGE.search(question):
        return False
    number = re.escape(answer.strip())
    found = re.finditer(rf"(?<![\d.,]){number}(?![\d]|[.,]\d)", " ".join(sentences))
    spans = [
        (m.string[max(0, m.start() - 2) : m.start()], m.string[m.end() : m.end() + 2])
        for m in found
    ]
    return bool(spans) and all(
        re.fullmatch(r"[A-Za-z]-", before) or re.fullmatch(r"-[A-Za-z]", after)
        for before, after in spans
    )


def _folded(text: str) -> str:
    """Lower case without accents, so "Nestle" finds "Nestlé"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def question_names(question: str) -> list[str]:
    """The capitalised words of a question after its first word: the names it asks about."""
    names = []
    for match in _NAME.finditer(question):
        word = re.sub(r"['’]s$", "", match.group()).strip("'’-")
        if match.start() == 0 or not word or word.lower() in _QUESTION_WORDS:
            continue
        names.append(word)
    return names


def names_missing_from(names: list[str], articles: list[str]) -> list[str]:
    """Names the question asks about that none of the quoted articles mention.

    A true sentence from an article about someone else is no answer ("how much did
    Chelsea pay for Kezman?" answered from a story about Stam's transfer to Lazio).
    """
    folded = " ".join(_folded(text) for text in articles)
    return [
        name for name in names if not re.search(rf"(?<!\w){re.escape(_folded(name))}(?!\w)", folded)
    ]
