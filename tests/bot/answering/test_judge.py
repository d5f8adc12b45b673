"""The judge (`bot/answering/judge.py`): the answer model's yes/no verdict, real model."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answering.evidence import Evidence
from bot.answering.judge import judge, judge_messages
from bot.answering.prompting import Prompts, build_messages
from bot.generation.generators import GenerationFailed, yes_share
from tests.bot.conftest import ScriptedGenerator
from tests.conftest import PROJECT

PROMPTS = Prompts.load(PROJECT / "prompts")
BUDGET = 300.0


def _quoted(text: str, title: str = "Harbour report") -> list[Evidence]:
    return [Evidence(1, "a", title, "s", text, 0, len(text), 1.0, 0.5)]


# A sentence, a question it answers, and the same question with one detail changed.
NEAR_MISSES = [
    (
        "Exports from the harbour to Chile rose 12% in 2003.",
        "By how much did exports from the harbour to Chile rise in 2003?",
        "By how much did imports to the harbour from Chile rise in 2003?",
        "12%",
    ),
    (
        "Anna Berg will replace Tom Reed as chief executive of Harbour Bank in March.",
        "Whom will Anna Berg replace as chief executive of Harbour Bank?",
        "Whom will Anna Berg replace as finance director of Harbour Bank?",
        "Tom Reed",
    ),
    (
        "The storm forced three ports on the east coast to close on Tuesday.",
        "How many ports did the storm force to close?",
        "How many airports did the storm force to close?",
        "three",
    ),
]


def test_yes_share_is_the_yes_mass_out_of_yes_and_no() -> None:
    logits = np.log(np.array([0.5, 0.1, 0.3, 0.1]))
    assert yes_share(logits, [0], [2]) == pytest.approx(0.5 / 0.8)
    assert yes_share(logits, [0, 1], [2, 3]) == pytest.approx(0.6 / 1.0)


def test_the_judge_sees_the_quote_with_its_title_the_question_and_the_answer() -> None:
    messages = judge_messages(PROMPTS.judge, "Who leads?", _quoted("Ann  leads\nthe bank."), "Ann")
    user = messages[-1]["content"]
    assert "(Harbour report) Ann leads the bank." in user
    assert "Who leads?" in user and "Proposed answer: Ann" in user


def test_no_quote_or_no_answer_or_no_scores_gives_no_verdict() -> None:
    scripted = ScriptedGenerator("x")
    assert judge(scripted, PROMPTS.judge, "Who?", [], "Ann", BUDGET) is None
    assert judge(scripted, PROMPTS.judge, "Who?", _quoted("Ann leads."), " ", BUDGET) is None
    assert judge(scripted, PROMPTS.judge, "Who?", _quoted("Ann leads."), "Ann", BUDGET) is None


def test_a_failing_model_gives_no_verdict_instead_of_an_error() -> None:
    class Failing(ScriptedGenerator):
        def yes_probability(self, messages, time_budget):
            raise GenerationFailed("scripted failure")

    assert judge(Failing("x"), PROMPTS.judge, "Who?", _quoted("Ann leads."), "Ann", 1) is None


@pytest.mark.slow
def test_the_judge_says_yes_more_to_the_question_the_sentence_answers(large_generator) -> None:
    gaps = []
    for sentence, asked, changed, answer in NEAR_MISSES:
        right = judge(large_generator, PROMPTS.judge, asked, _quoted(sentence), answer, BUDGET)
        wrong = judge(large_generator, PROMPTS.judge, changed, _quoted(sentence), answer, BUDGET)
        assert right is not None and wrong is not None
        assert 0.0 <= wrong < right <= 1.0, (sentence, changed, right, wrong)
        gaps.append(right - wrong)
    assert sum(gaps) / len(gaps) > 0.15


@pytest.mark.slow
def test_a_judgement_leaves_the_next_answer_exactly_as_without_it(generator) -> None:
    """The warmed-up answer prefix is restored after the judge's prompt replaced it (the
    cache handling is the same code for every model, so the faster 0.5B shows it)."""
    generator.warm_up(build_messages(PROMPTS, "", []))
    sentence, asked, _, answer = NEAR_MISSES[1]
    messages = build_messages(PROMPTS, asked, _quoted(sentence))
    before = generator.generate(messages, None, BUDGET)
    generator.yes_probability(
        judge_messages(PROMPTS.judge, asked, _quoted(sentence), answer), BUDGET
    )
    after = generator.generate(messages, None, BUDGET)
    assert (after.sources, after.answer) == (before.sources, before.answer)
    assert after.source_logprobs == pytest.approx(before.source_logprobs, abs=1e-3)
