"""The real answer models, loaded once for every bot test that needs them.

The answer path's tests run the small bundled model (`qwen-0.5b`), twice as fast as
the default; the judge and the default model's own tests load `qwen-1.5b`.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.answering.policy import AnswerPolicy
from bot.app import load_generator
from bot.generation.generators import GenerationFailed, LlamaGenerator, Reply
from bot.settings import Settings

SMALL = Settings(_env_file=None, answer_model="qwen-0.5b")


@pytest.fixture(scope="session")
def generator() -> LlamaGenerator:
    return load_generator(SMALL)


@pytest.fixture(scope="session")
def large_generator() -> LlamaGenerator:
    return load_generator(Settings(_env_file=None, answer_model="qwen-1.5b"))


def policy(**changes: object) -> AnswerPolicy:
    """The small model's answer policy with some fields changed."""
    return replace(AnswerPolicy.from_settings(SMALL), **changes)


# Answers, not speed, are under test: a busy machine must not turn them into fallbacks.
UNHURRIED = policy(time_budget_seconds=300)
# For plumbing tests with a scripted model: every supported answer is shown.
TRUSTING = policy(min_confidence=0.0)


class ScriptedGenerator:
    """Replies with a fixed answer: for checking the engine's plumbing, not answer quality."""

    name = "scripted"

    def __init__(self, answer: str, sources: tuple[int, ...] = (1,), fail: bool = False) -> None:
        self.reply = Reply(sources, answer, 0.01, 0.02)
        self.fail = fail

    def warm_up(self, messages) -> None:
        self.warmed_with = messages

    def yes_probability(self, messages, time_budget) -> None:
        return None

    def generate(self, messages, on_text, time_budget) -> Reply:
        if self.fail:
            raise GenerationFailed("scripted failure")
        if on_text is not None:
            on_text(self.reply.answer)
        return self.reply


def scripted_engine(store, embedder, exemplars, answer: str = "Mara Quist"):
    """An engine over a real index whose model always replies `answer` (plumbing tests)."""
    from bot.answering.engine import Engine
    from bot.answering.prompting import Prompts
    from retrieval.search import Searcher
    from tests.conftest import PROJECT

    return Engine(
        store, Searcher(store, embedder), ScriptedGenerator(answer),
        Prompts.load(PROJECT / "prompts"), TRUSTING, exemplars,
    )  # fmt: skip
