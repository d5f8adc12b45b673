from __future__ import annotations

import pytest

from retrieval.lexical import match_expression, query_terms


@pytest.mark.parametrize(
    "question,terms",
    [
        (
            "Which estate hosted the Zuckerberg and Trump dinner?",
            ["estate", "hosted", "zuckerberg", "trump", "dinner"],
        ),
        ("What happened at Mar-a-Lago?", ["happened", "mar a lago"]),
        ("Who gave $420 million?", ["420", "million"]),
        ("What is the U.S. stance?", ["u s", "stance"]),
        ("the the THE", []),
        ("   ", []),
        ('Quotes "inside" it', ["quotes", "inside"]),
    ],
)
def test_query_terms(question: str, terms: list[str]) -> None:
    assert query_terms(question) == terms


def test_match_expression_quotes_every_term() -> None:
    assert match_expression(["mar a lago", "dinner"]) == '"mar a lago" OR "dinner"'
