"""Why the engine gave no answer, as a value rather than a sentence.

Front ends show members a message; the feedback report counts declines; `eval`
and the logs record why. All of them used to tell declines apart by the English
reason text, so rewording one silently broke the report. A `Decline` is what
they compare now; the human part (the confidence against its threshold, the
sentence that ordered the answer, the model's error) travels beside it as a
`detail` string and is never compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Decline(StrEnum):
    """Every way `Engine.ask` declines; the value is what logs and JSON store."""

    EMPTY_QUESTION = "empty_question"  # nothing to search for
    NOTHING_RELEVANT = "nothing_relevant"  # search relevance below the threshold
    NO_SENTENCES = "no_sentences"  # relevant passages, but no verified sentence to show
    SLOW = "slow"  # the model ran out of its time budget (the closest passage instead)
    FAILED = "failed"  # the model failed (the closest passage instead)
    MODEL_NOT_FOUND = "model_not_found"  # the model said the sentences do not answer it
    ORDERED_BY_ARTICLE = "ordered_by_article"  # the answer is what an article orders it to say
    ANSWER_NOT_IN_SENTENCES = "answer_not_in_sentences"  # no shown text holds the answer
    NO_QUOTE_VERIFIED = "no_quote_verified"  # the quote is not the stored text
    UNSURE = "unsure"  # the confidence is below MIN_CONFIDENCE


FALLBACKS = frozenset({Decline.SLOW, Decline.FAILED})  # the model never gave an answer

# How each decline reads in logs and `eval --json` ("reason"), before its detail. The
# wording is free to change: nothing compares it.
_REASONS = {
    Decline.EMPTY_QUESTION: "empty question",
    Decline.NOTHING_RELEVANT: "nothing relevant found",
    Decline.NO_SENTENCES: "no sentences to quote",
    Decline.SLOW: "fallback",
    Decline.FAILED: "fallback",
    Decline.MODEL_NOT_FOUND: "model found no answer",
    Decline.ORDERED_BY_ARTICLE: "answer is what an article sentence orders the model to say",
    Decline.ANSWER_NOT_IN_SENTENCES: "answer not in the sentences",
    Decline.NO_QUOTE_VERIFIED: "no quote verified",
    Decline.UNSURE: "unsure",
}


@dataclass(frozen=True)
class Declined:
    """A decline with its human-readable detail: what a step returns instead of a result."""

    decline: Decline
    detail: str = ""

    @property
    def reason(self) -> str:
        """One line for logs and JSON."""
        return reason_text(self.decline, self.detail)


def reason_text(decline: Decline | None, detail: str = "") -> str:
    """The decline and its detail in one line for logs and JSON; "" for an answer."""
    if decline is None:
        return ""
    label = _REASONS[decline]
    return f"{label}: {detail}" if detail else label
