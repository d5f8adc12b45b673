"""Ingest benchmark: cold ingest of a corpus into a temp index, then an unchanged re-sync.

Usage: python benchmarks/ingest.py [CORPUS_DIR]   (default ../shared/corpora/bbc)

Prints articles, chunks, seconds, chunks per second, the share of time spent
embedding (the target is that everything else is a small fraction), peak RSS,
and the unchanged re-sync time (target: at most 2 s).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.settings import Settings  # noqa: E402
from retrieval.embedding import Embedder  # noqa: E402
from retrieval.store import IndexStore  # noqa: E402
from retrieval.sync import sync_corpus  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc"


class TimedEmbedder(Embedder):
    """The real embedder, counting the seconds spent inside the model."""

    seconds = 0.0

    def embed(self, texts):  # noqa: ANN001, ANN201
        started = time.perf_counter()
        try:
            return super().embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    corpus = Path(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_CORPUS", DEFAULT_CORPUS)
    )
    if not corpus.is_dir():
        print(f"No corpus at {corpus}; pass a folder of articles.", file=sys.stderr)
        return 2
    settings = Settings(corpus_dir=corpus)
    started = time.perf_counter()
    embedder = TimedEmbedder(settings.embedding_model_path, settings.embed_batch_size)
    print(f"model load            {time.perf_counter() - started:8.2f} s")

    with tempfile.TemporaryDirectory() as tmp, IndexStore(Path(tmp)) as store:

        def sync():  # noqa: ANN202
            return sync_corpus(
                corpus,
                store,
                embedder,
                chunk_words=settings.chunk_words,
                chunk_overlap_words=settings.chunk_overlap_words,
                max_article_bytes=settings.max_article_bytes,
            )

        cold = sync()
        chunks = store.chunk_count()
        print(f"corpus                {corpus}")
        print(f"articles              {store.article_count():8d}   (skipped {len(cold.skipped)})")
        print(f"chunks                {chunks:8d}")
        print(f"cold ingest           {cold.seconds:8.2f} s")
        print(f"chunks per second     {chunks / cold.seconds:8.1f}")
        share = embedder.seconds / cold.seconds
        print(f"embedding share       {share:8.1%}   ({embedder.seconds:.2f} s in the model)")
        print(f"peak RSS              {peak_rss_mb():8.0f} MB")

        embedder.seconds = 0.0
        warm = sync()
        assert warm.sentences_embedded == 0, "an unchanged corpus must embed nothing"
        print(f"unchanged re-sync     {warm.seconds:8.2f} s   (target <= 2 s)")
        for skip in cold.skipped:
            print(f"  skipped {skip.path}: {skip.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
