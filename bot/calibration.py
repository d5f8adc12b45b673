"""Fit the answer confidence on recorded `eval --answers --json` runs of the tune sets.

The engine records every candidate's signals and whether its answer or quotes
held a gold string, so fitting needs no model run: `python -m bot calibrate`
reads those runs, fits `bot/confidence.py`'s logistic regression, writes its
coefficients, and prints the risk/coverage curve on tune and on any holdout
runs given, re-scored with the new coefficients.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bot.confidence import BUNDLED_MODEL, ConfidenceModel, fit
from bot.evaluation import format_curve, risk_coverage
from bot.signals import FEATURES
from retrieval.errors import BotError


def load_details(paths: Sequence[Path]) -> list[dict]:
    """Every per-question record of the runs, tagged with its QA file."""
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
            for record in one.get("answers", {}).get("details", []):
                details.append({**record, "qa_file": one["qa_file"]})
    return details


def rescored(details: Sequence[dict], model: ConfidenceModel) -> list[dict]:
    """The records with their confidence recomputed by `model` (signals are unchanged)."""
    return [
        {**d, "confidence": model.score(d["signals"]) if d.get("signals") else None}
        for d in details
    ]


def calibrate_from_runs(
    runs: Sequence[Path], holdout: Sequence[Path], out: Path | None, l2: float
) -> str:
    """Fit on the tune runs, write the coefficients, and report the curves."""
    tune = load_details(runs)
    if any("holdout" in Path(d["qa_file"]).name for d in tune):
        raise BotError("Fit on tune runs only; pass holdout runs with --holdout.")
    rows = [d for d in tune if d.get("signals")]
    if len({bool(d["candidate_correct"]) for d in rows}) < 2:
        raise BotError("The runs need both right and wrong candidates to fit a confidence.")
    files = sorted({Path(d["qa_file"]).name for d in tune})
    info = {"fitted_on": files, "candidates": len(rows), "l2": l2}
    model = fit(
        [d["signals"] for d in rows], [int(bool(d["candidate_correct"])) for d in rows],
        FEATURES, l2=l2, info=info,
    )  # fmt: skip
    target = out or BUNDLED_MODEL
    model.save(target)
    lines = [f"Fitted on {len(rows)} candidates from {', '.join(files)}; wrote {target}."]
    lines += [
        f"  {name:<18} {weight:+.3f}" for name, weight in zip(FEATURES, model.weights, strict=True)
    ]
    for label, details in (("tune", tune), ("holdout", load_details(holdout))):
        if details:
            lines.append(f"{label} ({len(details)} questions), re-scored:")
            lines += format_curve(risk_coverage(rescored(details, model)))
    return "\n".join(lines)
