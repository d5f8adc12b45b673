"""Fit the answer confidence on recorded `eval --answers --json` runs of the tune sets.

The engine records every candidate's signals and whether its answer or quotes
held a gold string, so fitting needs no model run: `python -m bot calibrate`
reads those runs, fits `bot/answering/confidence.py`'s logistic regression, writes its
coefficients, and prints the risk/coverage curve on tune and on any holdout
runs given, re-scored with the new coefficients.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.answering.confidence import ConfidenceModel, bundled_confidence, fit, fit_offset
from bot.answering.signals import FEATURES
from bot.errors import BotError
from bot.evaluation.scoring import format_curve, risk_coverage

FOLDS = 5
MIN_GAIN = 0.002  # log loss a signal must save on held-out folds to be kept


def load_details(paths: Sequence[Path], follow_ups: bool = False) -> list[dict]:
    """Every per-question record of the runs, tagged with its QA file; with `follow_ups`,
    the records of the conversation sets' follow-ups instead."""
    details = []
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            sets = report["sets"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BotError(
                f"'{path}' is not the JSON of `python -m bot eval QA --answers --json` ({error})."
            ) from error
        for one in sets:
            if follow_ups:
                records = (one.get("conversations") or {}).get("followup") or {}
            else:
                records = one.get("answers") or {}
            for record in records.get("details", []):
                details.append({**record, "qa_file": one["qa_file"]})
    return details


def cross_validated_log_loss(
    signals: Sequence[dict], labels: Sequence[int], features: Sequence[str], l2: float
) -> float:
    """Mean log loss of the model on held-out folds of tune (5 folds, fixed shuffle)."""
    folds = [i % FOLDS for i in range(len(signals))]
    random.Random(0).shuffle(folds)
    loss = 0.0
    for k in range(FOLDS):
        train = [i for i, f in enumerate(folds) if f != k]
        if len({labels[i] for i in train}) < 2:
            continue
        model = fit([signals[i] for i in train], [labels[i] for i in train], features, l2=l2)
        for i, f in enumerate(folds):
            if f == k:
                p = min(max(model.score(signals[i]), 1e-9), 1 - 1e-9)
                loss -= math.log(p if labels[i] else 1 - p)
    return loss / len(signals)


def select_features(
    signals: Sequence[dict], labels: Sequence[int], candidates: Sequence[str], l2: float
) -> tuple[tuple[str, ...], list[list]]:
    """Forward selection on tune: add the signal that lowers cross-validated log loss most,
    while it lowers it by at least MIN_GAIN. A signal that does not pay is left out."""
    chosen: list[str] = []
    best = cross_validated_log_loss(signals, labels, [], l2)
    trail: list[list] = [["(none)", round(best, 4)]]
    while len(chosen) < len(candidates):
        tried = [
            (cross_validated_log_loss(signals, labels, [*chosen, name], l2), name)
            for name in candidates
            if name not in chosen
        ]
        loss, name = min(tried)
        if loss > best - MIN_GAIN:
            break
        chosen.append(name)
        best = loss
        trail.append([name, round(loss, 4)])
    return tuple(chosen), trail


def tune_details(runs: Sequence[Path], follow_ups: bool = False) -> list[dict]:
    """`load_details` of runs that must all be of tune sets: nothing is fitted on holdout."""
    tune = load_details(runs, follow_ups)
    if any("holdout" in Path(d["qa_file"]).name for d in tune):
        raise BotError("Fit on tune runs only; pass holdout runs with --holdout.")
    return tune


def rescored(details: Sequence[dict], model: ConfidenceModel) -> list[dict]:
    """The records with their confidence recomputed by `model` (signals are unchanged)."""
    return [
        {
            **d,
            "confidence": model.score(d["signals"], bool(d.get("follow_up")))
            if d.get("signals")
            else None,
        }
        for d in details
    ]


def calibrate_follow_ups(
    runs: Sequence[Path],
    holdout: Sequence[Path],
    model: ConfidenceModel,
    target: Path,
    l2: float = 1.0,
) -> str:
    """Fit `model`'s follow-up offset on the follow-ups of tune conversation runs (its
    other coefficients fixed), write it to `target`, and report the follow-ups' curves."""
    tune = tune_details(runs, follow_ups=True)
    rows = [d for d in tune if d.get("signals") and d.get("follow_up")]
    if not rows:
        raise BotError(
            "No rewritten follow-up with a candidate in these runs: record the conversation "
            "sets with `eval eval/followup_*_tune.jsonl --answers --json`, MIN_CONFIDENCE=0."
        )
    model = replace(model, follow_up_offset=0.0)  # the curves "without" score with none
    log_odds = [model.log_odds(d["signals"]) for d in rows]
    labels = [int(bool(d["candidate_correct"])) for d in rows]
    files = sorted({Path(d["qa_file"]).name for d in tune})
    info = {**model.info, "follow_up_fitted_on": files, "follow_up_candidates": len(rows)}
    fitted = replace(model, follow_up_offset=fit_offset(log_odds, labels, l2), info=info)
    fitted.save(target)
    lines = [
        f"Follow-up offset {fitted.follow_up_offset:+.3f} (log-odds), fitted on {len(rows)} "
        f"rewritten follow-ups from {', '.join(files)}; wrote {target}."
    ]
    for label, details in (("tune", tune), ("holdout", load_details(holdout, follow_ups=True))):
        for name, scored_by in (("without the offset", model), ("with it", fitted)):
            if details:
                lines.append(f"{label} follow-ups ({len(details)}), {name}:")
                lines += format_curve(risk_coverage(rescored(details, scored_by)))
    return "\n".join(lines)


def calibrate_from_runs(
    runs: Sequence[Path],
    holdout: Sequence[Path],
    out: Path | None,
    l2: float,
    answer_model: str = "qwen-1.5b",
) -> str:
    """Fit on the tune runs of `answer_model`, write the coefficients (by default to that
    model's bundled file), and report the curves."""
    tune = tune_details(runs)
    rows = [d for d in tune if d.get("signals")]
    if len({bool(d["candidate_correct"]) for d in rows}) < 2:
        raise BotError("The runs need both right and wrong candidates to fit a confidence.")
    files = sorted({Path(d["qa_file"]).name for d in tune})
    signals = [d["signals"] for d in rows]
    labels = [int(bool(d["candidate_correct"])) for d in rows]
    chosen, trail = select_features(signals, labels, FEATURES, l2)
    info = {
        "model": answer_model,
        "fitted_on": files,
        "candidates": len(rows),
        "l2": l2,
        "cv_log_loss": trail,
    }
    model = fit(signals, labels, chosen, l2=l2, info=info)
    target = out or bundled_confidence(answer_model)
    model.save(target)
    lines = [f"Fitted on {len(rows)} candidates from {', '.join(files)}; wrote {target}."]
    lines.append(f"Signals kept by 5-fold cross-validation on tune (log loss): {trail}")
    lines += [
        f"  {name:<18} {weight:+.3f}"
        for name, weight in zip(model.features, model.weights, strict=True)
    ]
    for label, details in (("tune", tune), ("holdout", load_details(holdout))):
        if details:
            lines.append(f"{label} ({len(details)} questions), re-scored:")
            lines += format_curve(risk_coverage(rescored(details, model)))
    return "\n".join(lines)
