"""Declines as values: the reason line is built from them, never the other way round."""

from __future__ import annotations

from bot.answering.engine import Answer, Scoring
from bot.answering.outcomes import FALLBACKS, Decline, Declined, reason_text


def test_every_decline_has_a_reason_line() -> None:
    assert all(reason_text(decline) for decline in Decline)
    assert reason_text(None) == "" and reason_text(None, "ignored") == ""


def test_the_reason_line_carries_the_detail() -> None:
    declined = Declined(Decline.UNSURE, "confidence 0.62 below 0.80")
    assert declined.reason == "unsure: confidence 0.62 below 0.80"
    assert Declined(Decline.NOTHING_RELEVANT).reason == "nothing relevant found"


def test_an_answer_states_its_decline_in_its_json() -> None:
    answer = Answer("Q?", "text", (), True, decline=Decline.SLOW, detail="no answer in 20 s")
    data = answer.as_dict()
    assert data["decline"] == "slow" and data["fallback"] == "no answer in 20 s"
    assert data["reason"] == "fallback: no answer in 20 s"
    shown = Answer("Q?", "Mara Quist", (), False, confidence=0.9).as_dict()
    assert shown["decline"] is None and shown["reason"] == "" and "fallback" not in shown


def test_only_a_model_fallback_sets_fallback() -> None:
    for decline in Decline:
        answer = Answer("Q?", "text", (), True, decline=decline, detail="why")
        assert bool(answer.fallback) == (decline in FALLBACKS)


def test_scoring_stays_off_the_json_members_see() -> None:
    scoring = Scoring({"judge_yes": 0.4}, "Mara Quist")
    answer = Answer("Q?", "t", (), True, decline=Decline.UNSURE, scoring=scoring)
    assert not {"signals", "candidate", "candidate_quotes", "scoring"} & set(answer.as_dict())
