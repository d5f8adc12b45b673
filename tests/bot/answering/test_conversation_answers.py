"""Follow-up questions end to end: the engine with a conversation (real embedding model,
real index in a temp dir, the real small model), the console's /new, `ask --conversation`,
the conversation files and the eval of conversation sets."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest

from bot.answering.conversation import Rewriter, Turn, standalone_question
from bot.answering.conversation_store import conversation_path, load_turns, save_turns
from bot.answering.engine import Engine
from bot.answering.prompting import Prompts
from bot.errors import BotError
from bot.evaluation.scoring import QAItem, read_qa, rules_with_gold_history, score_conversations
from bot.frontends.cli import main
from bot.frontends.console import NEW_CONVERSATION, SEARCHING, Session, handle_line
from bot.library.collection import Library
from bot.settings import Settings
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import TRUSTING, UNHURRIED, ScriptedGenerator, policy
from tests.conftest import PROJECT

PROMPTS = Prompts.load(PROJECT / "prompts")
# Over the invented town articles of tests/conftest.py.
APPROVED = Turn(
    "What did Glenfield council approve on Tuesday?",
    "What did Glenfield council approve on Tuesday?",
    "a new footbridge over the River Alder",
    ("Glenfield backs riverside walkway",),
)
LIBRARY = Turn(
    "Who paid for the Brookvale library works?",
    "Who paid for the Brookvale library works?",
    "the Halvorsen Trust",
    ("Brookvale library reopens",),
)


@pytest.fixture
def engine(town_index: Path, embedder, generator, injection_exemplars):
    with IndexStore(town_index) as store:
        searcher = Searcher(store, embedder)
        yield Engine(store, searcher, generator, PROMPTS, UNHURRIED, injection_exemplars)


def _verified(answer, store: IndexStore) -> bool:
    return all(store.article(q.article_id).text[q.start : q.end] == q.text for q in answer.quotes)


@pytest.mark.slow
def test_a_follow_up_is_answered_from_the_article_the_conversation_is_about(
    engine: Engine,
) -> None:
    answer = engine.ask("How much will it cost?", history=(APPROVED,))
    assert answer.question == "How much will it cost?" and answer.rewritten
    assert "Glenfield" in answer.standalone and "timings" and "rewrite" in answer.timings
    assert not answer.abstained, answer.reason
    assert any("4.2m" in quote.text for quote in answer.quotes)
    assert _verified(answer, engine.store)
    data = answer.as_dict()
    assert data["question"] == "How much will it cost?"
    assert data["standalone_question"] == answer.standalone


@pytest.mark.slow
def test_the_models_rewrite_resolves_it_and_the_follow_up_is_answered(
    town_index: Path, embedder, injection_exemplars, large_generator
) -> None:
    """The default answer model (the 1.5B) writes the standalone question: "it" becomes
    what the last turn was about, with no bracketed words, and the model reads that."""
    with IndexStore(town_index) as store:
        rewriter = Rewriter("model", PROMPTS.rewrite, seconds=300)
        engine = Engine(store, Searcher(store, embedder), large_generator, PROMPTS, UNHURRIED,
                        injection_exemplars, rewriter)  # fmt: skip
        answer = engine.ask("How much will it cost?", history=(APPROVED,))
        assert answer.rewritten and "rewrite" in answer.timings
        assert "footbridge" in answer.standalone.lower() and "(" not in answer.standalone
        assert answer.search_text == ""  # search read the model's wording too
        assert not answer.abstained, answer.reason
        assert any("4.2m" in quote.text for quote in answer.quotes)
        assert _verified(answer, store)


def test_with_both_search_reads_the_rules_rewrite_and_the_answer_says_so(
    town_index: Path, embedder, injection_exemplars
) -> None:
    """REWRITE=both: the model's wording is read and judged, the rules' wording searched;
    the answer carries both (plumbing: the model is scripted)."""
    fluent = "How much will the Glenfield footbridge cost?"
    with IndexStore(town_index) as store:
        rewriter = Rewriter("both", PROMPTS.rewrite, seconds=300)
        engine = Engine(store, Searcher(store, embedder), ScriptedGenerator(fluent), PROMPTS,
                        TRUSTING, injection_exemplars, rewriter)  # fmt: skip
        answer = engine.ask("How much will it cost?", history=(APPROVED,))
    assert answer.rewritten and answer.standalone == fluent
    assert answer.search_text == standalone_question("How much will it cost?", (APPROVED,))
    assert answer.as_dict()["searched_question"] == answer.search_text


@pytest.mark.slow
def test_a_follow_up_the_articles_do_not_answer_is_declined(engine: Engine) -> None:
    answer = engine.ask("How much did they give?", history=(LIBRARY,))
    assert answer.rewritten and "Brookvale" in answer.standalone
    assert answer.abstained and answer.quotes == (), answer


@pytest.mark.slow
def test_without_a_conversation_the_question_is_searched_as_typed(engine: Engine) -> None:
    answer = engine.ask("Who leads the council in Glenfield?")
    assert answer.standalone == answer.question and not answer.rewritten
    assert "rewrite" not in answer.timings


class _Recording(ScriptedGenerator):
    """A scripted model that keeps every prompt it is shown."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.prompts: list[str] = []

    def generate(self, messages, on_text, time_budget):  # noqa: ANN001, ANN201
        self.prompts.append(messages[-1]["content"])
        return super().generate(messages, on_text, time_budget)

    def yes_probability(self, messages, time_budget) -> float:  # noqa: ANN001
        self.prompts.append(messages[-1]["content"])
        return 0.9


@pytest.mark.slow
def test_the_model_and_the_judge_read_the_standalone_question(
    town_index: Path, embedder, injection_exemplars
) -> None:
    model = _Recording("£4.2m")
    with IndexStore(town_index) as store:
        engine = Engine(store, Searcher(store, embedder), model, PROMPTS,
                        policy(min_confidence=0.0, judge=True), injection_exemplars)  # fmt: skip
        answer = engine.ask("How much will it cost?", history=(APPROVED,))
    answer_prompt, judge_prompt = model.prompts
    assert answer.standalone in answer_prompt and answer.standalone in judge_prompt
    assert "Question: How much will it cost?\n" not in answer_prompt + judge_prompt


# -- console ------------------------------------------------------------------------
@pytest.fixture
def console(town_index: Path, embedder, injection_exemplars):
    settings = Settings(_env_file=None, index_dir=town_index)
    with IndexStore(town_index) as store:
        engine = Engine(store, Searcher(store, embedder), ScriptedGenerator("Mara Quist"),
                        PROMPTS, policy(min_confidence=0.0), injection_exemplars)  # fmt: skip
        yield engine, Library(settings, store, embedder)


@pytest.mark.slow
def test_the_console_keeps_the_conversation_until_new(console) -> None:
    engine, library = console
    session, out = Session(), io.StringIO()
    handle_line("Who leads the council in Glenfield?", engine, library, out, session)
    handle_line("What age is she?", engine, library, out, session)
    assert f"{SEARCHING} What age is Mara Quist?" in out.getvalue()
    assert [t.question for t in session.turns][-1] == "What age is she?"
    out = io.StringIO()
    handle_line("/new", engine, library, out, session)
    assert NEW_CONVERSATION in out.getvalue() and session.turns == ()
    handle_line("What age is she?", engine, library, out, session)
    assert SEARCHING not in out.getvalue()


@pytest.mark.slow
def test_the_console_help_lists_new(console) -> None:
    engine, library = console
    out = io.StringIO()
    handle_line("/help", engine, library, out)
    assert "/new" in out.getvalue()


# -- ask --json --conversation ------------------------------------------------------
@pytest.fixture
def own_index(town_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the town index this test may write conversations into."""
    copy = tmp_path / "index"
    shutil.copytree(town_index, copy)
    monkeypatch.setenv("PROMPTS_DIR", str(PROJECT / "prompts"))
    monkeypatch.setenv("ANSWER_MODEL", "qwen-0.5b")
    monkeypatch.setenv("LLM_TIME_BUDGET_SECONDS", "300")
    monkeypatch.setenv("REWRITE", "rules")  # the conversation file is under test, not the model
    return copy


@pytest.mark.slow
def test_ask_json_keeps_a_conversation_across_runs(own_index: Path, capsys) -> None:
    ask = ["ask", "--json", "--index", str(own_index), "--conversation"]
    assert main([*ask, "new", "What did Glenfield council approve on Tuesday?"]) == 0
    first = json.loads(capsys.readouterr().out)
    conversation = first["conversation"]
    assert first["standalone_question"] == first["question"]
    assert main([*ask, conversation, "How much will it cost?"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["conversation"] == conversation and second["question"] == "How much will it cost?"
    assert "Glenfield" in second["standalone_question"]
    path = conversation_path(own_index, conversation)
    assert [t.question for t in load_turns(own_index, conversation)] == [
        first["question"],
        "How much will it cost?",
    ]
    assert path.stat().st_mode & 0o077 == 0


def test_a_conversation_id_that_is_no_plain_name_is_refused_before_loading(
    tmp_path: Path, capsys
) -> None:
    assert main(["ask", "x", "--index", str(tmp_path), "--conversation", "../../etc/x"]) == 2
    assert "is not a conversation id" in capsys.readouterr().err


# -- conversation files -------------------------------------------------------------
def test_a_conversation_file_keeps_only_the_last_turns(tmp_path: Path) -> None:
    turns = [Turn(f"q{n}?", f"q{n}?", f"a{n}") for n in range(6)]
    save_turns(tmp_path, "c1", turns)
    assert [t.question for t in load_turns(tmp_path, "c1")] == ["q3?", "q4?", "q5?"]
    assert load_turns(tmp_path, "unknown") == ()


def test_a_damaged_or_oversized_conversation_file_is_a_clear_error(tmp_path: Path) -> None:
    path = conversation_path(tmp_path, "c1")
    path.parent.mkdir(parents=True)
    for content in ("{not json", json.dumps({"turns": [{"question": "x" * 40_000}]})):
        path.write_text(content)
        with pytest.raises(BotError, match="damaged"):
            load_turns(tmp_path, "c1")


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="no O_NOFOLLOW here")
def test_a_conversation_file_is_never_read_through_a_symlink(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"turns": [{"question": "secret"}]}))
    path = conversation_path(tmp_path, "c1")
    path.parent.mkdir(parents=True)
    path.symlink_to(secret)
    with pytest.raises(BotError):
        load_turns(tmp_path, "c1")
    save_turns(tmp_path, "c1", [Turn("q?", "q?")])  # replaces the link, not its target
    assert json.loads(secret.read_text())["turns"][0]["question"] == "secret"
    assert not path.is_symlink()


def test_old_conversation_files_are_pruned(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("bot.answering.conversation_store.MAX_FILES", 3)
    for n in range(5):
        path = save_turns(tmp_path, f"c{n}", [Turn("q?", "q?")])
        os.utime(path, (n, n))
    assert sorted(p.stem for p in path.parent.glob("*.json")) == ["c2", "c3", "c4"]


# -- eval of conversation sets ------------------------------------------------------
def _qa_line(**fields) -> str:  # noqa: ANN003
    return json.dumps({"question": "And when did it open?", "answers": ["2026"], **fields})


def test_a_conversation_line_reads_its_turns_and_standalone_wording(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        _qa_line(
            turns=[{"question": "What did Glenfield approve?", "answers": ["footbridge"]}],
            standalone="When will the Glenfield footbridge open?",
        )
    )
    (item,) = read_qa(path).items
    assert item.turns == (QAItem("What did Glenfield approve?", ("footbridge",), True, "1.1"),)
    assert item.standalone == "When will the Glenfield footbridge open?"


@pytest.mark.parametrize(
    "fields",
    [{"turns": ["a bare string"]}, {"turns": [{"question": ""}]},
     {"turns": [{"question": "q", "answer": ["typo"]}]}, {"standalone": ""}],
)  # fmt: skip
def test_a_malformed_conversation_line_is_refused(tmp_path: Path, fields: dict) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(_qa_line(**fields))
    with pytest.raises(BotError, match="qa.jsonl:1"):
        read_qa(path)


class _Said:
    """What a fake engine was asked, and with how many earlier turns."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def __call__(self, question: str, history: tuple):  # noqa: ANN204
        from bot.answering.engine import Answer

        self.asked.append((question, len(history)))
        return Answer(question, "2026", (), False, {"total": 0.1}, standalone=question)


def test_earlier_turns_are_asked_first_and_the_standalone_wording_alone() -> None:
    earlier = (QAItem("First?", ("x",), True, "c.1"), QAItem("Second?", ("y",), True, "c.2"))
    item = QAItem("And then?", ("2026",), True, "c", turns=earlier, standalone="Alone?")
    said = _Said()
    scores = score_conversations([item], said, lambda quote: True)
    assert said.asked == [("First?", 0), ("Second?", 1), ("And then?", 2), ("Alone?", 0)]
    assert scores.followup.correct == 1 and scores.standalone.correct == 1
    assert scores.earlier.answerable == 2 and scores.earlier.correct == 0


def test_the_retrieval_check_rewrites_with_the_gold_answers_of_earlier_turns() -> None:
    item = QAItem(
        "What age is she?",
        ("52",),
        True,
        turns=(QAItem("Who was named head of the Corvale museum?", ("Ines Varga",), True),),
    )
    expected = standalone_question(
        "What age is she?",
        (Turn("x", "Who was named head of the Corvale museum?", "Ines Varga"),),
    )
    assert rules_with_gold_history(item) == expected
    assert expected.startswith("What age is Ines Varga?")
