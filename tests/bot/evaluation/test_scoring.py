from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answering.engine import Answer, Quote, Scoring
from bot.answering.outcomes import Decline
from bot.errors import BotError
from bot.evaluation.scoring import (
    SPLITS,
    ConversationScores,
    QAItem,
    auc,
    expand_sets,
    format_answers,
    format_conversations,
    hit_rank,
    load_qa,
    percentile,
    risk_coverage,
    score_answers,
    score_retrieval,
    share_with_interval,
    wilson,
)
from retrieval.search import Passage, SearchResults


def _results(*texts: str, relevance: float = 0.5) -> SearchResults:
    return SearchResults(
        "q", tuple(Passage("a", "t", "s", t, 0, len(t), 1.0, relevance) for t in texts)
    )


def test_hit_rank_is_case_insensitive_and_one_based() -> None:
    assert hit_rank(_results("nothing", "Dinner at MAR-A-LAGO"), ["Mar-a-Lago"]) == 2
    assert hit_rank(_results("nothing"), ["Mar-a-Lago"]) is None


def test_auc_and_percentile() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.5], [0.5]) == 0.5
    assert auc([0.5], []) is None
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95


def test_score_retrieval_counts_recall_mrr_and_separation() -> None:
    items = [
        QAItem("q1", ("gold",), True, "1"),
        QAItem("q2", ("gold",), True, "2"),
        QAItem("q3", (), False, "3"),
    ]
    canned = {
        "q1": _results("gold here", relevance=0.9),
        "q2": _results("x", "y", "has gold", relevance=0.6),
        "q3": _results("x", relevance=0.2),
    }
    scores = score_retrieval(items, lambda q: (canned[q], 1.0), "hybrid", threshold=0.5)
    assert scores.recall == {1: 0.5, 3: 1.0, 5: 1.0}
    assert scores.mrr == pytest.approx((1 + 1 / 3) / 2)
    assert (
        scores.auc == 1.0 and scores.answerable_kept == 1.0 and scores.unanswerable_rejected == 1.0
    )


def test_load_qa_reads_the_shared_format(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        json.dumps({"id": "x", "question": "Q?", "answers": ["A"], "type": "answerable"})
        + "\n\n"
        + json.dumps({"question": "U?", "answers": [], "type": "unanswerable"})
        + "\n"
    )
    items = load_qa(path)
    assert [(i.qid, i.answerable, i.answers) for i in items] == [
        ("x", True, ("A",)),
        ("3", False, ()),
    ]


def test_load_qa_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "ok", "answers": []}\n{"answers": []}\n')
    with pytest.raises(BotError, match="qa.jsonl:2"):
        load_qa(path)


@pytest.mark.parametrize(
    ("corpus", "answerable", "unanswerable"), [("bbc", 150, 40), ("seed", 40, 15)]
)
def test_shipped_dev_sets_are_split_and_large_enough(
    corpus: str, answerable: int, unanswerable: int
) -> None:
    folder = Path(__file__).resolve().parents[3] / "eval"
    tune = load_qa(folder / f"{corpus}_tune.jsonl")
    holdout = load_qa(folder / f"{corpus}_holdout.jsonl")
    assert not {i.question for i in tune} & {i.question for i in holdout}
    assert not {i.qid for i in tune} & {i.qid for i in holdout}
    items = [*tune, *holdout]
    assert sum(i.answerable for i in items) >= answerable
    assert sum(not i.answerable for i in items) >= unanswerable
    assert all(i.answers for i in items if i.answerable)
    assert not any(i.answers for i in items if not i.answerable)


def _raw_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize(("corpus", "least"), [("bbc", 50), ("seed", 30)])
def test_shipped_near_misses_are_unanswerable_and_name_their_article(
    corpus: str, least: int
) -> None:
    folder = Path(__file__).resolve().parents[3] / "eval"
    splits = {split: _raw_lines(folder / f"{corpus}_{split}.jsonl") for split in SPLITS}
    near_misses = [row for rows in splits.values() for row in rows if "changed" in row]
    assert len(near_misses) >= least
    for row in near_misses:
        assert row["type"] == "unanswerable" and row["answers"] == []
        assert row["near"] and " -> " in row["changed"]
    if corpus == "bbc":  # tune and holdout questions never come from the same article
        articles = {
            split: {row.get(key) for row in rows for key in ("doc", "near")} - {None}
            for split, rows in splits.items()
        }
        assert not articles["tune"] & articles["holdout"]


def test_wilson_interval_is_wide_on_few_questions_and_narrow_on_many() -> None:
    low, high = wilson(15, 16)
    assert low < 0.72 < 0.9 < high <= 1.0
    low, high = wilson(900, 1000)
    assert 0.87 < low < 0.9 < high < 0.92
    assert wilson(0, 0) == (0.0, 1.0)


def _detail(answerable: bool, confidence: float | None, correct: bool | None) -> dict:
    return {"answerable": answerable, "confidence": confidence, "candidate_correct": correct}


def test_risk_coverage_reads_precision_off_the_recorded_confidences() -> None:
    details = [
        _detail(True, 0.9, True),
        _detail(True, 0.6, False),
        _detail(False, 0.3, False),
        _detail(True, None, None),  # the model declined: never answered
    ]
    curve = {row["min_confidence"]: row for row in risk_coverage(details, (0.0, 0.5, 0.8))}
    assert curve[0.0]["answered"] == 0.75 and curve[0.0]["precision"] == pytest.approx(
        1 / 3, abs=1e-3
    )
    assert curve[0.5]["answered"] == 0.5 and curve[0.5]["precision"] == 0.5
    assert curve[0.8]["precision"] == 1.0 and curve[0.8]["accuracy"] == pytest.approx(
        1 / 3, abs=1e-3
    )
    assert curve[0.0]["unanswerables_abstained"] == 0.0
    assert curve[0.5]["unanswerables_abstained"] == 1.0


def test_a_set_name_stands_for_its_tune_and_holdout_files(tmp_path: Path) -> None:
    for split in ("tune", "holdout"):
        (tmp_path / f"news_{split}.jsonl").write_text("")
    other = tmp_path / "other.jsonl"
    assert expand_sets([tmp_path / "news", other]) == [
        tmp_path / "news_tune.jsonl",
        tmp_path / "news_holdout.jsonl",
        other,
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"question": "Q?", "answer": ["A"], "type": "answerable"}, 'unknown field "answer"'),
        ({"question": "Q?", "answer": ["A"], "type": "answerable"}, 'did you mean "answers"'),
        ({"question": "Q?", "answers": [], "type": "unanswerabel"}, '"unanswerabel"'),
        ({"question": "Q?", "answers": [], "type": "unanswerabel"}, 'did you mean "unanswerable"'),
        ({"question": "Q?", "answers": "A", "type": "answerable"}, '"answers" must be a list'),
        ({"question": "Q?", "answers": [], "type": "answerable"}, "needs at least one answer"),
        ({"question": "", "answers": ["A"]}, '"question" must be a non-empty string'),
    ],
)
def test_load_qa_stops_at_a_misspelt_field_or_value_with_the_line_number(
    tmp_path: Path, record: dict, message: str
) -> None:
    path = tmp_path / "qa.jsonl"
    good = {"question": "Fine?", "answers": ["yes"], "type": "answerable", "doc": "a.txt"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(BotError, match="qa.jsonl:2") as error:
        load_qa(path)
    assert message in str(error.value)


def test_load_qa_accepts_every_field_the_shipped_sets_use(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    record = {"id": "x", "question": "Q?", "answers": ["A"], "type": "answerable"}
    near_miss = {"id": "y", "question": "Q2?", "answers": [], "type": "unanswerable"}
    near_miss |= {"near": "b.txt", "changed": "year: 2003 -> 2001", "note": "n"}
    path.write_text(
        json.dumps(record | {"doc": "a.txt", "near": "b.txt"}) + "\n" + json.dumps(near_miss) + "\n"
    )
    assert [(item.qid, item.near_miss) for item in load_qa(path)] == [("x", False), ("y", True)]


def _answer(text: str, abstained: bool) -> Answer:
    """What `engine.ask` returns: an answer, or a decline below the confidence threshold."""
    decline = Decline.UNSURE if abstained else None
    return Answer("Q?", text, (), abstained, {"total": 0.1}, decline=decline)


def test_eval_details_read_the_scoring_and_name_the_decline() -> None:
    items = [QAItem("Who leads the council?", ("Mara Quist",), True, "a1")]
    quote = Quote("Council leader Mara Quist said so.", "a.txt", "Bridge", "a.txt", 0, 34)
    scoring = Scoring({"judge_yes": 0.3}, "Mara Quist", (quote,))
    unsure = Answer("Q?", "not sure", (), True, {"total": 0.1}, (), Decline.UNSURE,
                    "confidence 0.41 below 0.80", confidence=0.41, scoring=scoring)  # fmt: skip
    [detail] = score_answers(items, lambda q: unsure, lambda quote: True).details
    assert detail["decline"] == "unsure" and detail["reason"].endswith("0.41 below 0.80")
    assert detail["signals"] == {"judge_yes": 0.3} and detail["candidate"] == "Mara Quist"
    assert detail["candidate_titles"] == ["Bridge"] and detail["candidate_correct"] is True
    [unscored] = score_answers(items, lambda q: _answer("", True), lambda quote: True).details
    assert unscored["signals"] == {} and unscored["candidate_correct"] is None


def test_near_misses_get_their_own_abstention_row_counting_only_changed_items(
    tmp_path: Path,
) -> None:
    path = tmp_path / "qa.jsonl"
    rows = [
        {"id": "a1", "question": "When did the ferry sail?", "answers": ["Monday"]},
        {"id": "u1", "question": "Who painted the ferry?", "answers": [], "type": "unanswerable"},
        {"id": "u2", "question": "Who owns the pier?", "answers": [], "type": "unanswerable"},
        {
            "id": "n1",
            "question": "When did the ferry sail back?",
            "answers": [],
            "type": "unanswerable",
            "near": "a.txt",
            "changed": "direction: out -> back",
        },
        {
            "id": "n2",
            "question": "When did the bus sail?",
            "answers": [],
            "type": "unanswerable",
            "near": "a.txt",
            "changed": "vehicle: ferry -> bus",
        },
        {
            "id": "n3",
            "question": "When did the ferry sail in 1999?",
            "answers": [],
            "type": "unanswerable",
            "near": "a.txt",
            "changed": "year: 2001 -> 1999",
        },
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    items = load_qa(path)
    assert [i.qid for i in items if i.near_miss] == ["n1", "n2", "n3"]
    # the bot answers one plain unanswerable and one near miss, and declines the rest
    replies = {
        "When did the ferry sail?": _answer("Monday", False),
        "Who owns the pier?": _answer("The council", False),
        "When did the bus sail?": _answer("Monday", False),
    }
    scores = score_answers(items, lambda q: replies.get(q, _answer("", True)), lambda quote: True)
    assert (scores.unanswerable, scores.near_miss) == (5, 3)
    assert scores.abstention == pytest.approx(3 / 5)
    assert scores.near_miss_abstention == pytest.approx(2 / 3)
    assert scores.intervals["near_miss_abstention"] == wilson(2, 3)
    assert scores.invented == ["u2", "n2"] and scores.near_miss_invented == ["n2"]
    assert [d["near_miss"] for d in scores.details] == [False, False, False, True, True, True]
    data = json.loads(json.dumps(scores.as_dict()))
    assert data["near_miss"] == 3 and data["near_miss_abstention"] == pytest.approx(2 / 3)
    assert data["intervals"]["near_miss_abstention"] == list(wilson(2, 3))
    text = format_answers(scores)
    assert "5 unanswerable (3 of them near misses" in text
    [row] = [line for line in text.splitlines() if "near misses abstained" in line]
    assert "66.7%" in row and "(2 of 3" in row


def test_the_conversation_table_shows_each_share_as_the_answer_block_does() -> None:
    items = [QAItem("Who leads?", ("Mara",), True, "a1"), QAItem("Who sang?", (), False, "u1")]
    replies = {"Who leads?": _answer("Mara", False), "Who sang?": _answer("", True)}
    scores = score_answers(items, replies.__getitem__, lambda quote: True)
    shown = share_with_interval(scores, "accuracy")
    assert shown == f"100.0%  [{wilson(1, 1)[0]:.1%} – 100.0%]"
    assert f"  accuracy on answerables  {shown}\n" in format_answers(scores)
    table = format_conversations(ConversationScores(scores, None, scores))
    [row] = [line for line in table.splitlines() if line.startswith("  follow-ups  ")]
    assert row.split() == ["follow-ups", *shown.split() * 3, "1/1", "right,", "1", "answered"]


def test_without_near_misses_the_row_is_empty_not_zero() -> None:
    items = [QAItem("Who painted the ferry?", (), False, "u1")]
    scores = score_answers(items, lambda q: _answer("", True), lambda quote: True)
    assert scores.near_miss == 0 and scores.near_miss_abstention is None
    assert "near_miss_abstention" not in scores.intervals
    [row] = [line for line in format_answers(scores).splitlines() if "near misses" in line[:25]]
    assert "-" in row and "(0 of 0" in row


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"question": "Q?", "answers": [], "type": "unanswerable", "chnged": "year: 1 -> 2"},
            'did you mean "changed"',
        ),
        (
            {"question": "Q?", "answers": [], "type": "unanswerable", "change": "year: 1 -> 2"},
            'unknown field "change"',
        ),
        (
            {"question": "Q?", "answers": ["A"], "type": "answerable", "changed": "year: 1 -> 2"},
            '"changed" marks a near miss',
        ),
        (
            {"question": "Q?", "answers": [], "type": "unanswerable", "changed": ""},
            '"changed" must name the detail changed',
        ),
    ],
)
def test_changed_is_accepted_only_on_unanswerables_and_unknown_fields_still_stop(
    tmp_path: Path, record: dict, message: str
) -> None:
    path = tmp_path / "qa.jsonl"
    near = {"question": "Fine?", "answers": [], "type": "unanswerable", "changed": "city: A -> B"}
    path.write_text(json.dumps(near) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(BotError, match="qa.jsonl:2") as error:
        load_qa(path)
    assert message in str(error.value)
