"""Discord load check: 50 concurrent /ask at the bot, in-process, with the real engine.

Each simulated /ask runs the same path as the slash command after its deferral
(`answer_to` → fair queue → engine in the worker thread), with a recording reply
target in place of Discord's network. It prints how many questions were answered,
told the bot is busy (queue full or cooldown), or failed (must be 0), and the
largest event-loop lag seen while the model generated (target <= 100 ms).

Usage: python benchmarks/discord_load.py [INDEX_DIR]   (default: settings, i.e. .index)
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import open_app
from bot.feedback.log import FeedbackLog
from bot.frontends.discord.client import AnswerBot
from bot.frontends.discord.cogs.replies import answer_to
from bot.settings import Settings

ASKERS = 50
QUESTIONS = [
    "Which estate hosted the Zuckerberg and Trump dinner?",
    "How much did Zuckerberg's charity donate for election infrastructure?",
    "How rich is Mark Zuckerberg these days?",
    "What did Zuckerberg give Trump?",
    "Which newspaper reported the change in tone?",
]


class RecordingTarget:
    """Stands in for the Discord reply (`ReplyTarget`): keeps the texts shown, and whether
    it was refused. Asked in public, in no server or channel."""

    guild_id = None
    channel_id = None
    private = False

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.refused = False

    async def show(self, content: str, view: object = None) -> None:
        self.shown.append(content)

    async def add(self, content: str, view: object = None) -> None:
        self.shown.append(content)

    async def refuse(self, content: str) -> None:
        self.shown.append(content)
        self.refused = True


class FailureCount(logging.Handler):
    """Counts the failures `bot.frontends.discord.cogs.errors` logs (each got the apology)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def watch_lag(stop: asyncio.Event, worst: list[float], tick: float = 0.01) -> None:
    """Measure how late the event loop wakes a 10 ms sleep."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(tick)
        worst[0] = max(worst[0], time.perf_counter() - started - tick)


async def run(settings: Settings) -> None:
    failures = FailureCount()
    logging.getLogger("bot.discord").addHandler(failures)
    with open_app(settings) as (engine, library), tempfile.TemporaryDirectory() as scratch:
        bot = AnswerBot.single(engine, library, settings)
        bot.feedback = FeedbackLog(Path(scratch))  # logged as in Discord, not into INDEX_DIR
        engine.ask(QUESTIONS[0])  # warm-up
        targets = [RecordingTarget() for _ in range(ASKERS)]
        stop, worst = asyncio.Event(), [0.0]
        watcher = asyncio.create_task(watch_lag(stop, worst))
        started = time.perf_counter()
        await asyncio.gather(
            *(
                answer_to(bot, target, user_id, QUESTIONS[user_id % len(QUESTIONS)])
                for user_id, target in enumerate(targets)
            )
        )
        elapsed = time.perf_counter() - started
        stop.set()
        await watcher
        await bot.queue.stop()
    busy = sum(t.refused for t in targets)  # the queue's refusals: full, cooldown, in line
    failed = failures.count + sum(not t.shown for t in targets)
    answered = ASKERS - busy - failed
    print(f"askers              {ASKERS} at once (queue holds {settings.queue_max_waiting})")
    print(f"answered            {answered}")
    print(f"told busy           {busy}")
    print(f"failed              {failed}   (must be 0)")
    print(f"wall time           {elapsed:.1f} s")
    print(f"worst loop lag      {worst[0] * 1000:.1f} ms   (target <= 100 ms)")


def main() -> int:
    overrides = {"index_dir": Path(sys.argv[1])} if len(sys.argv) > 1 else {}
    asyncio.run(run(Settings(**overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
