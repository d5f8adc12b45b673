"""`python -m bot console`: ask questions in a terminal, on the same engine as Discord.

A thin adapter: it reads a line, calls `Engine.ask`, and prints the answer and
its quotes. Questions form one conversation (its last turns are context for a
follow-up) until /new. Commands start with a slash: /help, /status, /reload, /new,
/quit, and the moderator verbs /add (`bot.library.adding`), /articles, /remove and /restore
(`bot.library.catalog`).
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.answering.conversation import MAX_TURNS, Turn, remember
from bot.answering.engine import Answer, Engine, Quote
from bot.app import open_app
from bot.errors import Hints, explained
from bot.frontends.catalog_verbs import VERBS, run_verb
from bot.library.adding import who_runs_this
from bot.library.collection import Library
from bot.settings import Settings
from bot.terminal import printable, sync_lines
from retrieval.errors import KnownError, SyncRefused

if TYPE_CHECKING:
    from types import ModuleType

HINTS: Hints = {  # the next step, in the console's words (`bot.errors.explained`)
    SyncRefused: "If that is what you want, run `/reload --force`.",
}

HELP = """Ask any question about the articles. Every answer quotes the article text it rests on.
Commands:
  /help     this help
  /new      start a new conversation: until then a follow-up ("and when did he…")
            is read with the last questions and answers
  /status   what the index holds
  /reload   re-sync the corpus folder (only new and changed articles are embedded);
            /reload --force also syncs from another folder or removes most articles
  /add PATH-or-URL
            copy an article file (.txt, .md, .html, .jsonl) or fetch a web page into the
            corpus folder's added/ and index it
  /articles [words]       list or find articles by title, with their sources
  /remove TITLE-or-PATH   take an article out of the answers: one added through Discord
                          is deleted, any other is hidden (its file is left alone)
  /restore TITLE-or-PATH  bring a hidden article back
  /quit     leave (Ctrl-D works too)"""
_WIDTH = 96
CHECKING = "Checking this passage:"
SEARCHING = "Searching for:"
NEW_CONVERSATION = "New conversation: the next question starts from nothing."


@dataclass
class Session:
    """What the console remembers between lines: the conversation's last turns."""

    turns: tuple[Turn, ...] = ()
    limit: int = MAX_TURNS


def print_searching(answer: Answer, out: TextIO = sys.stdout) -> None:
    """How a follow-up was read, when it was rewritten to stand alone."""
    if answer.rewritten:
        print(f"{SEARCHING} {printable(answer.standalone)}", file=out)


_HISTORY_FILE = ".console_history"


def print_answer(answer: Answer, out: TextIO = sys.stdout) -> None:
    """The answer, then each quote with its article title and source.

    When the engine abstained, the closest passage is shown as related, not as an answer.
    """
    print(_fill(answer.answer, _WIDTH), file=out)
    for quote in answer.quotes:
        _print_quote(quote, out)
    if answer.related is not None:
        _print_quote(answer.related, out)
        print("      (related, not an answer)", file=out)
    elif answer.abstained and answer.closest:
        print("Closest articles:", file=out)
        for title in answer.closest:
            print(f"  - {printable(title)}", file=out)


def print_checking(passage: Quote, out: TextIO = sys.stdout) -> None:
    """The verified passage the model is about to read, shown before its answer."""
    print(CHECKING, file=out)
    _print_quote(passage, out)
    print(file=out)


def _print_quote(quote: Quote, out: TextIO) -> None:
    print(file=out)
    print(textwrap.indent(_fill(f"“{quote.text}”", _WIDTH - 4), "    "), file=out)
    where = quote.title if quote.source == quote.title else f"{quote.title} ({quote.source})"
    print(f"      — {printable(where)}", file=out)


def _fill(text: str, width: int) -> str:
    """Wrap each paragraph, never splitting words at hyphens (nor printing a control)."""
    return "\n".join(
        textwrap.fill(printable(part), width, break_on_hyphens=False) for part in text.split("\n")
    )


class _StreamPrinter:
    """Shows the model's answer as it streams, on one line that the final answer replaces."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = False

    def __call__(self, text: str) -> None:
        if not self.out.isatty():
            return
        line = " ".join(text.split())
        if len(line) > _WIDTH - 4:
            line = "…" + line[-(_WIDTH - 5) :]
        self.out.write("\r\x1b[2K\x1b[2m" + line + "\x1b[0m")
        self.out.flush()
        self.shown = True

    def thinking(self) -> None:
        """Say the question is being worked on, until the answer starts to stream."""
        self("thinking…")

    def checking(self, passage: Quote) -> None:
        """Print the passage being checked above the streaming line, which goes on below it."""
        self.clear()
        print_checking(passage, self.out)
        self.out.flush()
        self.thinking()

    def clear(self) -> None:
        if self.shown:
            self.out.write("\r\x1b[2K")
            self.out.flush()
            self.shown = False


def _enable_history(index_dir: Path) -> None:
    """Arrow-key editing and history across sessions, where readline exists."""
    try:
        import atexit
        import readline
    except ImportError:  # e.g. Windows without pyreadline
        return
    history = index_dir / _HISTORY_FILE
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(500)
    atexit.register(lambda: _save_history(readline, history))


def _save_history(readline: ModuleType, history: Path) -> None:
    try:
        readline.write_history_file(history)
    except OSError:
        pass


def reload_in_console(library: Library, out: TextIO, force: bool) -> None:
    """Re-sync the corpus and print what changed; a refused sync says why and how to force it."""
    print("Re-syncing the corpus…", file=out)
    try:
        report = library.reload(force=force)
    except SyncRefused as refused:
        print(f"The reload did not run: {explained(refused, HINTS)}", file=out)
        return
    for line in sync_lines(report):
        print(line, file=out)


def add_in_console(target: str, library: Library, out: TextIO) -> None:
    """Add a file or page to the corpus and index it, printing what happened to each."""
    if not target:
        print("Usage: /add PATH-or-URL (a file on this machine, or a web address)", file=out)
        return
    report = library.add_target(target, who_runs_this("console"))
    for line in report.lines():
        print(f"  {printable(line)}", file=out)


def handle_line(
    line: str, engine: Engine, library: Library, out: TextIO, session: Session | None = None
) -> bool:
    """Act on one input line; False means leave. With a `session`, questions are one
    conversation until /new."""
    command = line.strip()
    if not command:
        return True
    if command in ("/quit", "/exit", "/q"):
        return False
    if command == "/new":
        if session is not None:
            session.turns = ()
        print(NEW_CONVERSATION, file=out)
    elif command in ("/help", "/?"):
        print(HELP, file=out)
        examples = library.examples()
        if examples:
            print("For example, from these articles:", file=out)
            for example in examples:
                print(f"  {printable(example)}", file=out)
    elif command == "/status":
        for key, value in library.status().as_dict().items():
            shown = printable(str(value)) if value is not None else "-"
            print(f"  {key.replace('_', ' '):<20} {shown}", file=out)
    elif command in ("/reload", "/reload --force"):
        reload_in_console(library, out, force=command.endswith("--force"))
    elif command == "/add" or command.startswith("/add "):
        add_in_console(command.removeprefix("/add").strip().strip("\"'"), library, out)
    elif command.startswith("/") and command[1:].split(" ")[0] in VERBS:
        verb, _, text = command[1:].partition(" ")
        print(run_verb(verb, text, library, "console", HINTS), file=out)
    elif command.startswith("/"):
        print(f"Unknown command {command}. Type /help.", file=out)
    else:
        stream = _StreamPrinter(out)
        stream.thinking()
        history = session.turns if session is not None else ()
        answer = engine.ask(command, on_text=stream, on_passage=stream.checking, history=history)
        stream.clear()
        if session is not None:
            session.turns = remember(session.turns, answer.as_turn(command), session.limit)
        print_searching(answer, out)
        print_answer(answer, out)
    print(file=out)
    return True


def run_console(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """The read-answer loop; Ctrl-C or Ctrl-D leave cleanly."""
    print("Loading the models…", file=out, flush=True)
    with open_app(settings) as (engine, library):
        interactive = stdin.isatty()
        if interactive:
            _enable_history(settings.index_dir)
        print(
            f"Ready: {library.status().articles} articles in {settings.index_dir}. "
            "Type a question, or /help.\n",
            file=out,
        )
        session = Session(limit=settings.conversation_turns)
        while True:
            try:
                line = input("ask> ") if interactive else stdin.readline()
                if not interactive and not line:
                    break
                if not handle_line(line, engine, library, out, session):
                    break
            except (EOFError, KeyboardInterrupt):
                print(file=out)
                break
            except KnownError as error:
                print(f"error: {explained(error, HINTS)}", file=out)
    print("Bye.", file=out)
    return 0
