"""`python -m bot <command>`: the command-line front end.

Each command builds the settings once, opens what it needs, and turns the
bot's own errors into one readable line on stderr (exit code 2). Anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.settings import Settings
from retrieval.errors import BotError, CorpusError, IndexUnavailable
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


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the index holds, without loading any model."""
    if not (settings.index_dir / "articles.sqlite").exists():
        raise IndexUnavailable(
            f"No index in '{settings.index_dir}' yet. Run `python -m bot ingest` to build it "
            "(or pass --index DIR)."
        )
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
