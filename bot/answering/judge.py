"""The judge: the answer model asked, yes or no, whether the quoted text states the answer.

The confidence's other signals measure overlap between question, sentence and
answer. They cannot see a question whose premise changes one detail of a real
sentence (another year, the opposite direction): every word still matches. A
model that reads the sentence can. The judge's verdict is a number, not a
rule: the probability of "Yes" against "No", read from the model's scores for
the first token of its reply, is one more signal for the calibrated confidence.

The judge sees the quoted stored text with its article title, the question and the
proposed answer, and nothing of the reader's prompt, so it does not inherit the
reader's mistakes.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering.evidence import Evidence
from bot.generation.generators import GenerationFailed, Generator

JUDGE_SYSTEM = "You check answers against a text. Reply Yes or No."


def judge_messages(
    template: str, question: str, quoted: Sequence[Evidence], answer: str
) -> list[dict]:
    """The yes/no question about one candidate, as chat messages."""
    quote = " ".join(f"({e.title}) {' '.join(e.text.split())}" for e in quoted)
    user = template.format(quote=quote, question=question, answer=answer)
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def judge(
    generator: Generator,
    template: str,
    question: str,
    quoted: Sequence[Evidence],
    answer: str,
    time_budget: float,
) -> float | None:
    """P(Yes) that `quoted` states `answer` to `question`; None when the model cannot say.

    A generator that cannot read its scores (a model server) or fails gives None,
    which the confidence counts as saying nothing.
    """
    if not quoted or not answer.strip():
        return None
    try:
        return generator.yes_probability(
            judge_messages(template, question, quoted, answer), time_budget
        )
    except GenerationFailed:
        return None
