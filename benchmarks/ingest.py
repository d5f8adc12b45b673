"""Ingest benchmark: this project's cold ingest against the naive recipe, in one run.

Usage: python benchmarks/ingest.py [CORPUS_DIR] [--only project|naive]
       (default corpus ../shared/corpora/bbc)

Each side runs in its own process (so each peak RSS is its own), one after the
other on the same machine, from loading the embedding model to the last vector
written into Chroma in a temp folder:

- project: with the settings' EMBEDDING_BACKEND (by default ONNX Runtime, and bf16
  for its 1,024-sentence batches on a CPU with Intel AMX; the one-time ONNX export
  is made before the timing starts),
  `sync_corpus` (clean, split into sentences and chunks, embed each
  sentence once, store), then an unchanged re-sync (target: at most 2 s);
- naive: the stock LangChain-style recipe, written out here so nothing extra is
  installed: read every file raw, split it recursively into 1,000-character
  chunks overlapping by 200, embed them with the same model and batch size, and
  add them to Chroma.

Prints both wall times, both peak RSS figures and the ratio (target <= 0.6).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import make_embedder
from bot.settings import Settings
from retrieval.embedding import Embedder

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc"
NAIVE_SIZE, NAIVE_OVERLAP = 1000, 200
NAIVE_SEPARATORS = ("\n\n", "\n", " ", "")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def recursive_split(text: str, separators: tuple[str, ...] = NAIVE_SEPARATORS) -> list[str]:
    """Recursive character splitting as the stock recipe does it: split on the first
    separator present, merge pieces up to NAIVE_SIZE characters with NAIVE_OVERLAP carried
    over, and split a piece that is still too long with the next separator."""
    separator = next((s for s in separators if s == "" or s in text), "")
    finer = separators[separators.index(separator) + 1 :]
    pieces = list(text) if separator == "" else text.split(separator)
    chunks: list[str] = []
    short: list[str] = []
    for piece in pieces:
        if len(piece) <= NAIVE_SIZE:
            short.append(piece)
            continue
        chunks += _merge(short, separator)
        short = []
        chunks += recursive_split(piece, finer) if finer else [piece]
    return chunks + _merge(short, separator)


def _merge(pieces: list[str], separator: str) -> list[str]:
    chunks: list[str] = []
    window: list[str] = []
    for piece in pieces:
        if window and len(separator.join([*window, piece])) > NAIVE_SIZE:
            chunks.append(separator.join(window))
            while window and (
                len(separator.join(window)) > NAIVE_OVERLAP
                or len(separator.join([*window, piece])) > NAIVE_SIZE
            ):
                window.pop(0)
        window.append(piece)
    if window:
        chunks.append(separator.join(window))
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def run_project(corpus: Path, settings: Settings) -> dict:
    from retrieval.store import IndexStore
    from retrieval.sync import sync_corpus

    started = time.perf_counter()
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory() as tmp, IndexStore(Path(tmp)) as store:

        def sync():
            return sync_corpus(
                corpus, store, embedder,
                chunk_words=settings.chunk_words,
                chunk_overlap_words=settings.chunk_overlap_words,
                max_article_bytes=settings.max_article_bytes,
            )  # fmt: skip

        cold = sync()
        wall = time.perf_counter() - started
        warm = sync()
        assert warm.sentences_embedded == 0, "an unchanged corpus must embed nothing"
        return {
            "wall": wall,
            "rss": peak_rss_mb(),
            "articles": store.article_count(),
            "skipped": len(cold.skipped),
            "embedded": store.sentence_count(),
            "unit": "sentences",
            "passages": store.chunk_count(),
            "unchanged": warm.seconds,
            "backend": embedder.running,
        }


def run_naive(corpus: Path, settings: Settings) -> dict:
    import chromadb
    import numpy as np

    started = time.perf_counter()
    # The stock recipe runs sentence-transformers under torch.
    embedder = Embedder(settings.embedding_model_path, settings.embed_batch_size, backend="torch")
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith("."))
    chunks = [c for p in files for c in recursive_split(p.read_text(errors="replace"))]
    vectors = embedder.embed(chunks)
    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(path=tmp)
        collection = client.create_collection("naive", metadata={"hnsw:space": "cosine"})
        size = client.get_max_batch_size()
        for at in range(0, len(chunks), size):
            collection.add(
                ids=[str(i) for i in range(at, min(at + size, len(chunks)))],
                embeddings=np.asarray(vectors[at : at + size], dtype=np.float32),
                documents=chunks[at : at + size],
            )
        wall = time.perf_counter() - started
    return {"wall": wall, "rss": peak_rss_mb(), "articles": len(files), "embedded": len(chunks),
            "unit": "chunks", "backend": embedder.running}  # fmt: skip


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only in args:
        args.remove(only)
    corpus = Path(args[0] if args else os.environ.get("BENCH_CORPUS", DEFAULT_CORPUS))
    if not corpus.is_dir():
        print(f"No corpus at {corpus}; pass a folder of articles.", file=sys.stderr)
        return 2
    settings = Settings(corpus_dir=corpus)
    if only:  # one side, in this process: print its figures as JSON for the parent
        side = run_project if only == "project" else run_naive
        print(json.dumps(side(corpus, settings)))
        return 0
    make_embedder(settings).embed(["warm"])  # a first-ever ONNX export is not ingest time
    results = {}
    for side in ("project", "naive"):
        done = subprocess.run(
            [sys.executable, __file__, str(corpus), "--only", side],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            print(f"The {side} run failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        results[side] = json.loads(done.stdout.strip().splitlines()[-1])
    project, naive = results["project"], results["naive"]
    print(f"corpus                 {corpus} ({project['articles']} articles)")
    print(f"{'':22} {'project':>10} {'naive':>10}")
    print(f"{'vectors written':22} {project['embedded']:>10} {naive['embedded']:>10}"
          f"   ({project['unit']} / {naive['unit']})")  # fmt: skip
    print(f"{'embedding backend':22} {project['backend']:>10} {naive['backend']:>10}")
    print(f"{'cold ingest wall (s)':22} {project['wall']:>10.1f} {naive['wall']:>10.1f}")
    print(f"{'peak RSS (MB)':22} {project['rss']:>10.0f} {naive['rss']:>10.0f}")
    print(f"ratio project / naive  {project['wall'] / naive['wall']:.2f}   (target <= 0.6)")
    print(f"passages for search    {project['passages']} (windows of whole sentences)")
    print(f"unchanged re-sync      {project['unchanged']:.2f} s   (target <= 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
