"""Asking an open question again after its articles changed (runs in the model's thread).

The searcher takes no filter by article, so the question is asked as any question is,
with every check and the normal MIN_CONFIDENCE, and the answer counts only when one of
its quotes comes from an article new or changed since the question was last asked: an
answer from the old articles would be one the member was already refused, reached
only by chance. Search runs first on its own (no model): when none of the passages it
finds comes from a changed article, the model is not asked at all, so a sync costs
model time only for the questions it may have answered.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.answering.engine import Answer, Engine


def answer_from_changed(engine: Engine, changed: Collection[str], question: str) -> Answer | None:
    """The answer to `question` if it now has one quoting a `changed` article, else None."""
    found = engine.searcher.search(question, k=engine.policy.passages)
    if not any(passage.article_id in changed for passage in found.passages):
        return None
    answer = engine.ask(question)
    if answer.abstained or not any(quote.article_id in changed for quote in answer.quotes):
        return None
    return answer
