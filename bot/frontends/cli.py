"""`python -m bot <command>`: the command-line front end.

Each command builds the settings once, opens what it needs, and turns the
bot's own errors into one readable line on stderr (exit code 2). Anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from pydantic import ValidationError

from bot.answering.confidence import ConfidenceModel, bundled_confidence
from bot.answering.conversation import Rewriter, remember
from bot.answering.conversation_store import NEW, load_turns, new_id, save_turns
from bot.answering.engine import Answer, Quote
from bot.answering.prompting import Prompts
from bot.answering.question import QuestionProblem, problem_of, too_long_message
from bot.app import (
    load_generator,
    open_app,
    open_communities,
    open_engine,
    open_library,
    open_searcher,
    open_store,
    require_index,
)
from bot.communities import for_guild_settings
from bot.errors import BotError, Hints, explained
from bot.evaluation.calibration import calibrate_follow_ups, calibrate_from_runs
from bot.evaluation.scoring import (
    FILL_IN,
    RECALL_AT,
    QAItem,
    expand_sets,
    format_answers,
    format_conversations,
    format_retrieval,
    read_qa,
    rules_with_gold_history,
    score_answers,
    score_conversations,
    score_retrieval,
)
from bot.feedback.followups import FollowUps
from bot.feedback.gaps import DEFAULT_DAYS, format_gaps, group_gaps, since
from bot.feedback.log import FEEDBACK_FILE, FeedbackLog
from bot.frontends.catalog_verbs import run_verb
from bot.frontends.console import print_answer, print_searching, run_console
from bot.frontends.feedback_report import append_lines, export_lines, read_existing
from bot.frontends.feeds_cli import add_feeds_parser
from bot.generation.model_files import resolve_model_path
from bot.library.adding import who_runs_this
from bot.library.syncing import require_corpus
from bot.settings import Settings, UnknownSettingWarning
from bot.terminal import printable, say_loading_embedding, sync_lines
from retrieval.errors import IndexInUse, KnownError, SyncRefused
from retrieval.search import MODES, Passage, Searcher, SearchResults
from retrieval.sync import SyncReport

EXIT_USAGE = 2
EXIT_NOTHING_NEW = 1  # `add`: the article is already indexed
WHOLE_BOT = ("discord", "model-path", "calibrate")  # about no one server's articles
HINTS: Hints = {  # the next step, in this front end's words (`bot.errors.explained`)
    SyncRefused: "If that is what you want, run it again with --force "
    "(`python -m bot ingest --force`).",
    IndexInUse: "Reload from the running bot (`/reload` in Discord or its console), or stop "
    "it first.",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every command takes --corpus and --index."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, metavar="DIR", help="article folder (CORPUS_DIR)")
    common.add_argument("--index", type=Path, metavar="DIR", help="index folder (INDEX_DIR)")
    common.add_argument(
        "--guild",
        type=int,
        metavar="ID",
        help="with CORPUS_PER_GUILD=true: work on this server's articles "
        "(CORPUS_DIR/ID/, INDEX_DIR/ID/)",
    )

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
        "Unchanged articles are skipped, changed ones replaced, deleted ones removed. A sync "
        "from another folder than the index's, or one removing more than half of its "
        "articles, is refused unless --force is given.",
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.add_argument(
        "--force",
        action="store_true",
        help="sync even from another folder than the index was built from, or when more "
        "than half of the indexed articles would be removed",
    )
    ingest.set_defaults(handler=cmd_ingest)

    add = commands.add_parser(
        "add",
        parents=[common],
        help="add an article file or web page to the corpus and index it (scripts, cron)",
        description="Copy a local file (.txt, .md, .html or .jsonl) or fetch a web page into "
        "the managed folder CORPUS_DIR/added/ as a Markdown file with front matter (title, "
        "url, date, added_by, added_at), then sync the index as ingest does. The same text or "
        "URL already indexed is not added again. Exit code 0: added; 1: nothing new (already "
        "have it); 2: refused or failed (the reason is on stderr).",
    )
    add.add_argument("target", metavar="PATH-or-URL", help="a file on this machine, or an address")
    add.add_argument(
        "--by", metavar="NAME", help="who adds it, for the front matter (your login name)"
    )
    add.set_defaults(handler=cmd_add)

    status = commands.add_parser("status", parents=[common], help="show what the index holds")
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=cmd_status)

    articles = commands.add_parser(
        "articles", parents=[common], help="list or find articles by title, with their sources"
    )
    articles.add_argument("words", nargs="*", help="only titles (or paths) with these words")
    articles.set_defaults(handler=cmd_catalog, verb="articles")
    for verb, what in (
        ("remove", "take an article out of the answers (an added one is deleted, any other "
         "hidden; its file is left alone)"),
        ("restore", "bring back an article `remove` hid"),
    ):  # fmt: skip
        catalog = commands.add_parser(verb, parents=[common], help=what, description=what)
        catalog.add_argument("words", nargs="+", metavar="TITLE-or-PATH")
        catalog.set_defaults(handler=cmd_catalog, verb=verb)

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

    ask = commands.add_parser(
        "ask",
        parents=[common],
        help="answer a question, quoting the articles (no question: one per line on stdin)",
        description="Answer from the articles with the local model. Every quote is verified "
        "against the stored article text. With no question, reads questions one per line from "
        "stdin and writes one JSON object per line (the model is loaded once).",
    )
    ask.add_argument("question", nargs="?", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.add_argument(
        "--conversation",
        metavar="ID",
        help="ask within a conversation kept in INDEX_DIR/conversations/ID.json, so a "
        "follow-up ('and when did he…') is read with its last turns; 'new' starts one with "
        'a fresh id (printed, and in the JSON as "conversation")',
    )
    ask.set_defaults(handler=cmd_ask)

    console = commands.add_parser(
        "console",
        parents=[common],
        help="interactive questions on the same engine as Discord",
        description="Ask questions interactively; questions form one conversation, so a "
        "follow-up is read with the last turns. Commands: /help, /status, /reload, /new "
        "(a fresh conversation), /quit.",
    )
    console.set_defaults(handler=cmd_console)

    discord_cmd = commands.add_parser(
        "discord",
        parents=[common],
        help="run the Discord bot (needs DISCORD_TOKEN)",
        description="Run the Discord bot: /ask, mentions, /reload (moderators) and /status. "
        "Set DISCORD_TOKEN in .env; see the README's Discord section.",
    )
    discord_cmd.set_defaults(handler=cmd_discord)

    model_path = commands.add_parser(
        "model-path",
        parents=[common],
        help="print the answer model's GGUF path (assembling the default model if needed)",
        description="For starting a shared model server: "
        '`python -m llama_cpp.server --model "$(python -m bot model-path)"`.',
    )
    model_path.set_defaults(handler=cmd_model_path)

    evaluate = commands.add_parser(
        "eval",
        parents=[common],
        help="score retrieval (and with --answers, answers) on QA .jsonl files",
        description="Recall@1/3/5, MRR and how well the relevance signal separates answerable "
        "from unanswerable questions, per search mode; with --answers, precision, accuracy "
        'and abstention (near misses, the unanswerables marked "changed", also on a row '
        "of their own) with 95 % intervals and the risk/coverage curve. Each file is "
        "reported on its own; a set name such as eval/bbc stands for eval/bbc_tune.jsonl "
        "and eval/bbc_holdout.jsonl.",
    )
    evaluate.add_argument("qa_files", type=Path, nargs="+", metavar="QA.jsonl")
    evaluate.add_argument(
        "--mode", choices=[*MODES, "all"], default="all", help="search mode(s) to score (all)"
    )
    evaluate.add_argument(
        "--answers", action="store_true", help="also ask every question and score the answers"
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(handler=cmd_eval)

    calibrate = commands.add_parser(
        "calibrate",
        parents=[common],
        help="fit the answer confidence on `eval --answers --json` runs of tune sets",
        description="Fit the logistic regression that turns the answer signals into one "
        "confidence, on the recorded runs of tune sets (run them with MIN_CONFIDENCE=0 so "
        "every candidate is recorded), and write its coefficients. Holdout runs given with "
        "--holdout are only scored, never fitted on.",
    )
    calibrate.add_argument("runs", type=Path, nargs="*", metavar="RUN.json")
    calibrate.add_argument(
        "--holdout", type=Path, nargs="*", default=[], metavar="RUN.json", help="runs to score"
    )
    calibrate.add_argument(
        "--follow-ups",
        type=Path,
        nargs="*",
        default=[],
        metavar="RUN.json",
        help="runs of the tune conversation sets: fit the follow-up offset on them (after "
        "the fit on RUN.json, or on the current file when no RUN.json is given)",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default: bot/confidence-<ANSWER_MODEL>.json)",
    )
    calibrate.add_argument("--l2", type=float, default=3.0, help="ridge penalty (3.0)")
    calibrate.set_defaults(handler=cmd_calibrate)

    feedback = commands.add_parser(
        "feedback",
        help="export the questions members rated 👎 as eval QA lines to fill in",
        description="Members' 👍 / 👎 votes and the bot's declines are logged in "
        "INDEX_DIR/feedback.sqlite. `feedback export FILE` appends the 👎-rated questions "
        "(and with --declines the declined ones) to FILE as eval QA lines of type "
        '"unreviewed": fill in "answers", then `python -m bot eval FILE --answers`.',
    )
    feedback_verbs = feedback.add_subparsers(dest="verb", required=True, metavar="VERB")
    export = feedback_verbs.add_parser(
        "export",
        parents=[common],
        help="append the 👎-rated questions to FILE (questions already in FILE are kept)",
    )
    export.add_argument("file", type=Path, metavar="FILE")
    export.add_argument(
        "--declines", action="store_true", help="also the questions the bot declined to answer"
    )
    export.add_argument(
        "--include-private",
        action="store_true",
        help="also questions only the asker saw (/ask private:True, direct messages, and "
        "questions logged before privacy was recorded); left out by default",
    )
    export.set_defaults(handler=cmd_feedback_export)
    gaps = commands.add_parser(
        "gaps",
        parents=[common],
        help="the most asked questions the articles did not answer, as /gaps shows them",
        description="Declined questions of the last days from INDEX_DIR/feedback.sqlite, "
        "grouped by near-duplicate wording, with how many members asked; questions only "
        "the asker saw are never listed.",
    )
    gaps.add_argument(
        "--days", type=_positive_days, default=DEFAULT_DAYS, metavar="N",
        help=f"how far back to look (default {DEFAULT_DAYS})",
    )  # fmt: skip
    gaps.add_argument("--json", action="store_true", help="one JSON object per gap")
    gaps.set_defaults(handler=cmd_gaps)
    add_feeds_parser(commands, common)
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    """Settings from env and .env, with command-line flags taking precedence."""
    overrides = {}
    if getattr(args, "corpus", None) is not None:
        overrides["corpus_dir"] = args.corpus
    if getattr(args, "index", None) is not None:
        overrides["index_dir"] = args.index
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownSettingWarning)
        settings = Settings(**overrides)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return settings


def corpus_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings a command runs with: with CORPUS_PER_GUILD, a command about articles
    works on the one server `--guild` names; `discord` serves them all."""
    guild = getattr(args, "guild", None)
    if args.command in WHOLE_BOT:
        if guild is not None:
            raise BotError(f"`{args.command}` takes no --guild: it serves every server.")
        return settings
    return for_guild_settings(settings, guild)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Sync the index with the corpus folder and print a summary."""
    require_corpus(settings)
    # the embedding model loads only if something changed
    announced = open_library(settings, on_load=say_loading_embedding)
    with announced as library, ProgressBar(enabled=not args.quiet) as bar:
        report = library.reload(bar.update, wait=True, on_wait=_say, force=args.force)
        totals = library.totals()
    if args.json:
        print(json.dumps(report_dict(report) | totals, indent=2))
        return 0
    print(format_report(report, settings, totals))
    if report.added or report.updated:
        _say_followups_wait(settings)
    return 0


def _say_followups_wait(settings: Settings) -> None:
    """The command line cannot reply in Discord: say when the open questions are asked."""
    followups = FollowUps(settings.index_dir)
    waiting = len(followups.open_questions()) if followups.path.exists() else 0
    if waiting:
        print(
            f"Open questions members asked to be told about: {waiting}. They are asked "
            "again against the new articles when the Discord bot next starts."
        )


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add one file or page and sync; the exit code tells a script what happened."""
    require_corpus(settings)
    added_by = args.by or who_runs_this("command line")
    # the model loads only if something is added
    with open_library(settings, on_load=say_loading_embedding) as library:
        report = library.add_target(args.target, added_by, wait=True)
    failed = bool(report.refused) and not report.added and not report.duplicates
    print("\n".join(map(printable, report.lines())), file=sys.stderr if failed else sys.stdout)
    if report.added:
        return 0
    return EXIT_NOTHING_NEW if report.duplicates else EXIT_USAGE


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def format_report(report: SyncReport, settings: Settings, totals: dict) -> str:
    """The human summary of a sync: skipped files with reasons, changes by name, counts, size."""
    lines = sync_lines(report)
    lines.append(
        f"Index {settings.index_dir} now holds {totals['articles']} articles "
        f"in {totals['chunks']} chunks."
    )
    return "\n".join(lines)


def report_dict(report: SyncReport) -> dict:
    """The sync report as JSON-ready data."""
    return {
        "added": report.added,
        "updated": report.updated,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "sentences_embedded": report.sentences_embedded,
        "repaired": report.repaired,
        "rebuilt": report.rebuilt,
        "seconds": round(report.seconds, 3),
    }


def cmd_catalog(args: argparse.Namespace, settings: Settings) -> int:
    """`articles`, `remove`, `restore`: the moderators' verbs, for operators and scripts."""
    require_index(settings)
    # the model loads only if a sync embeds
    with open_library(settings, on_load=say_loading_embedding) as library:
        print(run_verb(args.verb, " ".join(args.words), library, "command line", HINTS))
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Print the passages found for one question."""
    require_index(settings)
    with open_store(settings) as store:
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
        where = f"{printable(passage.source)}, chars {passage.start}-{passage.end}"
        print(f"\n{rank}. {printable(passage.title)}  [{where}]")
        print(f"   relevance {passage.relevance:.3f}")
        print(textwrap.indent(textwrap.fill(passage.text, 96), "   > "))
    return 0


def _passage_dict(passage: Passage) -> dict:
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
    """Score retrieval per search mode on each QA file, and with --answers the answers too."""
    qa_files = [read_qa(path) for path in expand_sets(args.qa_files)]
    for qa_file in qa_files:
        if qa_file.unfilled_note():
            _say(f"note: {qa_file.unfilled_note()}")
    sets = [(qa_file.path, qa_file.items) for qa_file in qa_files]
    reports: list[dict] = []
    if args.answers:
        with open_app(settings) as (engine, library):

            def quote_is_valid(quote: Quote) -> bool:
                article = library.article(quote.article_id)
                return article is not None and article.text[quote.start : quote.end] == quote.text

            for path, items in sets:
                report = {"qa_file": str(path), "questions": len(items)}
                report["retrieval"] = _score_modes(items, engine.searcher, args.mode, settings)
                if any(item.turns for item in items):
                    conversations = score_conversations(
                        items,
                        lambda question, history: engine.ask(question, history=history),
                        quote_is_valid,
                        settings.conversation_turns,
                    )
                    report["conversations"] = conversations
                    searched = [d["searched"] for d in conversations.followup.details]
                    report["retrieval"] += _conversation_retrieval(
                        items, searched, engine.searcher, args.mode, settings
                    )
                else:
                    report["answers"] = score_answers(items, engine.ask, quote_is_valid)
                reports.append(report)
    else:
        require_index(settings)
        with open_store(settings) as store:
            searcher = open_searcher(settings, store)
            for path, items in sets:
                retrieval = _score_modes(items, searcher, args.mode, settings)
                if any(item.turns for item in items):
                    rewrite = _model_rewrite(settings) if settings.rewrite == "model" else None
                    searched = [rules_with_gold_history(item, rewrite) for item in items]
                    retrieval += _conversation_retrieval(
                        items, searched, searcher, args.mode, settings
                    )
                reports.append(
                    {"qa_file": str(path), "questions": len(items), "retrieval": retrieval}
                )
    if args.json:
        for report in reports:
            report["retrieval"] = [s.as_dict() for s in report["retrieval"]]
            if "answers" in report:
                report["answers"] = report["answers"].as_dict()
            if "conversations" in report:
                report["conversations"] = report["conversations"].as_dict()
        print(json.dumps({"min_confidence": settings.min_confidence, "sets": reports}, indent=2))
        return 0
    for report in reports:
        print(f"\n{report['qa_file']}: {report['questions']} questions")
        print(format_retrieval(report["retrieval"]))
        for s in report["retrieval"]:
            if s.misses:
                print(
                    f"{s.mode}: no gold passage in the top {max(RECALL_AT)} for "
                    f"{', '.join(s.misses)}"
                )
        if "answers" in report:
            print(f"MIN_CONFIDENCE {settings.min_confidence}")
            print(format_answers(report["answers"]))
        if "conversations" in report:
            print(f"MIN_CONFIDENCE {settings.min_confidence}, REWRITE {settings.rewrite}")
            print(format_conversations(report["conversations"]))
    return 0


def _model_rewrite(settings: Settings):  # noqa: ANN202
    """REWRITE=model without --answers: the answer model rewrites follow-ups for the
    retrieval rows (each rewrite and its time logged to stderr), nothing else is asked."""
    generator = load_generator(settings)
    rewriter = Rewriter(
        "model", Prompts.load(settings.prompts_dir).rewrite, settings.rewrite_seconds
    )

    def rewrite(question: str, history: tuple) -> str:
        started = time.perf_counter()
        rewrite = rewriter.rewrite(question, history, generator)
        seconds = time.perf_counter() - started
        _say(f"rewrite {rewrite.how or '-'} {seconds:.1f} s: {question!r} -> {rewrite.read!r}")
        return rewrite.read

    return rewrite


def _conversation_retrieval(items, searched, searcher, mode: str, settings: Settings) -> list:  # noqa: ANN001
    """Retrieval of each follow-up as searched (rewritten) and in its standalone wording,
    beside the rows for it as typed."""
    from dataclasses import replace

    rows = []
    for label, questions in (
        ("searched", searched),
        ("standalone", [item.standalone or item.question for item in items]),
    ):
        asked = [replace(item, question=q) for item, q in zip(items, questions, strict=True)]
        for scores in _score_modes(asked, searcher, mode, settings):
            scores.mode = f"{scores.mode}:{label}"
            rows.append(scores)
    return rows


def cmd_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    """Append 👎-rated (and with --declines, declined) questions to a QA file to fill in."""
    log = FeedbackLog(settings.index_dir)
    if not log.path.exists():
        raise BotError(
            f"No feedback log in '{settings.index_dir}' ({FEEDBACK_FILE}) yet: it is written "
            "while the Discord bot answers. Pass --index DIR if it runs with another INDEX_DIR."
        )

    def logged(include_private: bool) -> list:
        downs = log.voted_down(include_private=include_private)
        return downs + (log.declined(include_private=include_private) if args.declines else [])

    existing = read_existing(args.file)
    items = logged(args.include_private)
    lines = export_lines(items, existing)
    append_lines(args.file, lines)
    kept = f" ({len(existing)} lines already there were kept)" if existing else ""
    print(f"Added {len(lines)} questions to {args.file}{kept}.")
    left_out = 0 if args.include_private else len(logged(True)) - len(items)
    if left_out:
        print(f"{left_out} private questions left out (--include-private adds them).")
    if lines:
        print(f"Next: for each new line, {FILL_IN}. Then run `python -m bot eval {args.file} "
              "--answers`.")  # fmt: skip
    return 0


def _positive_days(text: str) -> float:
    days = float(text)
    if not days > 0:
        raise argparse.ArgumentTypeError("must be a number of days above 0")
    return days


def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    """Print the most asked declined questions of the last `--days`, grouped (`gaps`)."""

    log = FeedbackLog(settings.index_dir)
    asked = log.declined_since(since(args.days)) if log.path.exists() else []
    gaps = group_gaps(asked)
    if args.json:
        for gap in gaps:
            print(json.dumps(asdict(gap), ensure_ascii=False))
        return 0
    for line in format_gaps(gaps, args.days, shown=len(gaps)).splitlines():
        print(printable(line))
    return 0


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    """Fit the confidence model on tune runs, then its follow-up offset on conversation
    runs; print the curves on tune and on any holdout."""
    if not args.runs and not args.follow_ups:
        raise BotError("Give tune runs (RUN.json) to fit, --follow-ups runs, or both.")
    target = args.out or bundled_confidence(settings.answer_model)
    if args.runs:
        # a holdout run of either kind is scored where it fits: the other finds nothing in it
        print(calibrate_from_runs(args.runs, args.holdout, target, args.l2, settings.answer_model))
    if args.follow_ups:
        model = ConfidenceModel.load(target, settings.answer_model)
        print(calibrate_follow_ups(args.follow_ups, args.holdout, model, target))
    elif args.runs:
        print("The follow-up offset is now 0: refit it with --follow-ups.")
    return 0


def _score_modes(
    items: Sequence[QAItem], searcher: Searcher, mode: str, settings: Settings
) -> list:

    def timed(mode: str) -> Callable[[str], tuple[SearchResults, float]]:
        def run(question: str) -> tuple[SearchResults, float]:
            started = time.perf_counter()
            results = searcher.search(question, k=max(RECALL_AT), mode=mode)
            return results, (time.perf_counter() - started) * 1000

        return run

    modes = MODES if mode == "all" else (mode,)
    return [score_retrieval(items, timed(m), m, settings.relevance_threshold) for m in modes]


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Answer one question, or every line of stdin (one JSON line each); with
    --conversation, each as a follow-up of the conversation's earlier turns.

    A question over MAX_QUESTION_CHARS is refused, as in Discord, rather than cut to
    its start and answered as if that were the question; stdin's undecodable bytes
    become U+FFFD rather than stopping every question after them.
    """
    if args.question is not None and _too_long(args.question):
        return EXIT_USAGE
    if args.question is None and isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    refused = False
    conversation = _Conversation(args.conversation, settings) if args.conversation else None
    with open_engine(settings) as engine:

        def ask(question: str) -> tuple[object, dict]:
            history = conversation.turns if conversation else ()
            answer = engine.ask(question, history=history)
            data = answer.as_dict()
            if conversation is not None:
                conversation.add(question, answer)
                data["conversation"] = conversation.id
            return answer, data

        if args.question is not None:
            answer, data = ask(args.question)
            if args.json:
                print(json.dumps(data, ensure_ascii=False, indent=2))
                return 0
            print_searching(answer)
            print_answer(answer)
            if conversation is not None:
                _say(f"(conversation {conversation.id})")
            return 0
        for line in sys.stdin:
            if not line.strip():
                continue
            if _too_long(line.strip()):
                refused = True
                continue
            print(json.dumps(ask(line.strip())[1], ensure_ascii=False), flush=True)
    return EXIT_USAGE if refused else 0


def _too_long(question: str) -> bool:
    """True, having said so on stderr, when `question` is over MAX_QUESTION_CHARS."""
    if problem_of(question) is not QuestionProblem.TOO_LONG:
        return False
    print(f"error: {too_long_message(question)} ({question[:60]}…)", file=sys.stderr)
    return True


class _Conversation:
    """An `ask --conversation` conversation: its turns read once, each answer saved."""

    def __init__(self, conversation_id: str, settings: Settings) -> None:
        self.index_dir = settings.index_dir
        self.limit = settings.conversation_turns
        self.id = new_id() if conversation_id == NEW else conversation_id
        self.turns = load_turns(self.index_dir, self.id)[-self.limit :] if self.limit else ()

    def add(self, question: str, answer: Answer) -> None:
        self.turns = remember(self.turns, answer.as_turn(question), self.limit)
        save_turns(self.index_dir, self.id, self.turns)


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    """Run the interactive console."""
    return run_console(settings)


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Discord bot until stopped.

    discord.py is imported here alone: loading it costs every other command a second of
    start-up on a busy 2-core machine (`python -X importtime`), for nothing they use."""
    import asyncio
    import logging

    import discord

    from bot.frontends.discord.client import check_login, require_token, run_bot

    discord.utils.setup_logging(level=logging.INFO)
    token = require_token(settings)  # before loading the models: fail fast
    asyncio.run(check_login(token))
    with open_communities(settings) as communities:  # one corpus, or one per server
        try:
            asyncio.run(run_bot(communities, settings))
        except KeyboardInterrupt:
            pass
    return 0


def cmd_model_path(args: argparse.Namespace, settings: Settings) -> int:
    """Print the local GGUF the settings name (the default one is assembled and checked)."""
    print(resolve_model_path(settings.model_path, settings.model_cache_dir, settings.answer_model))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the index holds, without loading any model."""
    require_index(settings)
    with open_library(settings, embedding=False) as library:
        info = library.status().as_dict()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            shown = printable(str(value)) if value is not None else "-"
            print(f"{key.replace('_', ' '):<{width}}  {shown}")
    return 0


class ProgressBar:
    """A tqdm bar over articles being indexed; silent when disabled or not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> ProgressBar:
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
        return args.handler(args, corpus_settings(args, settings))
    except KnownError as error:
        print(f"error: {explained(error, HINTS)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrupted; the index keeps every article written so far.", file=sys.stderr)
        return 130
