"""Follow-ups rewritten into standalone questions, on invented conversations."""

from __future__ import annotations

import time

import pytest

from bot.answering.conversation import (
    Rewrite,
    Rewriter,
    Turn,
    conversation_articles,
    is_question,
    keeps_the_follow_up,
    leans_on_history,
    model_rewrite,
    names_in,
    remember,
    rewrite_messages,
    standalone_question,
)
from bot.answering.engine import Answer, Quote
from bot.answering.prompting import Prompts
from bot.generation.generators import Reply
from tests.bot.conftest import ScriptedGenerator
from tests.conftest import PROJECT

TEMPLATE = Prompts.load(PROJECT / "prompts").rewrite
MEETING = Turn(
    "Where did Ada Byrne meet Tom Hale?",
    "Where did Ada Byrne meet Tom Hale?",
    "Port Elling",
    ("Byrne and Hale meet at Port Elling harbour",),
)
NAMED = Turn(
    "Who was named head of the Corvale museum?",
    "Who was named head of the Corvale museum?",
    "Ines Varga",
    ("Corvale museum names new director",),
)
BEATEN = Turn(
    "Who did Ada Byrne beat in the Tarvik final?",
    "Who did Ada Byrne beat in the Tarvik final?",
    "Tom Hale",
)


@pytest.mark.parametrize(
    "question",
    [
        "And what did he lend him?",
        "What about the other one?",
        "How much did it cost?",
        "Who paid for that?",
        "When did they open?",
        "And then?",
        "How old?",
        "What about Corvale?",
        "What was the score in the final set?",
        "When did the first one open?",
    ],
)
def test_a_question_leaning_on_the_conversation_is_recognised(question: str) -> None:
    assert leans_on_history(question)


@pytest.mark.parametrize(
    "question",
    [
        "Where did Ada Byrne meet Tom Hale?",
        "How many visitors did the Corvale museum have this year?",
        "Is there a ferry from Port Elling to Tarvik?",
        "",
        "  ?? ",
    ],
)
def test_a_question_that_stands_alone_is_not_taken_for_a_follow_up(question: str) -> None:
    assert not leans_on_history(question)


def test_his_after_he_is_left_as_it_is() -> None:
    rewritten = standalone_question("Where did he leave his car?", (NAMED,))
    assert rewritten.startswith("Where did Ines Varga leave his car?")


def test_pronouns_become_the_names_of_the_last_question() -> None:
    rewritten = standalone_question("And what did he lend him?", (MEETING,))
    assert rewritten.startswith("What did Ada Byrne lend Tom Hale?")
    assert "Port Elling" in rewritten and " he " not in f" {rewritten} "


def test_he_or_she_is_the_name_the_last_question_asked_for() -> None:
    rewritten = standalone_question("What age is she?", (NAMED,))
    assert rewritten.startswith("What age is Ines Varga?") and "Corvale" in rewritten


def test_after_who_did_someone_beat_she_is_that_someone_not_the_answer() -> None:
    rewritten = standalone_question("Who does she play next?", (BEATEN,))
    assert rewritten.startswith("Who does Ada Byrne play next?")


def test_a_follow_up_without_pronouns_gets_the_last_turns_names_and_words() -> None:
    rewritten = standalone_question("What about the entry fee?", (NAMED,))
    assert rewritten.startswith("What about the entry fee? (")
    assert "Corvale" in rewritten and "Ines Varga" in rewritten


def test_the_last_turn_counts_and_carries_what_came_before() -> None:
    first = standalone_question("What age is she?", (NAMED,))
    second = Turn("What age is she?", first, "52")
    rewritten = standalone_question("Where was she born?", (NAMED, second))
    assert "Ines Varga" in rewritten and "Corvale" in rewritten


@pytest.mark.parametrize("history", [(), (MEETING,)])
def test_a_question_that_stands_alone_is_searched_as_typed(history: tuple) -> None:
    question = "How many visitors did the Corvale museum have in March?"
    assert standalone_question(question, history) == question


def test_names_skip_question_words_and_possessives() -> None:
    assert names_in("What did Ada Byrne's team win at the Bank of Tarvik?") == [
        "Ada Byrne",
        "Bank of Tarvik",
    ]


def test_the_conversation_keeps_only_its_last_turns() -> None:
    turns: tuple[Turn, ...] = ()
    for n in range(5):
        turns = remember(turns, Turn(f"q{n}", f"q{n}"), limit=3)
    assert [t.question for t in turns] == ["q2", "q3", "q4"]
    assert remember(turns, MEETING, limit=0) == ()


def test_a_declined_answer_keeps_its_question_but_no_answer_text() -> None:
    quote = Quote("Ines Varga will lead it.", "a.txt", "Corvale museum names", "a.txt", 0, 24)
    shown = Answer("Who?", "Ines Varga", (quote,), False, standalone="Who leads it? (Corvale)")
    declined = Answer("Who?", "I'm not sure", (), True)
    assert shown.as_turn("Who?") == Turn(
        "Who?", "Who leads it? (Corvale)", "Ines Varga", ("Corvale museum names",), ("a.txt",)
    )
    assert declined.as_turn("Who?") == Turn("Who?", "Who?", "", ())


def test_a_turn_remembers_the_articles_shown_and_a_follow_up_looks_in_the_latest() -> None:
    quote = Quote("Ines Varga will lead it.", "a.txt", "Corvale museum names", "a.txt", 0, 24)
    closest = Quote("The museum reopens in May.", "b.txt", "Museum reopens", "b.txt", 0, 26)
    answered = Answer("Who?", "Ines Varga", (quote,), False).as_turn("Who?")
    # A decline still showed the closest passage: the member's next question leans on it.
    declined = Answer("When?", "I'm not sure", (), True, related=closest).as_turn("When?")
    silent = Answer("Why?", "I'm not sure", (), True).as_turn("Why?")
    assert answered.articles == ("a.txt",) and declined.articles == ("b.txt",)
    assert conversation_articles((answered, declined)) == ("b.txt",)
    assert conversation_articles((answered, declined, silent)) == ("b.txt",)
    assert conversation_articles((silent,)) == ()
    assert Turn.from_dict(declined.as_dict()) == declined


def test_a_turn_read_back_is_cut_to_its_bounds() -> None:
    turn = Turn.from_dict({"question": "x" * 5000, "answer": "y", "titles": ["a", "b", "c", "d"]})
    assert len(turn.question) == 600 and turn.standalone == turn.question
    assert turn.titles == ("a", "b", "c")


# -- the model's rewrite ------------------------------------------------------------
class _SlowGenerator(ScriptedGenerator):
    def generate(self, messages, on_text, time_budget) -> Reply:  # noqa: ANN001
        time.sleep(0.3)
        return super().generate(messages, on_text, time_budget)


@pytest.mark.parametrize(
    "generator,how",
    [
        (ScriptedGenerator("What did Ada Byrne lend Tom Hale at Port Elling?"), "model"),
        (ScriptedGenerator("Ada Byrne gave him a watch."), "rules"),  # an answer, no question
        (ScriptedGenerator("Where did Ada Byrne meet Tom Hale?"), "rules"),  # the last question
        (ScriptedGenerator("", fail=True), "rules"),
        (_SlowGenerator("What did Ada Byrne lend Tom Hale?"), "rules"),
    ],
)
def test_the_model_rewrite_falls_back_to_the_rules_when_slow_failing_or_no_question(
    generator: ScriptedGenerator, how: str
) -> None:
    rewriter = Rewriter("model", TEMPLATE, seconds=0.1)
    rewrite = rewriter.rewrite("And what did he lend him?", (MEETING,), generator)
    assert rewrite.how == how and rewrite.search == rewrite.read
    if how == "model":
        assert rewrite.read == "What did Ada Byrne lend Tom Hale at Port Elling?"
    else:
        assert rewrite.read == standalone_question("And what did he lend him?", (MEETING,))


@pytest.mark.parametrize(
    "generator,how",
    [
        (ScriptedGenerator("What did Ada Byrne lend Tom Hale at Port Elling?"), "both"),
        (ScriptedGenerator("", fail=True), "rules"),
    ],
)
def test_both_searches_the_rules_rewrite_and_reads_the_models(
    generator: ScriptedGenerator, how: str
) -> None:
    rules = standalone_question("And what did he lend him?", (MEETING,))
    rewrite = Rewriter("both", TEMPLATE).rewrite("And what did he lend him?", (MEETING,), generator)
    assert rewrite.how == how and rewrite.search == rules
    assert rewrite.read == (rules if how == "rules" else generator.reply.answer)


@pytest.mark.parametrize(
    "rewrite,kept",
    [
        ("Where did Ada Byrne meet Tom Hale?", False),  # the earlier question again
        ("where did ada byrne meet tom hale", False),
        ("What did Ada Byrne lend Tom Hale?", True),
        ("Where did Tom Hale meet Ada Byrne at Port Elling?", True),  # worded anew
    ],
)
def test_a_rewrite_that_repeats_an_earlier_question_is_refused(rewrite: str, kept: bool) -> None:
    assert keeps_the_follow_up(rewrite, (MEETING,)) is kept


def test_the_model_is_not_asked_for_a_question_that_stands_alone() -> None:
    generator = ScriptedGenerator("What is this?", fail=True)
    rewriter = Rewriter("model", TEMPLATE)
    assert rewriter.rewrite("Where did Ada Byrne meet Tom Hale?", (MEETING,), generator) == Rewrite(
        "Where did Ada Byrne meet Tom Hale?", "Where did Ada Byrne meet Tom Hale?", ""
    )


def test_the_rewrite_prompt_shows_the_earlier_turns_and_the_follow_up() -> None:
    user = rewrite_messages(TEMPLATE, "And what did he lend him?", (MEETING,))[-1]["content"]
    assert "Question: Where did Ada Byrne meet Tom Hale?" in user
    assert "Answer: Port Elling [from: Byrne and Hale meet at Port Elling harbour]" in user
    assert user.rstrip().endswith("Follow-up question: And what did he lend him?\nReply:")


@pytest.mark.parametrize(
    "text,ok",
    [("Who paid for it?", True), ("how much was it", True), ("Ada Byrne.", False),
     ("", False), ("Why?\nBecause.", False), ("Who won? And when?", False),
     ("What " + "x" * 400 + "?", False)],
)  # fmt: skip
def test_only_a_single_question_counts_as_a_rewrite(text: str, ok: bool) -> None:
    assert is_question(text) is ok


@pytest.mark.slow
def test_the_real_model_rewrites_a_follow_up_into_a_question_naming_the_subject(
    large_generator,
) -> None:
    rewritten = model_rewrite(large_generator, TEMPLATE, "What age is she?", (NAMED,), 120)
    assert rewritten is not None and is_question(rewritten)
    assert "Ines Varga" in rewritten or "Varga" in rewritten


def test_the_bots_memory_of_answers_is_bounded_and_found_by_any_key() -> None:
    from bot.answering.conversation import ConversationMemory

    memory = ConversationMemory(max_keys=3, turns=2)
    memory.record((), MEETING, [10, 11])
    assert memory.history(None, 11) == (MEETING,) and memory.history(99) == ()
    memory.record((MEETING,), NAMED, [12])
    memory.record((MEETING, NAMED), BEATEN, [13])
    assert memory.history(13) == (NAMED, BEATEN), "only the last two turns are kept"
    assert len(memory) == 3 and memory.history(10) == (), "the least recently used key went"
    assert memory.history(12, 11) == (MEETING, NAMED), "the first key that has turns counts"
