"""Example questions come from the community's own article titles, cheaply and stably."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.frontends.discord.cogs.help import CommandLine, help_text
from bot.frontends.discord.formatting import MESSAGE_LIMIT
from bot.library.examples import example_questions, example_titles, usable_title
from bot.settings import Settings
from retrieval.store import IndexStore
from tests.conftest import TOWN_ARTICLES

pytestmark = pytest.mark.slow
TOWN_TITLES = {text.split("\n", 1)[0] for text in TOWN_ARTICLES.values()}


def test_examples_are_questions_about_indexed_titles_and_stable(town_index: Path) -> None:
    with IndexStore(town_index) as store:
        titles = example_titles(store)
        questions = example_questions(store)
        assert example_questions(store) == questions, "the same articles, the same examples"
    assert len(titles) == 3 and set(titles) <= TOWN_TITLES
    assert questions[0] == f"What do the articles say about “{titles[0]}”?"


def test_an_empty_index_has_no_examples(tmp_path: Path) -> None:
    with IndexStore(tmp_path / "index") as store:
        assert example_questions(store) == []


@pytest.mark.parametrize(
    ("title", "usable"),
    [
        ("Brookvale library reopens", True),
        ("Untitled", False),
        ("https://example.org/a-page", False),
        ("notes/2024/minutes.txt", False),
        (" ".join(["word"] * 20), False),
    ],
)
def test_only_titles_a_member_could_ask_about_are_used(title: str, usable: bool) -> None:
    assert usable_title(title) is usable


def test_help_stays_within_one_message_however_many_commands() -> None:
    lines = [
        CommandLine(f"/command{n} option", "Does a thing " * 20, n % 2 == 0) for n in range(60)
    ]
    settings = Settings(_env_file=None, allowed_channel_ids=[111])
    text = help_text(lines, ["What do the articles say about “Budget day”?"], settings)
    assert len(text) <= MESSAGE_LIMIT and text.endswith("\n…")
    assert (
        "I answer in <#111>." in text and "*What do the articles say about “Budget day”?*" in text
    )
