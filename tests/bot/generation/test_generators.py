from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.answering.engine import Engine
from bot.answering.injection import LazyExemplars
from bot.answering.prompting import Prompts
from bot.generation.generators import Reply
from retrieval.embedding import Embedder
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import policy
from tests.conftest import PROJECT


def _reply(sources: tuple[int, ...], logprobs: dict[str, float]) -> Reply:
    return Reply(sources, "an answer", 0.1, 0.2, logprobs)


def test_cite_probability_is_renormalised_over_the_shown_sentences_and_none() -> None:
    logprobs = {"1": math.log(0.6), "2": math.log(0.2), "3": math.log(0.1), "]": math.log(0.1)}
    assert _reply((1,), logprobs).cite_probability(3) == pytest.approx(0.6)
    # with two sentences shown, "3" cannot be cited: the rest of the mass is shared out
    assert _reply((2,), logprobs).cite_probability(2) == pytest.approx(0.2 / 0.9)


def test_an_answer_citing_nothing_has_probability_zero() -> None:
    assert _reply((), {"]": 0.0}).cite_probability(3) == 0.0


def test_without_the_models_scores_the_probability_is_unknown() -> None:
    assert _reply((1,), {}).cite_probability(3) is None
    assert _reply((7,), {"1": -0.1, "]": -3.0}).cite_probability(3) is None  # not shown


@pytest.mark.slow
def test_warm_up_leaves_the_shared_prompt_prefix_evaluated(
    generator,
    town_index: Path,
) -> None:
    """Loading and the long worked-examples prefix are paid before the first question."""
    prompts = Prompts.load(PROJECT / "prompts")
    embedder = Embedder()
    with IndexStore(town_index) as store:
        exemplars = LazyExemplars(prompts.injection_exemplars, embedder)
        Engine(store, Searcher(store, embedder), generator, prompts, policy(), exemplars).warm_up()
    assert embedder.loaded, "the embedding model is loaded too"
    llm = generator._llm
    cached = llm.detokenize(llm.input_ids[: llm.n_tokens].tolist()).decode("utf-8", "replace")
    assert prompts.system.strip() in cached
    assert prompts.examples[-1].reply in cached  # the last worked example, whole


def test_answer_probability_is_the_geometric_mean_and_the_weakest_token() -> None:
    reply = Reply((1,), "Susie Wiles", 0.1, 0.2, answer_logprobs=(math.log(0.9), math.log(0.4)))
    assert reply.answer_probability() == pytest.approx(math.sqrt(0.9 * 0.4))
    assert reply.answer_min_probability() == pytest.approx(0.4)
    assert _reply((1,), {}).answer_probability() is None  # a generator that cannot see scores


@pytest.mark.slow
def test_the_model_is_surer_of_an_answer_it_copies_than_of_one_it_must_guess(generator) -> None:
    """Each token written inside the answer string gets its probability; a name stated in
    the sentence is copied with more of the mass than one no sentence gives."""
    system = (
        'Reply in JSON: {"sources": [sentence numbers], "answer": "..."}, '
        "the answer copied from the sentence."
    )

    def answer(user: str) -> Reply:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return generator.generate(messages, None, 300)

    copied = answer(
        "Sentences:\n1. The harbour master of Lowmoor is Edna Vartley.\n\n"
        "Question: Who is the harbour master of Lowmoor?"
    )
    guessed = answer(
        "Sentences:\n1. Lowmoor has a small harbour.\n\n"
        "Question: What is the first name of the harbour master's cousin?"
    )
    assert copied.answer_logprobs and all(p <= 0 for p in copied.answer_logprobs)
    assert "Vartley" in copied.answer
    assert copied.answer_probability() > guessed.answer_probability()


@pytest.mark.slow
def test_a_thread_count_bounds_reading_the_prompt_as_well_as_writing() -> None:
    """LLM_THREADS=1 leaves the other cores free for the whole answer (issue 27)."""
    from bot.app import load_generator
    from tests.bot.conftest import SMALL

    one = load_generator(SMALL.model_copy(update={"llm_threads": 1}))
    assert one._llm.context_params.n_threads == 1
    assert one._llm.context_params.n_threads_batch == 1
