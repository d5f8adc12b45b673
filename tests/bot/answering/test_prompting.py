"""Prompt templates and worked examples: parsed from the editable files, shown as chat turns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.answering.evidence import Evidence
from bot.answering.prompting import EXAMPLES_FILE, Prompts, build_messages
from bot.errors import BotError

PROJECT = Path(__file__).resolve().parents[3]


def _evidence() -> list[Evidence]:
    return [Evidence(1, "a1", "Title", "a1.txt", "Anna Berg runs the bank.", 0, 24, 1.0)]


def test_shipped_examples_become_turns_before_the_question() -> None:
    prompts = Prompts.load(PROJECT / "prompts")
    messages = build_messages(prompts, "Who runs the bank?", _evidence())
    roles = [m["role"] for m in messages]
    assert len(prompts.examples) >= 3
    assert roles == ["system", *["user", "assistant"] * len(prompts.examples), "user"]
    for index, example in enumerate(prompts.examples):
        asked, reply = messages[1 + 2 * index], messages[2 + 2 * index]
        assert asked["content"].endswith(f"Question: {example.question}")
        assert set(json.loads(reply["content"])) == {"sources", "answer"}
    assert any(json.loads(e.reply)["answer"] == "NOT FOUND" for e in prompts.examples)
    assert messages[-1]["content"].endswith("Question: Who runs the bank?")
    assert "[1] (Title) Anna Berg runs the bank." in messages[-1]["content"]


def test_examples_use_the_edited_answer_template(tmp_path: Path) -> None:
    shutil.copytree(PROJECT / "prompts", tmp_path, dirs_exist_ok=True)
    (tmp_path / "answer.txt").write_text("Q: {question}\nFacts:\n{evidence}", encoding="utf-8")
    prompts = Prompts.load(tmp_path)
    first_user = build_messages(prompts, "Who?", _evidence())[1]["content"]
    assert first_user.startswith(f"Q: {prompts.examples[0].question}\nFacts:\n[1] (")


def test_no_examples_file_means_no_example_turns(tmp_path: Path) -> None:
    shutil.copytree(PROJECT / "prompts", tmp_path, dirs_exist_ok=True)
    (tmp_path / EXAMPLES_FILE).unlink()
    messages = build_messages(Prompts.load(tmp_path), "Who?", _evidence())
    assert [m["role"] for m in messages] == ["system", "user"]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("Sentences:\n[1] (T) A.\nReply: {}", "must read 'Sentences:'"),
        ('Sentences:\n[1] (T) A.\nQuestion: Who?\nReply: {"sources": [1]', "not JSON"),
        ('Sentences:\n[1] (T) A.\nQuestion: Who?\nReply: {"answer": "A"}', "exactly 'sources'"),
    ],
)
def test_a_broken_example_is_a_clear_error(tmp_path: Path, text: str, complaint: str) -> None:
    shutil.copytree(PROJECT / "prompts", tmp_path, dirs_exist_ok=True)
    good = (tmp_path / EXAMPLES_FILE).read_text(encoding="utf-8")
    (tmp_path / EXAMPLES_FILE).write_text(f"{good}\n---\n{text}\n", encoding="utf-8")
    with pytest.raises(BotError, match=complaint) as caught:
        Prompts.load(tmp_path)
    assert EXAMPLES_FILE in str(caught.value)


def test_a_judge_template_without_its_placeholders_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(PROJECT / "prompts", tmp_path, dirs_exist_ok=True)
    (tmp_path / "judge.txt").write_text("Text: {quote}\nQuestion: {question}\nYes or No?")
    with pytest.raises(BotError, match=r"judge\.txt must contain the placeholder \{answer\}"):
        Prompts.load(tmp_path)
