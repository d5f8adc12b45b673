"""`python -m bot <command>`: the command-line front end.

Each command builds the settings once, opens what it needs, and turns the
bot's own errors into one readable line on stderr (exit code 2). Anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.evaluation import RECALL_AT
from bot.settings import Settings
from retrieval.errors import BotError, CorpusError, IndexUnavailable
from retrieval.search import MODES
from retrieval.store import IndexStore

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every command takes --corpus and --index."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, metavar="DIR", help="article folder (CORPUS_DIR)")
    common.add_argument("--index", type=Path, metavar="DIR", help="index folder (INDEX_DIR)")

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer questions from your own articles, quoting them verbatim.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest",
        parents=[common],
        help="index the corpus folder (only new and changed articles are embedded)",
        description="Clean, chunk and embed the articles in the corpus folder into the index. "
        "Unchanged articles are skipped, changed ones replaced, deleted ones removed.",
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.set_defaults(handler=cmd_ingest)

    status = commands.add_parser("status", parents=[common], help="show what the index holds")
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=cmd_status)

    search = commands.add_parser(
        "search",
        parents=[common],
        help="show the passages retrieval finds for a question",
        description="Hybrid search (dense + BM25, fused and de-duplicated) over the index.",
    )
    search.add_argument("question", help="the question, in quotes")
    search.add_argument("-k", type=int, default=5, metavar="N", help="passages to show (5)")
    search.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval to use")
    search.add_argument("--json", action="store_true", help="print a JSON list")
    search.set_defaults(handler=cmd_search)

    evaluate = commands.add_parser(
        "eval",
        parents=[common],
        help="score retrieval on a QA .jsonl file",
        description="Recall@1/3/5, MRR and how well the relevance signal separates answerable "
        "from unanswerable questions, per search mode.",
    )
    evaluate.add_argument("qa_file", type=Path, metavar="QA.jsonl")
    evaluate.add_argument(
        "--mode", choices=[*MODES, "all"], default="all", help="search mode(s) to score (all)"
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(handler=cmd_eval)
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    """Settings from env and .env, with command-line flags taking precedence."""
    overrides = {}
    if getattr(args, "corpus", None) is not None:
        overrides["corpus_dir"] = args.corpus
    if getattr(args, "index", None) is not None:
        overrides["index_dir"] = args.index
    return Settings(**overrides)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Sync the index with the corpus folder and print a summary."""
    from retrieval.embedding import Embedder
    from retrieval.sync import sync_corpus

    if not settings.corpus_dir.is_dir():  # checked before the slow model load
        raise CorpusError(
            f"Corpus folder '{settings.corpus_dir}' does not exist. Put your articles in a "
            "folder and pass --corpus DIR (or set CORPUS_DIR in .env)."
        )
    print("Loading the embedding model…", file=sys.stderr)
    embedder = Embedder(settings.embedding_model_path, settings.embed_batch_size)
    with IndexStore(settings.index_dir) as store, _ProgressBar(enabled=not args.quiet) as bar:
        report = sync_corpus(
            settings.corpus_dir,
            store,
            embedder,
            chunk_words=settings.chunk_words,
            chunk_overlap_words=settings.chunk_overlap_words,
            max_article_bytes=settings.max_article_bytes,
            on_progress=bar.update,
        )
        totals = {"articles": store.article_count(), "chunks": store.chunk_count()}
    if args.json:
        print(json.dumps(_report_dict(report) | totals, indent=2))
        return 0
    for skip in report.skipped:
        print(f"  skipped {skip.path}: {skip.reason}")
    print(report.summary())
    print(
        f"Index {settings.index_dir} now holds {totals['articles']} articles "
        f"in {totals['chunks']} chunks."
    )
    return 0


def _report_dict(report) -> dict:  # noqa: ANN001 - SyncReport, imported lazily
    return {
        "added": report.added,
        "updated": report.updated,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "chunks_embedded": report.chunks_written,
        "rebuilt": report.rebuilt,
        "seconds": round(report.seconds, 3),
    }


def open_searcher(settings: Settings, store: IndexStore):  # noqa: ANN201 - Searcher
    """Load the embedding model the index was built with and wrap the store for search."""
    from retrieval.embedding import Embedder
    from retrieval.search import Searcher

    if store.article_count() == 0:
        raise IndexUnavailable(
            f"The index in '{settings.index_dir}' is empty. Run `python -m bot ingest` first."
        )
    embedder = Embedder(settings.embedding_model_path, settings.embed_batch_size)
    built_with = (store.config() or {}).get("embedding_model")
    if built_with != embedder.name:
        raise IndexUnavailable(
            f"The index was built with embedding model '{built_with}' but the settings name "
            f"'{embedder.name}'. Run `python -m bot ingest` to rebuild it."
        )
    return Searcher(store, embedder, candidates=settings.search_candidates)


def _require_index(settings: Settings) -> None:
    if not (settings.index_dir / "articles.sqlite").exists():
        raise IndexUnavailable(
            f"No index in '{settings.index_dir}' yet. Run `python -m bot ingest` to build it "
            "(or pass --index DIR)."
        )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Print the passages found for one question."""
    _require_index(settings)
    with IndexStore(settings.index_dir) as store:
        results = open_searcher(settings, store).search(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(
            json.dumps([_passage_dict(p) for p in results.passages], indent=2, ensure_ascii=False)
        )
        return 0
    if not results.passages:
        print("Nothing found.")
        return 0
    verdict = "relevant" if results.relevance >= settings.relevance_threshold else "weak"
    print(
        f"relevance {results.relevance:.3f} ({verdict}; threshold {settings.relevance_threshold})"
    )
    for rank, passage in enumerate(results.passages, start=1):
        print(f"\n{rank}. {passage.title}  [{passage.source}, chars {passage.start}-{passage.end}]")
        print(f"   relevance {passage.relevance:.3f}")
        print(textwrap.indent(textwrap.fill(passage.text, 96), "   > "))
    return 0


def _passage_dict(passage) -> dict:  # noqa: ANN001 - Passage
    return {
        "article_id": passage.article_id,
        "title": passage.title,
        "source": passage.source,
        "text": passage.text,
        "start": passage.start,
        "end": passage.end,
        "score": round(passage.score, 6),
        "relevance": passage.relevance,
    }


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Score retrieval on a QA file, per search mode."""
    from bot.evaluation import format_retrieval, load_qa, score_retrieval

    items = load_qa(args.qa_file)
    _require_index(settings)
    modes = MODES if args.mode == "all" else (args.mode,)
    with IndexStore(settings.index_dir) as store:
        searcher = open_searcher(settings, store)

        def timed(mode: str):  # noqa: ANN202
            def run(question: str):  # noqa: ANN202
                started = time.perf_counter()
                results = searcher.search(question, k=max(RECALL_AT), mode=mode)
                return results, (time.perf_counter() - started) * 1000

            return run

        scores = [
            score_retrieval(items, timed(mode), mode, settings.relevance_threshold)
            for mode in modes
        ]
    if args.json:
        print(
            json.dumps(
                {"qa_file": str(args.qa_file), "retrieval": [s.as_dict() for s in scores]}, indent=2
            )
        )
    else:
        print(f"{args.qa_file}: {len(items)} questions")
        print(format_retrieval(scores))
        for s in scores:
            if s.misses:
                missed = ", ".join(s.misses)
                print(f"{s.mode}: no gold passage in the top {max(RECALL_AT)} for {missed}")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the index holds, without loading any model."""
    _require_index(settings)
    with IndexStore(settings.index_dir) as store:
        config = store.config() or {}
        info = {
            "index_dir": str(settings.index_dir),
            "corpus_dir": str(settings.corpus_dir),
            "articles": store.article_count(),
            "chunks": store.chunk_count(),
            "embedding_model": config.get("embedding_model"),
            "chunk_words": config.get("chunk_words"),
            "chunk_overlap_words": config.get("chunk_overlap_words"),
            "last_sync": store.get_meta("last_sync"),
        }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            print(f"{key.replace('_', ' '):<{width}}  {value if value is not None else '-'}")
    return 0


class _ProgressBar:
    """A tqdm bar over articles being indexed; silent when disabled or not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> _ProgressBar:
        return self

    def update(self, done: int, total: int) -> None:
        """Move the bar to `done` of `total` articles."""
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="article", desc="Indexing", file=sys.stderr)
        self._bar.update(done - self._bar.n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])).upper() or 'settings'}: {e['msg']}"
            for e in error.errors()
        )
        print(
            f"error: invalid settings ({problems}). Check .env or the environment.", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        return args.handler(args, settings)
    except BotError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrupted; the index keeps every article written so far.", file=sys.stderr)
        return 130
