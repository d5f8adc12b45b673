"""Every constant that decides an answer, in one object built once from `Settings`.

Settings hold the operator's knobs; the few fixed constants below are not
settings because nobody should need them, but they live here, beside the knobs,
so that one file says everything that shapes an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.confidence import ConfidenceModel, bundled_confidence
from bot.settings import Settings


@dataclass(frozen=True)
class EvidenceRules:
    """How sentences are scored and picked for the model (`bot/evidence.py`)."""

    sentences: int  # shown to the model
    margin: float  # a sentence this far below the best is not shown
    rank_penalty: float = 0.05  # per rank of the sentence's passage
    kind_penalty: float = 0.15  # holds nothing of the kind asked for (no new number for "how many")
    # A sentence read with the one before it ("It aims to extend this figure…") may match
    # only through that context; the pair must beat the sentence by these discounts.
    context_cosine_discount: float = 0.05
    context_coverage_discount: float = 0.15
    min_words: int = 4  # shorter sentences are headings and captions, not evidence


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
    judge: bool = False  # ask the model whether the quote states the answer (`bot/judge.py`)

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
