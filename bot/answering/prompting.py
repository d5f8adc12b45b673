"""Build the chat messages from the editable templates in `prompts/`.

Besides the system and user templates, `examples.txt` holds worked examples that
go before every question as earlier chat turns. A 0.5B model copies a shown
pattern far better than it follows a described one, and the examples are the
same for every question, so llama.cpp reuses their evaluated prefix: they cost
time once per model load, not per question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from bot.answering.evidence import Evidence
from bot.answering.injection import parse_exemplars
from bot.errors import BotError

SYSTEM_FILE = "system.txt"
ANSWER_FILE = "answer.txt"
EXAMPLES_FILE = "examples.txt"
JUDGE_FILE = "judge.txt"
REWRITE_FILE = "rewrite.txt"
INJECTION_EXEMPLARS_FILE = "injection_exemplars.txt"
_MAX_TITLE_CHARS = 80
_EXAMPLE_SEPARATOR = re.compile(r"^-{3,}\s*$", re.MULTILINE)
_EXAMPLE = re.compile(
    r"^Sentences:\s*\n(?P<evidence>.+?)\n\s*Question:(?P<question>.+?)\n\s*Reply:(?P<reply>.+)$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Example:
    """One worked example: numbered sentences, a question and the reply wanted."""

    evidence: str
    question: str
    reply: str


@dataclass(frozen=True)
class Prompts:
    """The templates, examples and instruction exemplars, read once at start-up."""

    system: str
    answer: str
    examples: tuple[Example, ...] = ()
    # Sentences that give a model orders: article text like them is never shown to it.
    injection_exemplars: tuple[str, ...] = ()
    judge: str = ""  # the yes/no question about a candidate answer (`bot/answering/judge.py`)
    # Follow-up → standalone question (`bot/answering/conversation.py`); optional: without it the
    # rules rewrite every follow-up.
    rewrite: str = ""

    @classmethod
    def load(cls, folder: Path) -> Prompts:
        """Read the templates; a missing file, placeholder or bad example is a clear error."""
        try:
            system = (folder / SYSTEM_FILE).read_text(encoding="utf-8").strip()
            answer = (folder / ANSWER_FILE).read_text(encoding="utf-8").strip()
            judge = (folder / JUDGE_FILE).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise BotError(
                f"Cannot read the prompt templates in '{folder}' ({error}). PROMPTS_DIR must "
                f"hold {SYSTEM_FILE}, {ANSWER_FILE} and {JUDGE_FILE}; the project ships them "
                "in prompts/."
            ) from error
        for name, text, placeholders in (
            (ANSWER_FILE, answer, ("{evidence}", "{question}")),
            (JUDGE_FILE, judge, ("{quote}", "{question}", "{answer}")),
        ):
            for placeholder in placeholders:
                if placeholder not in text:
                    raise BotError(f"{folder / name} must contain the placeholder {placeholder}.")
        examples_file = folder / EXAMPLES_FILE
        examples = parse_examples(examples_file) if examples_file.exists() else ()
        rewrite = load_rewrite(folder)
        return cls(system, answer, examples, load_injection_exemplars(folder), judge, rewrite)


def load_rewrite(folder: Path) -> str:
    """The follow-up rewrite template, or "" when the folder has none."""
    path = folder / REWRITE_FILE
    if not path.exists():
        return ""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise BotError(f"Cannot read {path} ({error.strerror or error}).") from error
    for placeholder in ("{history}", "{question}"):
        if placeholder not in text:
            raise BotError(f"{path} must contain the placeholder {placeholder}.")
    return text


def load_injection_exemplars(folder: Path) -> tuple[str, ...]:
    """The instruction exemplars; required, since without them only patterns catch orders."""
    path = folder / INJECTION_EXEMPLARS_FILE
    try:
        exemplars = parse_exemplars(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BotError(
            f"Cannot read {path} ({error.strerror or error}). It lists sentences that give a "
            "model orders, one per line, so that article text like them is never shown to "
            "the model; copy it from the project's prompts/ folder."
        ) from error
    if not exemplars:
        raise BotError(f"{path} has no exemplar sentences; it needs at least one line.")
    return exemplars


def parse_examples(path: Path) -> tuple[Example, ...]:
    """Examples separated by `---` lines, each `Sentences:` … `Question:` … `Reply:` {json}."""
    examples = []
    text = path.read_text(encoding="utf-8")
    blocks = [block.strip() for block in _EXAMPLE_SEPARATOR.split(text)]
    for number, block in enumerate((b for b in blocks if b), start=1):
        match = _EXAMPLE.match(block)
        if match is None:
            raise BotError(
                f"Example {number} in {path} must read 'Sentences:' (numbered lines), then "
                '\'Question: …\', then \'Reply: {"sources": [...], "answer": "…"}\'.'
            )
        reply = match["reply"].strip()
        try:
            data = json.loads(reply)
        except json.JSONDecodeError as error:
            raise BotError(
                f"Example {number} in {path}: the reply is not JSON ({error})."
            ) from error
        if not isinstance(data, dict) or set(data) != {"sources", "answer"}:
            raise BotError(
                f"Example {number} in {path}: the reply must have exactly 'sources' and 'answer'."
            )
        examples.append(Example(match["evidence"].strip(), match["question"].strip(), reply))
    return tuple(examples)


def format_evidence(evidence: list[Evidence]) -> str:
    """One line per sentence: `[n] (article title) sentence`."""
    lines = []
    for item in evidence:
        title = item.title if len(item.title) <= _MAX_TITLE_CHARS else item.title[:79] + "…"
        text = " ".join(item.text.split())
        lines.append(f"[{item.number}] ({title}) {text}")
    return "\n".join(lines)


def build_messages(prompts: Prompts, question: str, evidence: list[Evidence]) -> list[dict]:
    """System message, the worked examples as earlier turns, then this question."""
    messages = [{"role": "system", "content": prompts.system}]
    for example in prompts.examples:
        user = prompts.answer.format(evidence=example.evidence, question=example.question)
        messages += [
            {"role": "user", "content": user},
            {"role": "assistant", "content": example.reply},
        ]
    user = prompts.answer.format(evidence=format_evidence(evidence), question=question)
    return [*messages, {"role": "user", "content": user}]
