"""Build the chat messages from the editable templates in `prompts/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.evidence import Evidence
from retrieval.errors import BotError

SYSTEM_FILE = "system.txt"
ANSWER_FILE = "answer.txt"
_MAX_TITLE_CHARS = 80


@dataclass(frozen=True)
class Prompts:
    """The two templates, read once at start-up."""

    system: str
    answer: str

    @classmethod
    def load(cls, folder: Path) -> Prompts:
        """Read the templates; a missing file or placeholder is a clear error."""
        try:
            system = (folder / SYSTEM_FILE).read_text(encoding="utf-8").strip()
            answer = (folder / ANSWER_FILE).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise BotError(
                f"Cannot read the prompt templates in '{folder}' ({error}). PROMPTS_DIR must "
                f"hold {SYSTEM_FILE} and {ANSWER_FILE}; the project ships them in prompts/."
            ) from error
        for placeholder in ("{evidence}", "{question}"):
            if placeholder not in answer:
                raise BotError(
                    f"{folder / ANSWER_FILE} must contain the placeholder {placeholder}."
                )
        return cls(system=system, answer=answer)


def format_evidence(evidence: list[Evidence]) -> str:
    """One line per sentence: `[n] (article title) sentence`."""
    lines = []
    for item in evidence:
        title = item.title if len(item.title) <= _MAX_TITLE_CHARS else item.title[:79] + "…"
        text = " ".join(item.text.split())
        lines.append(f"[{item.number}] ({title}) {text}")
    return "\n".join(lines)


def build_messages(prompts: Prompts, question: str, evidence: list[Evidence]) -> list[dict]:
    """System and user messages for one question."""
    user = prompts.answer.format(evidence=format_evidence(evidence), question=question)
    return [{"role": "system", "content": prompts.system}, {"role": "user", "content": user}]
