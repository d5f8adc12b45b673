"""Search latency benchmark: warm p50 / p95 over an index, with the dev questions.

Usage: python benchmarks/search.py [INDEX_DIR] [QA.jsonl]
Defaults: the index in INDEX_DIR (.index) and eval/bbc_holdout.jsonl. Build a BBC index
first with `python -m bot ingest --corpus ../shared/corpora/bbc --index /tmp/bbc-index`.
Target: p50 <= 50 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import make_embedder
from bot.evaluation.scoring import load_qa, percentile
from bot.settings import Settings
from retrieval.search import Searcher, SearchRules
from retrieval.store import IndexStore

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3


def main() -> int:
    settings = Settings()
    index = Path(sys.argv[1]) if len(sys.argv) > 1 else settings.index_dir
    qa = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "eval" / "bbc_holdout.jsonl"
    questions = [item.question for item in load_qa(qa)]
    embedder = make_embedder(settings)
    with IndexStore(index) as store:
        searcher = Searcher(store, embedder, SearchRules(candidates=settings.search_candidates))
        for question in questions[:5]:  # warm-up: first calls pay one-off costs
            searcher.search(question)
        for mode in ("hybrid", "dense", "lexical"):
            millis = []
            for _ in range(ROUNDS):
                for question in questions:
                    started = time.perf_counter()
                    searcher.search(question, k=5, mode=mode)
                    millis.append((time.perf_counter() - started) * 1000)
            print(
                f"{mode:<8} {len(millis):4d} searches over {store.chunk_count()} chunks: "
                f"p50 {statistics.median(millis):6.1f} ms  p95 {percentile(millis, 95):6.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
