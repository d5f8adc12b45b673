"""Conversations kept between `python -m bot ask --conversation ID` runs.

A script asks one question per process; to ask a follow-up it names the
conversation, and its last turns are read from a small JSON file in
INDEX_DIR/conversations/. The files are bounded (the last few turns, each field
cut short, a size cap on reading, the oldest files pruned past a count), written
atomically with owner-only permissions, and never read through a symlink, so an id
cannot reach outside that folder nor a file grow without end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.answering.conversation import MAX_TURNS, Turn
from bot.errors import BotError

FOLDER = "conversations"
NEW = "new"  # `--conversation new` starts one with a fresh id
MAX_FILE_BYTES = 32_768
MAX_FILES = 500
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def new_id() -> str:
    """A fresh conversation id, hard to guess."""
    return secrets.token_hex(6)


def conversation_path(index_dir: Path, conversation_id: str) -> Path:
    """The file of one conversation; an id that is not a plain name is refused."""
    if not _ID.fullmatch(conversation_id):
        raise BotError(
            f"'{conversation_id}' is not a conversation id: use 1-64 letters, digits, '-' "
            f"or '_' (starting with a letter or digit), or '{NEW}' for a fresh one."
        )
    return index_dir / FOLDER / f"{conversation_id}.json"


def load_turns(index_dir: Path, conversation_id: str) -> tuple[Turn, ...]:
    """The conversation's last turns; none when it does not exist yet."""
    path = conversation_path(index_dir, conversation_id)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return ()
    except OSError as error:
        raise BotError(f"Cannot read the conversation file {path} ({error.strerror}).") from error
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    try:
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError("too large")
        data = json.loads(raw.decode("utf-8"))
        turns = tuple(Turn.from_dict(item) for item in data["turns"] if isinstance(item, dict))
    except (ValueError, KeyError, TypeError) as error:
        raise BotError(
            f"The conversation file {path} is damaged ({error}); delete it or start another "
            f"conversation (--conversation {NEW})."
        ) from error
    return turns[-MAX_TURNS:]


def save_turns(index_dir: Path, conversation_id: str, turns: Sequence[Turn]) -> Path:
    """Write the conversation's last turns atomically, owner-only; prune old files."""
    path = conversation_path(index_dir, conversation_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = {"id": conversation_id, "turns": [turn.as_dict() for turn in turns[-MAX_TURNS:]]}
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
        os.replace(temporary, path)  # replaces a symlink itself, never its target
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _prune(path.parent, keep=path)
    return path


def _prune(folder: Path, keep: Path, limit: int | None = None) -> None:
    """Delete the least recently used conversations past `limit` (MAX_FILES)."""
    limit = MAX_FILES if limit is None else limit
    files = [p for p in folder.glob("*.json") if p.is_file() and not p.is_symlink()]
    if len(files) <= limit:
        return
    files.sort(key=lambda p: p.stat().st_mtime)
    for old in files[: len(files) - limit]:
        if old != keep:
            old.unlink(missing_ok=True)
