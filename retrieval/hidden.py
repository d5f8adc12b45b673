"""Articles a moderator hid: a small list kept in the index folder, honoured by every sync.

Hiding takes an article the operator put in the corpus folder out of the answers
without touching the operator's file: the list names it (by article id) and every
sync leaves it out, as if the file were not there. Removing the entry brings the
article back on the next sync. The list is `hidden.json` in `INDEX_DIR`, replaced
atomically (write a temporary file, then rename), so a crash leaves the old list or
the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.errors import IndexUnavailable
from retrieval.loading import Scan

HIDDEN_FILE = "hidden.json"


@dataclass(frozen=True)
class HiddenArticle:
    """One hidden article: its id (what the sync leaves out), and what to show people."""

    article_id: str
    path: str
    title: str
    hidden_by: str
    hidden_at: str


def hidden_path(index_dir: Path) -> Path:
    """Where the hidden list of an index is kept."""
    return index_dir / HIDDEN_FILE


def load_hidden(index_dir: Path) -> list[HiddenArticle]:
    """The hidden list (empty when there is none); a damaged list is an error, never 'empty',
    since reading it as empty would bring every hidden article back."""
    path = hidden_path(index_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise IndexUnavailable(
            f"Cannot read the hidden-articles list {path}: {error.strerror or error}. "
            "Check its permissions."
        ) from error
    try:
        return [HiddenArticle(**entry) for entry in json.loads(raw)["hidden"]]
    except (ValueError, KeyError, TypeError) as error:
        raise IndexUnavailable(
            f"The hidden-articles list {path} is damaged ({type(error).__name__}: {error}). "
            "Fix it by hand (it is JSON), or delete it to show every hidden article again."
        ) from error


def save_hidden(index_dir: Path, entries: list[HiddenArticle]) -> None:
    """Replace the hidden list atomically, sorted by title so the file reads well."""
    index_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(entries, key=lambda entry: (entry.title.lower(), entry.article_id))
    text = json.dumps({"hidden": [asdict(entry) for entry in ordered]}, indent=2) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=".hidden-", suffix=".json", dir=index_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, hidden_path(index_dir))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def without_hidden(scan: Scan, hidden_ids: frozenset[str]) -> Scan:
    """The scan minus the hidden articles: to the sync they are files that are not there."""
    if not hidden_ids:
        return scan
    kept = [source for source in scan.sources if source.article_id not in hidden_ids]
    return Scan(kept, scan.skipped, scan.unreadable_paths, scan.refused_paths)


def hidden_ids(index_dir: Path) -> frozenset[str]:
    """The ids every sync of this index leaves out."""
    return frozenset(entry.article_id for entry in load_hidden(index_dir))


def hidden_status(index_dir: Path, named: int = 5) -> str:
    """For `status`: 'none', or how many articles are hidden with the first few named
    (a damaged list says so, with the fix, rather than failing the whole status)."""
    try:
        entries = load_hidden(index_dir)
    except IndexUnavailable as error:
        return str(error)
    if not entries:
        return "none"
    names = ", ".join(f"{entry.title} ({entry.path})" for entry in entries[:named])
    more = f" and {len(entries) - named} more" if len(entries) > named else ""
    return f"{len(entries)}: {names}{more}"
