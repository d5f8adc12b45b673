"""Article titles and file names, made safe to print on an operator's terminal.

Titles come from anyone who can write an article, a feed or a web page, and file names
from anyone who can write to the corpus folder. Printed raw, an escape sequence drives
the terminal (OSC 52 writes the clipboard, CSI clears the screen), a line break forges
a line of a summary, and a right-to-left override shows "fake\u202egnp.md" as
"fakedm.png". The console and the CLI pass every title and file name through
`printable`.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.sync import SyncReport

# C0 controls but the tab, DEL, C1 controls, and the bidi marks, embeddings, overrides
# and isolates.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with each control or bidi character shown as its escape (\\x1b, \\n, \\u202e)."""
    return _UNSAFE.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def sync_lines(report: SyncReport) -> list[str]:
    """A sync's skipped files with their reasons, its changes by name, then its summary."""
    lines = [f"  skipped {skip.path}: {skip.reason}" for skip in report.skipped]
    lines += [f"  {change}" for change in report.changes()]
    return [*map(printable, lines), report.summary()]


def say_loading_embedding() -> None:
    """Tell the operator why a command pauses: the embedding model loads only when needed."""
    print("Loading the embedding model…", file=sys.stderr)
