from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.answering.engine import NOT_FOUND, UNSURE, Answer, Engine, Quote
from bot.answering.prompting import Prompts
from bot.frontends.console import CHECKING, handle_line, print_answer
from bot.library.collection import Library
from bot.settings import Settings
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import TRUSTING, UNHURRIED, ScriptedGenerator, policy
from tests.conftest import PROJECT, write_town_corpus


def test_print_answer_shows_each_quote_with_its_article() -> None:
    quote = Quote(
        "The dinner was at Mar-a-Lago.", "a.txt", "Dinner story", "https://x.org/a", 0, 29
    )
    out = io.StringIO()
    print_answer(Answer("q", "Mar-a-Lago", (quote,), False), out)
    text = out.getvalue()
    assert "Mar-a-Lago\n" in text and "“The dinner was at Mar-a-Lago.”" in text
    assert "— Dinner story (https://x.org/a)" in text


def test_a_related_passage_is_marked_as_not_an_answer() -> None:
    out = io.StringIO()
    related = Quote("The bridge opens in 2026.", "b.txt", "Bridge", "b.txt", 0, 25)
    print_answer(Answer("q", UNSURE, (), True, {}, ("Bridge",), related=related), out)
    text = out.getvalue()
    assert UNSURE in text and "“The bridge opens in 2026.”" in text
    assert "(related, not an answer)" in text and "Closest articles" not in text


def test_abstention_lists_the_closest_articles() -> None:
    out = io.StringIO()
    print_answer(
        Answer("q", "I couldn't find that in the articles.", (), True, {}, ("A", "B")), out
    )
    assert "Closest articles:\n  - A\n  - B" in out.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.slow
def test_a_question_shows_thinking_until_the_answer_comes(console_engine) -> None:
    engine, library, _ = console_engine
    out = _Terminal()
    handle_line("Who leads the council in Glenfield?", engine, library, out)
    text = out.getvalue()
    assert "thinking…" in text and text.index("thinking…") < text.index("Mara Quist")


def _quoted(text: str) -> list[str]:
    """The quotes the console printed, each unwrapped to one line."""
    return [" ".join(found.split()) for found in re.findall("“(.+?)”", text, re.DOTALL)]


@pytest.mark.slow
def test_the_passage_being_checked_is_printed_before_the_model_answers(
    town_index: Path, embedder, generator, injection_exemplars
) -> None:
    out = _Terminal()
    with IndexStore(town_index) as store:
        engine = Engine(
            store, Searcher(store, embedder), generator, Prompts.load(PROJECT / "prompts"),
            UNHURRIED, injection_exemplars,
        )  # fmt: skip
        library = Library(Settings(_env_file=None), store, embedder)
        handle_line("Who leads the council in Glenfield?", engine, library, out)
        article = store.article("glenfield_bridge.txt").text
    text = out.getvalue()
    before, after = text.split(f"{CHECKING}\n", 1)
    assert before == "\r\x1b[2K\x1b[2mthinking…\x1b[0m\r\x1b[2K", "only 'thinking…' came first"
    checked = _quoted(after)[0]
    assert checked in " ".join(article.split())
    checking_block, answer_block = after.split("\n\n", 1)
    assert "— Glenfield backs riverside walkway" in checking_block
    streamed = re.findall("\x1b\\[2m(.*?)\x1b\\[0m", answer_block)
    assert streamed[0] == "thinking…" and len(streamed) > 1, "the answer streamed below"
    final = answer_block.rsplit("\r\x1b[2K", 1)[1]
    assert "Mara Quist" in final and "(related, not an answer)" not in final
    assert _quoted(final), "the answer is followed by its own quote"


@pytest.mark.slow
def test_a_declined_answer_leaves_the_checked_passage_marked_as_related(console_engine) -> None:
    engine, library, _ = console_engine
    engine.policy = policy(min_confidence=1.0)
    out = io.StringIO()
    handle_line("Who leads the council in Glenfield?", engine, library, out)
    text = out.getvalue()
    assert text.startswith(f"{CHECKING}\n")
    assert text.index(CHECKING) < text.index(UNSURE) < text.index("(related, not an answer)")
    checked, related = _quoted(text)
    assert checked == related


@pytest.mark.slow
def test_nothing_relevant_prints_no_passage_to_check(console_engine) -> None:
    engine, library, _ = console_engine
    out = io.StringIO()
    handle_line("What is the boiling point of mercury?", engine, library, out)
    text = out.getvalue()
    assert NOT_FOUND in text and CHECKING not in text and "“" not in text


@pytest.fixture
def console_engine(tmp_path: Path, embedder, injection_exemplars, sync_copy, index_dir: Path):
    corpus = tmp_path / "corpus"
    write_town_corpus(corpus)
    sync_copy(corpus)
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index_dir)
    with IndexStore(index_dir) as store:
        engine = Engine(
            store,
            Searcher(store, embedder),
            ScriptedGenerator("Mara Quist"),
            Prompts.load(PROJECT / "prompts"),
            TRUSTING,
            injection_exemplars,
        )
        yield engine, Library(settings, store, embedder), corpus


@pytest.mark.slow
def test_console_commands(console_engine) -> None:
    engine, library, corpus = console_engine
    out = io.StringIO()
    assert handle_line("/help", engine, library, out)
    assert handle_line("/status", engine, library, out)
    assert handle_line("/nonsense", engine, library, out)
    assert handle_line("Who leads the council in Glenfield?", engine, library, out)
    (corpus / "new.txt").write_text(
        "Budget approved\n\nThe council approved the budget on Tuesday.\n"
    )
    assert handle_line("/reload", engine, library, out)
    assert handle_line("/status", engine, library, out)
    assert not handle_line("/quit", engine, library, out)
    text = out.getvalue()
    assert "/reload" in text and "Unknown command /nonsense" in text
    assert "articles             4" in text and "articles             5" in text
    assert "1 added, 0 updated, 0 removed, 4 unchanged" in text
    assert "“" in text and "Mara Quist" in text


@pytest.mark.slow
def test_console_reload_refuses_to_wipe_the_index_unless_forced(console_engine) -> None:
    engine, library, corpus = console_engine
    for name in sorted(corpus.iterdir())[:3]:
        name.unlink()
    out = io.StringIO()
    assert handle_line("/reload", engine, library, out)
    assert "The reload did not run" in out.getvalue() and "/reload --force" in out.getvalue()
    assert engine.store.article_count() == 4
    assert handle_line("/reload --force", engine, library, out)
    assert "0 added, 0 updated, 3 removed" in out.getvalue()
    assert "removed: brookvale_library.txt, glenfield_bridge.txt" in out.getvalue()
    assert engine.store.article_count() == 1


@pytest.mark.slow
def test_console_help_suggests_questions_about_these_articles(console_engine) -> None:
    engine, library, _ = console_engine
    out = io.StringIO()
    handle_line("/help", engine, library, out)
    examples = out.getvalue().split("For example, from these articles:\n")[1].split("\n")
    assert examples[:3] == [
        "  What do the articles say about “Brookvale library reopens”?",
        "  What do the articles say about “Kestrel Airlines cuts Dunmore flights”?",
        "  What do the articles say about “Pellham orchard festival returns”?",
    ]


def test_titles_and_file_names_in_answers_print_as_visible_escapes() -> None:
    title, name = "Budget \x1b]52;c;ZWNobyBwd25lZA==\x07day", "evil\nadded: fake\u202egnp.md"
    quote = Quote("The budget passed.", name, title, name, 0, 18)
    out = io.StringIO()
    print_answer(Answer("q", "It passed.", (quote,), False), out)
    print_answer(Answer("q", NOT_FOUND, (), True, {}, (title, name)), out)
    text = out.getvalue()
    assert not {"\x1b", "\x07", "\u202e"} & set(text), repr(text)
    assert "\nadded: fake" not in text
    assert "Budget \\x1b]52;c;ZWNobyBwd25lZA==\\x07day" in text
    assert "evil\\nadded: fake\\u202egnp.md" in text
