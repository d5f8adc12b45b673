from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.answering.engine import UNSURE, Answer, Quote
from bot.frontends.discord.formatting import (
    MESSAGE_LIMIT,
    escape_markdown,
    progress_message,
    render_messages,
    split_block,
)
from retrieval.loading import parse_source, scan_corpus
from retrieval.models import Article

BODY = "The council approved the new budget on Tuesday after a long debate about schools."
# `— [title](<https://…>)` with an escaped title: no bare bracket inside the label.
MASKED_LINK = re.compile(r"^— \[(?:[^\[\]\\]|\\.)+\]\(<https?://[^\s<>()]+>\)", re.MULTILINE)


def _quote(text: str, source: str = "news/a.txt", title: str = "A story") -> Quote:
    return Quote(text, "a", title, source, 0, len(text), path="news/a.txt")


def test_answer_then_block_quotes_with_title_and_link() -> None:
    answer = Answer("q", "At *Mar-a-Lago*", (_quote("They dined.", "https://x.org/a"),), False)
    [message] = render_messages(answer)
    assert message == "At \\*Mar\\-a\\-Lago\\*\n\n> They dined.\n— [A story](<https://x.org/a>)"


def test_a_file_path_is_never_shown_to_members() -> None:
    [message] = render_messages(Answer("q", "Yes", (_quote("It rained."),), False))
    assert message.endswith("\n— *A story*") and "news/a.txt" not in message


@pytest.mark.parametrize(
    "source",
    [
        "[click](https://evil.example)",
        "https://good.example/a>)[click](https://evil.example)",
        "https://good.example/a [click](https://evil.example)",
        "javascript:alert(1)",
        "https://x.org/" + "a" * 600,  # longer than a link may be
    ],
)
def test_a_source_that_is_no_plain_web_address_is_never_a_link(source: str) -> None:
    [message] = render_messages(Answer("q", "Yes", (_quote("It rained.", source),), False))
    assert message.endswith("\n— *A story*"), message
    assert "](" not in message and "evil" not in message


def test_a_title_holding_markdown_stays_inside_its_link() -> None:
    quote = _quote("It rained.", "https://x.org/a", "Tips [here](https://evil.example) @everyone")
    [message] = render_messages(Answer("q", "Yes", (quote,), False))
    line = message.splitlines()[-1]
    assert MASKED_LINK.fullmatch(line), line
    assert line.endswith("](<https://x.org/a>)") and line.count("](<") == 1


def _write_each_kind(corpus: Path) -> None:
    """One article of every kind a source link can come from, each with a date."""
    (corpus / "guides").mkdir(parents=True)
    (corpus / "guides" / "laser-cutter.md").write_text(
        "---\ntitle: Laser cutter guide\nurl: https://wiki.example.org/laser\n"
        f"date: 2024-03-05T10:00:00Z\n---\n{BODY}\n"
    )
    paragraphs = "".join(f"<p>{BODY} Paragraph {i}.</p>" for i in range(3))
    (corpus / "page.html").write_text(
        '<html><head><title>Open day</title><link rel="canonical" '
        'href="https://site.example.org/open-day"><meta property="article:published_time" '
        f'content="2023-11-02"></head><body><article><h1>Open day</h1>{paragraphs}'
        "</article></body></html>"
    )
    line = {"text": BODY, "title": "Kiln rota", "url": "https://feed.example.org/kiln",
            "date": "7 January 2025"}  # fmt: skip
    (corpus / "feed.jsonl").write_text(json.dumps(line) + "\n" + json.dumps({"text": BODY}))
    (corpus / "notes (old).txt").write_text(f"Bench rules\n\n12 May 2022\n\n{BODY}\n")


def _quote_of(article: Article) -> Quote:
    """A quote of the article's start, carrying what `Engine._verified` gives a quote."""
    return Quote(article.text[:20], article.article_id, article.title, article.source, 0, 20,
                 article.date, article.path)  # fmt: skip


@pytest.mark.parametrize(
    ("article_id", "base_url", "line"),
    [
        ("guides/laser-cutter.md", None,
         "— [Laser cutter guide](<https://wiki.example.org/laser>) · 5 Mar 2024"),
        ("page.html", None, "— [Open day](<https://site.example.org/open-day>) · 2 Nov 2023"),
        ("feed.jsonl#https://feed.example.org/kiln", None,
         "— [Kiln rota](<https://feed.example.org/kiln>) · 7 Jan 2025"),
        ("notes (old).txt", "https://files.example.org/corpus/",
         "— [Bench rules](<https://files.example.org/corpus/notes%20%28old%29.txt>) · 12 May 2022"),
        ("guides/laser-cutter.md", "https://files.example.org/corpus",  # its own URL wins
         "— [Laser cutter guide](<https://wiki.example.org/laser>) · 5 Mar 2024"),
        ("notes (old).txt", None, "— *Bench rules* · 12 May 2022"),
        ("feed.jsonl#line-2", "https://files.example.org/corpus/", f"— *{BODY}*"),
    ],
)  # fmt: skip
def test_each_kind_of_source_is_quoted_with_its_link_and_date(
    tmp_path: Path, article_id: str, base_url: str | None, line: str
) -> None:
    _write_each_kind(tmp_path)
    scan = scan_corpus(tmp_path, 1_000_000)
    articles = {a.article_id: a for a in map(parse_source, scan.sources)}
    answer = Answer("q", "Yes", (_quote_of(articles[article_id]),), False)
    [message] = render_messages(answer, base_url=base_url)
    assert message.splitlines()[-1] == line
    assert "(<" not in line or MASKED_LINK.fullmatch(line.split(" · ")[0])


@pytest.mark.parametrize("length", [1990, 2500, 9000])
def test_long_replies_split_under_the_limit_and_lose_nothing(length: int) -> None:
    words = " ".join(f"w{i}" for i in range(length // 5))
    linked = _quote(words, "https://x.org/" + "p" * 400, "A long (bracketed) title " * 6)
    answer = Answer("q", "Short answer", (linked, _quote(words[:500])), False)
    messages = render_messages(answer)
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    joined = " ".join(messages)
    assert all(f"w{i}" in joined for i in range(length // 5))
    links = [m for m in messages if "](<https://x.org/" in m]
    assert len(links) == 1 and MASKED_LINK.search(links[0]), "the link line stays whole"
    for message in messages:  # every part of a quote is quoted, every source line whole
        for line in message.split("\n"):
            assert line.startswith(("> ", "— ")) or line in ("", "Short answer"), line[:80]


def test_split_quote_keeps_its_quote_marks() -> None:
    parts = split_block("> " + "word " * 1000, limit=300)
    assert len(parts) > 1 and all(p.startswith("> ") and len(p) <= 300 for p in parts)


def test_a_split_quote_keeps_its_source_line_whole_after_the_last_part() -> None:
    source = "— [A story](<https://x.org/a>) · 5 Mar 2024"
    parts = split_block("> " + "word " * 1000 + "\n" + source, limit=300)
    assert all(p.startswith("> ") and len(p) <= 300 for p in parts)
    assert parts[-1].endswith("\n" + source) and sum(source in p for p in parts) == 1


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


def test_while_the_model_works_the_passage_being_checked_comes_first() -> None:
    passage = _quote("The bridge opens in *May*.", "https://x.org/b", "Bridge")
    assert progress_message(passage, None) == (
        "*Checking this passage:*\n> The bridge opens in \\*May\\*.\n— [Bridge](<https://x.org/b>)"
    )
    streaming = progress_message(passage, "In Ma")
    assert streaming == progress_message(passage, None) + "\n\nIn Ma ▌"


@pytest.mark.parametrize("partial", [None, "So far " * 400])
def test_a_long_passage_is_cut_at_a_space_and_keeps_its_source_line(partial: str | None) -> None:
    words = " ".join(f"w{i}" for i in range(600))
    message = progress_message(_quote(words, "https://x.org/b", "Bridge"), partial)
    assert len(message) <= MESSAGE_LIMIT
    checking, _, rest = message.partition("\n— [Bridge](<https://x.org/b>)")
    shown = checking.removeprefix("*Checking this passage:*\n> ")
    assert shown.endswith(" …") and words.startswith(shown.removesuffix(" …") + " ")
    assert rest == ("" if partial is None else f"\n\n{rest[2:-2]} ▌")
    if partial:
        assert len(rest) > 900 and partial.startswith(rest[2:-2]), "room is left for the answer"
