from __future__ import annotations

import pytest

from bot.answering.question import (
    MAX_QUESTION_CHARS,
    QuestionProblem,
    expected_kind,
    normalise,
    parse_question,
    problem_of,
    question_names,
)


@pytest.mark.parametrize(
    "question,kind",
    [
        ("How many cases were reported in 2004?", "number"),
        ("What percentage of homes have a dog?", "number"),
        ("When did the shop open?", "date"),
        ("In which year was the bridge built?", "date"),
        ("Who became chief executive?", "name"),
        ("Whose idea was the festival?", "name"),
        ("Where was the summit held?", "place"),
        ("Which singer opened the show?", ""),  # any noun may follow "which"
        ("What record label did he set up?", ""),
    ],
)
def test_the_kind_of_answer_comes_from_the_question_words(question: str, kind: str) -> None:
    assert expected_kind(question) == kind


@pytest.mark.parametrize(
    "question,names",
    [
        ("On what date did the Zorb 3 go on sale in Norway?", ("Zorb", "Norway")),
        ("Where did Ada Quill and Bo Renn have lunch?", ("Ada", "Quill", "Bo", "Renn")),
        ("How much did Quill's charity give?", ("Quill",)),
        ("What did I say about the budget?", ()),
    ],
)
def test_names_are_the_capitalised_words_after_the_first(question: str, names) -> None:
    assert question_names(question) == names


def test_a_question_is_parsed_once_with_its_term_weights() -> None:
    seen: list[list[str]] = []

    def weights(terms: list[str]) -> dict[str, float]:
        seen.append(terms)
        return dict.fromkeys(terms, 2.0)

    question = parse_question("  How many   ferries did Nordia\nbuy? ", weights)
    assert question.text == "How many ferries did Nordia buy?"
    assert question.terms == ("ferries", "nordia", "buy")
    assert question.weights == {"ferries": 2.0, "nordia": 2.0, "buy": 2.0}
    assert question.kind == "number" and question.names == ("Nordia",)
    assert seen == [["ferries", "nordia", "buy"]]


def test_a_long_question_is_cut() -> None:
    assert len(parse_question("word " * 1000).text) == MAX_QUESTION_CHARS


@pytest.mark.parametrize(
    "question,problem",
    [
        ("", QuestionProblem.EMPTY),
        ("  ?? !.,", QuestionProblem.EMPTY),
        ("x" * (MAX_QUESTION_CHARS + 1), QuestionProblem.TOO_LONG),
        ("x" * MAX_QUESTION_CHARS, None),
        ("Why?", None),
    ],
)
def test_a_question_to_fix_is_named_by_a_value(question: str, problem) -> None:
    assert problem_of(question) is problem


def test_characters_drawn_as_nothing_do_not_split_a_word() -> None:
    """Zero-width joiners and direction marks go, as at ingest, in every front end."""
    assert normalise("Where is Glen\u200cfield\u200e ferry?") == "Where is Glenfield ferry?"
    assert normalise("bad \udcff byte") == "bad \ufffd byte"
