"""What cleaning must remove from each shipped seed article (everything else is article text)."""

from __future__ import annotations

from pathlib import Path

TEASER_START = "Hot this week"

# Lines of page furniture per file, as they appear in the raw file (stripped).
FURNITURE: dict[str, list[str]] = {
    "000_514cd35078f175e9.txt": [
        "Friday, 28 November 2025",
        "25.3 C", "Singapore", "16.7 C", "Thailand", "23.4 C", "Indonesia", "27.8 C", "Philippines",
        "View on Threads",
    ],
    "001_6c54959944bace02.txt": [],
    "002_2221671125f550ba.txt": [],
    "003_6340dca613459c69.txt": [],
    "004_d66de69f9eedc3bf.txt": [
        "*", "الاثنين: 15 ديسمبر 2025", "• 29 أيلول 2025", "• 13:16", "مواضيع قد تعجبك",
    ],
}  # fmt: skip

# Inline furniture removed from the start of a line.
INLINE_PREFIXES = ["date 2024-11-28 "]

EXPECTED_DATES = {
    "000_514cd35078f175e9.txt": "2025-11-28",
    "002_2221671125f550ba.txt": "2024-11-28",
    "004_d66de69f9eedc3bf.txt": "2025-09-29",
}


def split_raw(path: Path) -> tuple[list[str], list[str]]:
    """(article lines, furniture lines) of a raw seed file."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    furniture = list(FURNITURE[path.name])
    if TEASER_START in lines:
        cut = lines.index(TEASER_START)
        furniture += lines[cut:]
        lines = lines[:cut]
    article = []
    for line in lines:
        if line in furniture:
            continue
        for prefix in INLINE_PREFIXES:
            line = line.removeprefix(prefix)
        article.append(line)
    return article, furniture
