"""The answer signals, on synthetic sentences that show each principle."""

from __future__ import annotations

import math

import pytest

from bot.answering.engine import quote_is_exact, says_not_found
from bot.answering.evidence import Evidence
from bot.answering.question import parse_question
from bot.answering.signals import (
    FEATURES,
    Candidate,
    answer_kind_matches,
    answer_support,
    compute,
    names_coverage,
    novelty,
    question_coverage,
    score_margin,
)


def _evidence(text: str, score: float = 1.0, cosine: float = 0.5, title: str = "T") -> Evidence:
    return Evidence(1, "a.txt", title, "a.txt", text, 0, len(text), score, cosine)


@pytest.mark.parametrize(
    "answer,sentence,support",
    [
        ("Port Alva", "The ferry docked at Port Alva on Monday.", 1.0),
        ("Melrose", "The ferry docked at Port Alva on Monday.", 0.0),  # invented name
        ("£4.2m", "The bridge will cost £4.2m to build.", 1.0),
        ("£4.3m", "The bridge will cost £4.2m to build.", 0.0),  # invented figure
        ("12,000 fans", "About 12000 fans came.", 1.0),  # separators do not matter
        ("Dal", "The dal was cold, said Dalia.", 0.0),  # a name must be a capitalised word
        ("the Oscar", "his two Oscars", 1.0),  # a plural is the same name
        ("a new red footbridge", "a new footbridge", 2 / 3),
    ],
)
def test_answer_support_is_the_share_of_answer_words_in_the_quote(
    answer: str, sentence: str, support: float
) -> None:
    assert answer_support(answer, [sentence]) == pytest.approx(support)


def test_novelty_is_what_the_answer_adds_to_the_question() -> None:
    assert novelty("the Glenfield bridge", "Who built the Glenfield bridge?") == 0.0
    assert novelty("Mara Quist", "Who built the Glenfield bridge?") == 1.0
    assert novelty(
        "Quist and her Glenfield firm", "Who built the Glenfield bridge?"
    ) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "kind,answer,matches",
    [
        ("number", "40 flights", 1.0),
        ("number", "three years", 1.0),
        ("number", "Dunmore airport", 0.0),
        ("date", "14 September", 1.0),
        ("date", "on Tuesday", 1.0),
        ("date", "in 2026", 1.0),
        ("date", "the council", 0.0),
        ("name", "Mara Quist", 1.0),
        ("name", "the council leader", 0.0),
        ("", "anything at all", 1.0),
    ],
)
def test_kind_match(kind: str, answer: str, matches: float) -> None:
    assert answer_kind_matches(kind, answer) == matches


def test_names_coverage_reads_whole_words_ignoring_case_and_accents() -> None:
    articles = ["Café Lumière closes\nThe CAFE LUMIERE on Rue Verte shut on Friday."]
    assert names_coverage(("Café", "Lumière"), articles) == 1.0
    assert names_coverage(("Lumière", "Verte", "Dupont"), articles) == pytest.approx(2 / 3)
    assert names_coverage(("Lum",), articles) == 0.0  # whole words only
    assert names_coverage((), articles) == 1.0  # a question about no name loses nothing


def test_question_coverage_counts_the_title_and_weighs_rare_terms_more() -> None:
    weights = {"bridge": 1.0, "glenfield": 3.0}
    quoted = [_evidence("The bridge opens in May.", title="Glenfield news")]
    assert question_coverage(weights, quoted) == 1.0
    untitled = [_evidence("The bridge opens in May.", title="News")]
    assert question_coverage(weights, untitled) == pytest.approx(0.25)


def test_score_margin_is_capped_and_full_for_a_lone_sentence() -> None:
    assert score_margin([_evidence("a", 1.5), _evidence("b", 1.2)], 0.4) == pytest.approx(0.3)
    assert score_margin([_evidence("a", 1.5), _evidence("b", 0.2)], 0.4) == 0.4
    assert score_margin([_evidence("a", 1.5)], 0.4) == 0.4


def test_compute_gives_every_feature_a_number() -> None:
    question = parse_question("How much will the Glenfield bridge cost?", lambda t: {"bridge": 1.0})
    sentence = _evidence("The Glenfield bridge will cost £4.2m.", 1.4, 0.7, "Glenfield")
    candidate = Candidate("£4.2m", (sentence,), 1, 0.9)
    found = compute(question, 0.6, [sentence], candidate, ["Glenfield\nThe bridge…"], 0.4)
    assert set(found) == set(FEATURES)
    assert found["answer_support"] == 1.0 and found["kind_match"] == 1.0
    assert found["cite_probability"] == 0.9 and found["from_headline"] == 0.0
    assert found["answer_words"] == pytest.approx(math.log(3))  # "4" and "2m"
    headline = Candidate("£4.2m", (_evidence("Bridge costs £4.2m", 0.0, 0.0),), 0, None)
    from_title = compute(question, 0.6, [sentence], headline, [], 0.4)
    assert from_title["from_headline"] == 1.0 and from_title["quote_score"] == 0.0


@pytest.mark.parametrize(
    "answer", ["NOT FOUND", "", "  ", "I don't know", "The sentences do not say."]
)
def test_refusals_are_recognised(answer: str) -> None:
    assert says_not_found(answer)


def test_real_answers_are_not_refusals() -> None:
    assert not says_not_found("None of the players, according to the coach, were fit")
    assert not says_not_found("Port Alva")


def test_quote_must_match_stored_text_exactly() -> None:
    text = "Alpha beta. Gamma delta."
    assert quote_is_exact(text, "Gamma delta.", 12, 24)
    assert not quote_is_exact(text, "Gamma delta!", 12, 24)
    assert not quote_is_exact(text, "Gamma delta.", 11, 23)
    assert not quote_is_exact(None, "Gamma delta.", 12, 24)
