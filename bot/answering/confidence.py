"""One calibrated confidence per candidate answer, from the answer signals.

A logistic regression over standardised signals, fitted on the `tune` dev sets
only (`python -m bot calibrate`). Its coefficients live in a small JSON file in
the repo, one per bundled answer model (`bot/confidence-<model>.json`), so a
change of the combiner is a reviewable diff with its measured effect. Signals
mean different things for different models (a 0.5B model's probabilities are
not a 1.5B's), so a file names the model it was fitted for and refuses
another. The engine answers when the confidence reaches `MIN_CONFIDENCE`;
below it, it abstains.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.answering.signals import FEATURES
from bot.errors import BotError

BUNDLED_DIR = Path(__file__).resolve().parent.parent  # the files sit in bot/, beside the wings


def bundled_confidence(answer_model: str) -> Path:
    """The confidence file shipped for a bundled answer model."""
    return BUNDLED_DIR / f"confidence-{answer_model}.json"


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression: P(answer is right) = sigmoid(bias + Σ w·(x - mean) / scale)."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    info: dict = field(default_factory=dict)  # what it was fitted on, for the record
    # Added to the log-odds of a follow-up read as its rewrite. The judge reads a
    # rewritten question less surely than a member's own wording of the same facts, so
    # the coefficients fitted on standalone questions under-rate follow-ups. Fitted
    # alone, the other coefficients fixed, on the tune conversation sets.
    follow_up_offset: float = 0.0

    def score(self, signals: dict[str, float | None], follow_up: bool = False) -> float:
        """Confidence 0..1; a missing signal counts as its mean (it says nothing).
        `follow_up`: the question read is a rewritten follow-up."""
        total = self.log_odds(signals) + (self.follow_up_offset if follow_up else 0.0)
        return 1.0 / (1.0 + math.exp(-max(min(total, 40.0), -40.0)))

    def log_odds(self, signals: dict[str, float | None]) -> float:
        """The regression's log-odds for a standalone question."""
        total = self.bias
        for name, mean, scale, weight in zip(
            self.features, self.means, self.scales, self.weights, strict=True
        ):
            value = signals.get(name)
            if value is not None:
                total += weight * (float(value) - mean) / scale
        return total

    @property
    def fitted_for(self) -> str | None:
        """The answer model whose signals this was fitted on, when the file says."""
        return self.info.get("model")

    @classmethod
    def load(cls, path: Path, for_model: str | None = None) -> ConfidenceModel:
        """Read the coefficients; a missing or malformed file, or one fitted for another
        answer model than `for_model`, is a clear error."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = cls(
                features=tuple(data["features"]),
                means=tuple(float(v) for v in data["means"]),
                scales=tuple(float(v) for v in data["scales"]),
                weights=tuple(float(v) for v in data["weights"]),
                bias=float(data["bias"]),
                info=dict(data.get("info", {})),
                follow_up_offset=float(data.get("follow_up_offset", 0.0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BotError(
                f"Cannot read the confidence model '{path}' ({error}). Leave CONFIDENCE_MODEL "
                "empty for the bundled one, or fit one with `python -m bot calibrate`."
            ) from error
        if not len(model.features) == len(model.means) == len(model.scales) == len(model.weights):
            raise BotError(f"The confidence model '{path}' has lists of different lengths.")
        unknown = [name for name in model.features if name not in FEATURES]
        if unknown:  # a misspelt signal would silently count as "says nothing"
            raise BotError(
                f"The confidence model '{path}' uses unknown signals: {', '.join(unknown)}. "
                f"Known signals: {', '.join(FEATURES)}. Refit it with `python -m bot calibrate`."
            )
        if for_model is not None and model.fitted_for not in (None, for_model):
            raise BotError(
                f"The confidence model '{path}' was fitted for the answer model "
                f"{model.fitted_for}, not {for_model}: its signals would be misread. Leave "
                "CONFIDENCE_MODEL empty for the bundled file of ANSWER_MODEL, or fit one for "
                f"this model with `make calibrate` (CONFIDENCE_MODEL then names it)."
            )
        return model

    def save(self, path: Path) -> None:
        """Write the coefficients as readable JSON."""
        data = {
            "features": list(self.features),
            "means": [round(v, 6) for v in self.means],
            "scales": [round(v, 6) for v in self.scales],
            "weights": [round(v, 6) for v in self.weights],
            "bias": round(self.bias, 6),
            "follow_up_offset": round(self.follow_up_offset, 6),
            "info": self.info,
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def fit(
    rows: Sequence[dict[str, float | None]],
    labels: Sequence[int],
    features: Sequence[str],
    l2: float = 1.0,
    info: dict | None = None,
) -> ConfidenceModel:
    """Fit the logistic regression by Newton's method with an L2 penalty (bias unpenalised).

    Missing values are replaced by the feature's mean, as `score` does.
    """
    if len(rows) != len(labels) or not rows:
        raise BotError("Fitting needs as many labels as rows, and at least one row.")
    raw = np.array(
        [[np.nan if row.get(f) is None else float(row[f]) for f in features] for row in rows]
    )
    known = ~np.isnan(raw)
    counts = known.sum(axis=0)
    means = np.where(counts > 0, np.nansum(raw, axis=0) / np.maximum(counts, 1), 0.0)
    raw = np.where(np.isnan(raw), means, raw)
    scales = raw.std(axis=0)
    scales[scales < 1e-9] = 1.0
    x = np.hstack([np.ones((len(rows), 1)), (raw - means) / scales])
    y = np.asarray(labels, dtype=float)
    beta = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-x @ beta))
        gradient = x.T @ (p - y) + penalty @ beta
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty + np.eye(x.shape[1]) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return ConfidenceModel(
        features=tuple(features),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        weights=tuple(float(v) for v in beta[1:]),
        bias=float(beta[0]),
        info=info or {},
    )


def fit_offset(log_odds: Sequence[float], labels: Sequence[int], l2: float = 1.0) -> float:
    """The shift of fixed log-odds that best fits `labels` (Newton's method), pulled
    towards 0 by an L2 penalty: few rows should move it little."""
    x = np.asarray(log_odds, dtype=float)
    y = np.asarray(labels, dtype=float)
    if len(x) != len(y) or not len(x):
        raise BotError("Fitting an offset needs as many labels as rows, and at least one row.")
    offset = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x + offset)))
        step = (float((p - y).sum()) + l2 * offset) / (float((p * (1 - p)).sum()) + l2)
        offset -= step
        if abs(step) < 1e-10:
            break
    return offset
