"""Articles moderators manage from Discord: where they are written in the corpus folder.

The corpus folder stays the single source of truth. Articles added through `/add`
(or `python -m bot add`) are ordinary files in `ADDED_FOLDER` inside `CORPUS_DIR`,
with front matter saying where they came from, so the folder can be backed up,
edited by hand and rebuilt. Files elsewhere in the folder belong to the operator.
"""

from __future__ import annotations

from pathlib import Path

ADDED_FOLDER = "added"  # inside CORPUS_DIR


def added_folder(corpus_dir: Path) -> Path:
    """The folder articles added through Discord or `bot add` are written to."""
    return corpus_dir / ADDED_FOLDER


def is_added(relative_path: str) -> bool:
    """Whether an article (by its path relative to the corpus folder) was added through
    Discord or `bot add`, rather than put in the folder by the operator."""
    return Path(relative_path).parts[:1] == (ADDED_FOLDER,)
