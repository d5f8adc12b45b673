from __future__ import annotations

import pytest

from bot.answering import UNSURE, Answer, Quote
from bot.discord_format import MESSAGE_LIMIT, escape_markdown, render_messages, split_block


def _quote(text: str, source: str = "news/a.txt", title: str = "A story") -> Quote:
    return Quote(text, "a", title, source, 0, len(text))


def test_answer_then_block_quotes_with_title_and_link() -> None:
    answer = Answer("q", "At *Mar-a-Lago*", (_quote("They dined.", "https://x.org/a"),), False)
    [message] = render_messages(answer)
    assert message == "At \\*Mar\\-a\\-Lago\\*\n\n> They dined.\n— *A story* (<https://x.org/a>)"


def test_file_sources_are_shown_as_code() -> None:
    [message] = render_messages(Answer("q", "Yes", (_quote("It rained."),), False))
    assert message.endswith("(`news/a.txt`)")


@pytest.mark.parametrize(
    "source",
    [
        "[click](https://evil.example)",
        "https://good.example/a>)[click](https://evil.example)",
        "https://good.example/a [click](https://evil.example)",
        "javascript:alert(1)",
    ],
)
def test_a_source_holding_markdown_is_shown_as_text_never_as_a_link(source: str) -> None:
    [message] = render_messages(Answer("q", "Yes", (_quote("It rained.", source),), False))
    assert message.endswith(f"(`{source}`)"), message  # a code span: no link inside it
    assert "(<" not in message


@pytest.mark.parametrize("length", [1990, 2500, 9000])
def test_long_replies_split_under_the_limit_and_lose_nothing(length: int) -> None:
    words = " ".join(f"w{i}" for i in range(length // 5))
    answer = Answer("q", "Short answer", (_quote(words), _quote(words[:500])), False)
    messages = render_messages(answer)
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    joined = " ".join(messages)
    assert all(f"w{i}" in joined for i in range(length // 5))


def test_split_quote_keeps_its_quote_marks() -> None:
    parts = split_block("> " + "word " * 1000, limit=300)
    assert len(parts) > 1 and all(p.startswith("> ") and len(p) <= 300 for p in parts)


def test_abstention_lists_closest_articles() -> None:
    answer = Answer("q", "I couldn't find that in the articles.", (), True, {}, ("One", "Two"))
    [message] = render_messages(answer)
    assert "Closest articles:\n• One\n• Two" in message


def test_markdown_and_mention_text_is_escaped_not_altered() -> None:
    assert escape_markdown("a_b *c* `d` @everyone") == "a\\_b \\*c\\* \\`d\\` @everyone"


def test_a_related_passage_is_quoted_and_marked_as_not_an_answer() -> None:
    answer = Answer("q", UNSURE, (), True, {}, ("One",), related=_quote("The bridge opens in May."))
    [message] = render_messages(answer)
    assert message.startswith(escape_markdown(UNSURE))
    assert "> The bridge opens in May." in message and "related, not an answer" in message
    assert "Closest articles" not in message
