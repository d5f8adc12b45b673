from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from bot.answering.confidence import ConfidenceModel, bundled_confidence, fit, fit_offset
from bot.answering.policy import AnswerPolicy, load_confidence
from bot.answering.signals import FEATURES
from bot.evaluation.calibration import (
    calibrate_follow_ups,
    calibrate_from_runs,
    load_details,
    rescored,
    select_features,
)
from bot.evaluation.scoring import format_curve, risk_coverage
from bot.generation.model_files import BUNDLED_MODELS
from bot.settings import Settings
from retrieval.errors import KnownError


def _rows(count: int, seed: int = 1) -> tuple[list[dict], list[int]]:
    """Synthetic candidates: right ones have high support, wrong ones low; noise elsewhere."""
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(count):
        right = rng.random() < 0.5
        rows.append(
            {
                "answer_support": rng.uniform(0.6, 1.0) if right else rng.uniform(0.0, 0.7),
                "relevance": rng.uniform(0.3, 0.8),
            }
        )
        labels.append(int(right))
    return rows, labels


def test_fit_learns_which_signal_separates_right_from_wrong() -> None:
    rows, labels = _rows(400)
    model = fit(rows, labels, ["answer_support", "relevance"])
    support, relevance = model.weights
    assert support > 1.0 and abs(relevance) < support / 4
    assert model.score({"answer_support": 0.95, "relevance": 0.5}) > 0.8
    assert model.score({"answer_support": 0.1, "relevance": 0.5}) < 0.2


def test_forward_selection_keeps_only_signals_that_pay_on_held_out_folds() -> None:
    rows, labels = _rows(300)
    chosen, trail = select_features(rows, labels, ["relevance", "answer_support"], l2=1.0)
    assert chosen == ("answer_support",)
    assert trail[0][0] == "(none)" and trail[1][1] < trail[0][1]


def test_a_missing_signal_counts_as_its_mean() -> None:
    rows, labels = _rows(200)
    model = fit(rows, labels, ["answer_support", "relevance"])
    mean = model.means[1]
    assert model.score({"answer_support": 0.8}) == pytest.approx(
        model.score({"answer_support": 0.8, "relevance": mean})
    )
    assert model.score({"answer_support": 0.8, "relevance": None}) == model.score(
        {"answer_support": 0.8}
    )


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rows, labels = _rows(100)
    model = fit(rows, labels, ["answer_support", "relevance"], info={"fitted_on": ["x"]})
    model.save(tmp_path / "c.json")
    loaded = ConfidenceModel.load(tmp_path / "c.json")
    assert loaded.features == model.features and loaded.info == {"fitted_on": ["x"]}
    assert loaded.score(rows[0]) == pytest.approx(model.score(rows[0]), abs=1e-5)


@pytest.mark.parametrize("answer_model", BUNDLED_MODELS)
def test_each_bundled_model_has_its_own_fitted_confidence(answer_model: str) -> None:
    model = ConfidenceModel.load(bundled_confidence(answer_model), for_model=answer_model)
    assert model.fitted_for == answer_model
    assert model.features and set(model.features) <= set(FEATURES)
    assert all(model.weights), "the bundled confidence model was never fitted"
    assert all("holdout" not in name for name in model.info.get("fitted_on", []))
    assert "placeholder" not in model.info


def test_a_confidence_fitted_for_another_answer_model_is_refused(tmp_path: Path) -> None:
    rows, labels = _rows(60)
    fit(rows, labels, ["answer_support"], info={"model": "qwen-0.5b"}).save(tmp_path / "c.json")
    with pytest.raises(KnownError, match="fitted for the answer model qwen-0.5b, not qwen-1.5b"):
        ConfidenceModel.load(tmp_path / "c.json", for_model="qwen-1.5b")
    settings = Settings(
        _env_file=None, answer_model="qwen-1.5b", confidence_model=tmp_path / "c.json"
    )
    with pytest.raises(KnownError, match="make calibrate"):
        load_confidence(settings)
    assert load_confidence(
        settings.model_copy(update={"answer_model": "qwen-0.5b"})
    ).fitted_for == ("qwen-0.5b")


def test_the_judge_runs_when_the_confidence_uses_its_signal_or_when_asked(tmp_path: Path) -> None:
    rows, labels = _rows(60)
    for row in rows:
        row["judge_yes"] = 0.5
    fit(rows, labels, ["judge_yes"], info={"model": "qwen-1.5b"}).save(tmp_path / "j.json")
    fit(rows, labels, ["answer_support"], info={"model": "qwen-1.5b"}).save(tmp_path / "n.json")

    def judging(path: str, judge: str) -> bool:
        settings = Settings(_env_file=None, confidence_model=tmp_path / path, judge=judge)
        return AnswerPolicy.from_settings(settings).judge

    assert judging("j.json", "auto") and not judging("n.json", "auto")
    assert judging("n.json", "on") and not judging("j.json", "off")


@pytest.mark.parametrize("content", ["{not json", '{"features": ["a"], "means": []}'])
def test_a_broken_confidence_file_says_how_to_fix(tmp_path: Path, content: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(KnownError, match="CONFIDENCE_MODEL|different lengths"):
        ConfidenceModel.load(path)


def test_a_confidence_file_with_an_unknown_signal_is_refused(tmp_path: Path) -> None:
    rows, labels = _rows(60)
    model = fit(rows, labels, ["answer_support"])
    path = tmp_path / "c.json"
    model.save(path)
    path.write_text(path.read_text().replace('"answer_support"', '"answer_suport"', 1))
    with pytest.raises(KnownError, match="unknown signals: answer_suport"):
        ConfidenceModel.load(path)


def _run_file(path: Path, qa_file: str, rows: list[dict], labels: list[int]) -> Path:
    details = [
        {"answerable": True, "signals": row, "candidate_correct": bool(label), "confidence": 0.5}
        for row, label in zip(rows, labels, strict=True)
    ]
    sets = [{"qa_file": qa_file, "answers": {"details": details}}]
    path.write_text(json.dumps({"sets": sets}))
    return path


def test_calibrate_fits_on_tune_and_only_scores_holdout(tmp_path: Path) -> None:
    rows, labels = _rows(200)
    tune = _run_file(tmp_path / "tune.json", "eval/x_tune.jsonl", rows, labels)
    held_rows, held_labels = _rows(100, seed=2)
    holdout = _run_file(tmp_path / "holdout.json", "eval/x_holdout.jsonl", held_rows, held_labels)
    out = tmp_path / "fitted.json"
    report = calibrate_from_runs([tune], [holdout], out, l2=1.0)
    assert "holdout (100 questions)" in report and "tune (200 questions)" in report
    model = ConfidenceModel.load(out)
    assert model.info["fitted_on"] == ["x_tune.jsonl"] and model.info["candidates"] == 200
    assert model.features[0] == "answer_support"
    with pytest.raises(KnownError, match="tune runs only"):
        calibrate_from_runs([holdout], [], out, l2=1.0)


def test_the_follow_up_offset_shifts_only_follow_ups_and_survives_a_save(tmp_path: Path) -> None:
    model = ConfidenceModel(("relevance",), (0.5,), (0.1,), (1.0,), 0.0, follow_up_offset=1.0)
    signals = {"relevance": 0.5}
    assert model.score(signals) == pytest.approx(0.5)
    assert model.score(signals, follow_up=True) == pytest.approx(1 / (1 + math.exp(-1.0)))
    model.save(tmp_path / "c.json")
    assert ConfidenceModel.load(tmp_path / "c.json").follow_up_offset == pytest.approx(1.0)


def test_fit_offset_finds_the_shift_that_calibrates_and_is_pulled_towards_zero() -> None:
    # Log-odds of 0 say 50 %, but four in five are right: the shift is log(4).
    log_odds, labels = [0.0] * 100, [1] * 80 + [0] * 20
    assert fit_offset(log_odds, labels, l2=0.0) == pytest.approx(math.log(4), abs=1e-6)
    pulled = fit_offset(log_odds[:10], labels[:8] + labels[-2:], l2=5.0)
    assert 0.0 < pulled < math.log(4) * 0.8


def _conversation_run(path: Path, qa_file: str, rows: list[dict], labels: list[int]) -> Path:
    details = [
        {
            "answerable": True,
            "follow_up": True,
            "signals": row,
            "candidate_correct": bool(label),
            "confidence": 0.5,
        }
        for row, label in zip(rows, labels, strict=True)
    ]
    sets = [{"qa_file": qa_file, "conversations": {"followup": {"details": details}}}]
    path.write_text(json.dumps({"sets": sets}))
    return path


def test_calibrate_fits_the_follow_up_offset_and_keeps_the_other_coefficients(
    tmp_path: Path,
) -> None:
    rows, labels = _rows(200)
    base = fit(rows, labels, ["answer_support"], l2=1.0)
    target = tmp_path / "c.json"
    base.save(target)
    # Follow-ups read less surely: the same right answers carry lower support.
    follow_rows = [{**row, "answer_support": row["answer_support"] - 0.2} for row in rows]
    tune = _conversation_run(tmp_path / "fu.json", "eval/fu_tune.jsonl", follow_rows, labels)
    report = calibrate_follow_ups([tune], [], base, target)
    fitted = ConfidenceModel.load(target)
    assert fitted.follow_up_offset > 0.5
    assert fitted.weights == pytest.approx(base.weights) and fitted.bias == pytest.approx(base.bias)
    assert "Follow-up offset" in report and fitted.info["follow_up_candidates"] == 200
    holdout = _conversation_run(tmp_path / "h.json", "eval/fu_holdout.jsonl", follow_rows, labels)
    with pytest.raises(KnownError, match="tune runs only"):
        calibrate_follow_ups([holdout], [], base, target)


def test_refitting_the_follow_up_offset_starts_from_none(tmp_path: Path) -> None:
    rows, labels = _rows(200)
    base = fit(rows, labels, ["answer_support"], l2=1.0)
    shifted = ConfidenceModel(
        base.features, base.means, base.scales, base.weights, base.bias, follow_up_offset=9.0
    )
    tune = _conversation_run(tmp_path / "fu.json", "eval/fu_tune.jsonl", rows, labels)
    report = calibrate_follow_ups([tune], [tune], shifted, tmp_path / "c.json")
    # The same rows as the standalone fit: no shift is needed, and none is reported before.
    assert abs(ConfidenceModel.load(tmp_path / "c.json").follow_up_offset) < 0.3
    # "Without the offset" means none at all, not the file's old +9.
    details = load_details([tune], follow_ups=True)
    unshifted = "\n".join(format_curve(risk_coverage(rescored(details, base))))
    assert f"holdout follow-ups (200), without the offset:\n{unshifted}" in report
