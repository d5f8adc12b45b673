"""Every constant that decides an answer, in one object built once from `Settings`.

Settings hold the operator's knobs; the fixed constants are not settings because
nobody should need them. Each stage keeps its own in a small rules class beside its
code, with today's values as defaults and the reason for each: `EvidenceRules`
(`bot/answering/evidence.py`), holding `InjectionRules`
(`bot/answering/injection.py`), composed here.
Search's `SearchRules` travel with the `Searcher` (`retrieval/search.py`, which never
imports `bot/`), built from SEARCH_CANDIDATES by `bot.app.open_searcher`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.answering.confidence import ConfidenceModel, bundled_confidence
from bot.answering.evidence import EvidenceRules
from bot.settings import Settings


@dataclass(frozen=True)
class AnswerPolicy:
    """What the engine needs to decide: search depth, evidence, hard floors, confidence."""

    passages: int
    evidence: EvidenceRules
    relevance_threshold: float  # below it the model is not asked at all
    min_answer_support: float  # share of the answer's words its quote must hold
    min_confidence: float
    time_budget_seconds: float
    confidence: ConfidenceModel
    judge: bool = False  # ask the model whether the quote states the answer (`judge.py`)
    # Quotes shown under an answer: it rests on one sentence, or on two cited together.
    max_quotes: int = 2

    @classmethod
    def from_settings(
        cls, settings: Settings, confidence: ConfidenceModel | None = None
    ) -> AnswerPolicy:
        """The policy the settings describe, with the confidence model they name."""
        confidence = confidence or load_confidence(settings)
        return cls(
            passages=settings.answer_passages,
            evidence=EvidenceRules(settings.evidence_sentences, settings.evidence_margin),
            relevance_threshold=settings.relevance_threshold,
            min_answer_support=settings.min_answer_support,
            min_confidence=settings.min_confidence,
            time_budget_seconds=settings.llm_time_budget_seconds,
            confidence=confidence,
            judge=settings.judge == "on"
            or (settings.judge == "auto" and JUDGE_SIGNAL in confidence.features),
        )


JUDGE_SIGNAL = "judge_yes"


def load_confidence(settings: Settings) -> ConfidenceModel:
    """The confidence the settings name, checked against the answer model it will score.

    With no CONFIDENCE_MODEL, the bundled file for ANSWER_MODEL. A GGUF of one's own
    (MODEL_PATH) with the bundled file is accepted as an approximation; a file one
    fitted oneself must name the model it scores (`make calibrate`).
    """
    if settings.confidence_model is None:
        path = bundled_confidence(settings.answer_model)
        expected = None if settings.model_path else settings.answer_model
    else:
        path = settings.confidence_model
        expected = settings.model_path.name if settings.model_path else settings.answer_model
    return ConfidenceModel.load(path, for_model=expected)
