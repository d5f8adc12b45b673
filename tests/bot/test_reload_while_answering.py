"""Questions keep being answered, correctly and with verified quotes, while a reload of
new articles runs in another thread (real model, real index)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.answering.engine import Engine
from bot.answering.prompting import Prompts
from bot.library.collection import Library
from bot.settings import Settings
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import UNHURRIED
from tests.conftest import PROJECT, TOWN_QUESTIONS, write_town_corpus
from tests.retrieval.reload_support import write_articles

pytestmark = pytest.mark.slow
QUESTIONS = TOWN_QUESTIONS[:2]
NEW = 10  # the reload is held open until questions overlap it, so a few will do


def test_every_question_asked_during_a_reload_is_answered(
    tmp_path: Path, sync_copy, index_dir: Path, embedder, generator, injection_exemplars
) -> None:
    corpus = write_town_corpus(tmp_path / "corpus")
    sync_copy(corpus)
    write_articles(corpus, NEW)
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index_dir)
    with IndexStore(index_dir) as store:
        engine = Engine(
            store, Searcher(store, embedder), generator, Prompts.load(PROJECT / "prompts"),
            UNHURRIED, injection_exemplars,  # a busy machine must not force a fallback
        )  # fmt: skip
        outcome: dict = {}
        overlapped = threading.Event()

        def hold_until_questions_overlap(done: int, total: int) -> None:
            # On a fast machine the reload ends before one question is answered: hold it
            # with every new vector staged and nothing committed until two have been.
            if done >= total:
                overlapped.wait(timeout=300)

        library = Library(settings, store, embedder)
        reload = threading.Thread(
            target=lambda: outcome.update(report=library.reload(hold_until_questions_overlap))
        )
        reload.start()
        answers = []
        while reload.is_alive() or not answers:
            question, gold = QUESTIONS[len(answers) % len(QUESTIONS)]
            answers.append((engine.ask(question), gold, reload.is_alive()))
            if len(answers) >= 2:
                overlapped.set()
        reload.join()
        during = [(answer, gold) for answer, gold, running in answers if running]
        assert len(during) >= 2, "the reload finished before questions could overlap it"
        for answer, gold in during:
            assert not answer.abstained, answer.reason
            assert any(gold in quote.text for quote in answer.quotes)
            for quote in answer.quotes:
                assert store.article(quote.article_id).text[quote.start : quote.end] == quote.text
        assert len(outcome["report"].added) == NEW and store.article_count() == 4 + NEW
