"""Many plausible, distinct articles for reload tests (seeded, so runs repeat)."""

from __future__ import annotations

import random
from pathlib import Path

_WORDS = (
    "council harbour budget river festival school railway museum bridge market library "
    "election hospital stadium orchestra farmers bakery ferry tunnel garden airport "
    "committee mayor engineers volunteers residents teachers drivers nurses students "
    "approved delayed announced opened repaired expanded funded visited praised rejected "
    "north south coastal historic annual regional local national temporary modern"
).split()


def write_articles(folder: Path, count: int, words_each: int = 500, seed: int = 7) -> list[str]:
    """Write `count` articles of about `words_each` words; returns their file names."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number in range(count):
        sentences, total = [], 0
        while total < words_each:
            length = rng.randint(8, 18)
            words = [rng.choice(_WORDS) for _ in range(length)]
            sentences.append(" ".join(words).capitalize() + f" in district {number}.")
            total += length + 3
        name = f"generated-{number:03d}.txt"
        title = f"Report {number} on the {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        (folder / name).write_text(title + "\n\n" + " ".join(sentences) + "\n", encoding="utf-8")
        names.append(name)
    return names
