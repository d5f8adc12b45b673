"""A bounded, fair queue in front of the model, for the Discord bot.

The model is CPU-bound and answers one question at a time, so it runs in one
worker thread, off the event loop (a blocked loop drops the Discord
connection). Fairness is by construction: each user may have one question in
line, served first come first served, so nobody can crowd out the others. A
per-user cooldown stops rapid-fire asking; a full queue is reported at once
rather than making people wait for a timeout.

Questions come in groups (with per-server corpora, one per Discord server): each
group has its own line of at most `max_waiting` questions, and the lines are served
in turn, one question each, so a busy server fills only its own line and a question
from a quiet one waits behind at most one question of each other server. With one
group, as without per-server corpora, this is the single first-come line.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from bot.answering.engine import Answer, Quote
from bot.errors import BotError
from bot.generation.generators import TextCallback

PassageCallback = Callable[[Quote], None]
AnswerFunction = Callable[[str, TextCallback | None, PassageCallback | None], Answer]
PositionCallback = Callable[[int], Awaitable[None]]
T = TypeVar("T")


class QueueFull(BotError):
    """Too many questions are waiting."""


class AlreadyQueued(BotError):
    """This user already has a question in line."""


class OnCooldown(BotError):
    """This user asked too recently."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Please wait {retry_after:.0f} s before asking again.")
        self.retry_after = retry_after


@dataclass
class _Job:
    user_id: int | None  # None: the bot's own work (`run_quietly`), no member's
    question: str
    on_text: TextCallback | None
    on_position: PositionCallback | None
    future: asyncio.Future = field(repr=False)
    on_passage: PassageCallback | None = None
    group: Hashable = None  # whose line it waits in (a server's, with per-server corpora)
    answer: AnswerFunction | None = None  # None: the queue's own
    history: tuple = ()  # a follow-up's earlier turns (`bot.answering.conversation.Turn`)


class AnswerQueue:
    """Runs `answer(question, on_text, on_passage)` for one job at a time, in a worker thread.

    `answer` is the default; a job may bring its own (its server's engine).
    """

    def __init__(
        self,
        answer: AnswerFunction,
        *,
        max_waiting: int = 10,
        cooldown_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answer = answer
        self.max_waiting = max_waiting
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lines: dict[Hashable, deque[_Job]] = {}  # each group's waiting jobs
        self._turns: deque[Hashable] = deque()  # groups with waiting jobs, next served first
        self._running: _Job | None = None
        self._last_asked: dict[int, float] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="answer-model")
        self._worker: asyncio.Task | None = None  # runs only while there is work

    @property
    def length(self) -> int:
        """Questions waiting or being answered."""
        return len(self._jobs())

    def length_of(self, group: Hashable) -> int:
        """Questions of `group` waiting or being answered."""
        return sum(job.group == group for job in self._jobs())

    async def stop(self) -> None:
        """Stop the worker; waiting askers get an error instead of hanging."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        for job in self._order():
            if not job.future.done():
                job.future.set_exception(QueueFull("The bot is shutting down."))
        self._lines.clear()
        self._turns.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(
        self,
        user_id: int,
        question: str,
        on_text: TextCallback | None = None,
        on_position: PositionCallback | None = None,
        on_passage: PassageCallback | None = None,
        *,
        group: Hashable = None,
        answer: AnswerFunction | None = None,
        history: tuple = (),
    ) -> Answer:
        """Queue a question in `group`'s line and wait for its answer (by `answer`, else
        the queue's own); refuses at once when it cannot queue.

        `on_text` and `on_passage` are called on the event loop, like `on_position`;
        `history` is the conversation a follow-up belongs to.
        """
        refused = self.refusal(user_id, group)
        if refused is not None:
            raise refused
        self._last_asked[user_id] = self._clock()
        future = asyncio.get_running_loop().create_future()
        job = _Job(
            user_id,
            question,
            on_text,
            on_position,
            future,
            on_passage,
            group,
            answer,
            tuple(history),
        )
        if not self._enqueue(job) and on_position is not None:
            await on_position(next(n for n, j in enumerate(self._order(), 1) if j is job))
        return await job.future

    async def run_quietly(self, work: Callable[[], T], *, group: Hashable) -> T:
        """Run `work` in the model's thread when `group`'s turn comes, like a question:
        the bot's own (asking an open question again), so no member's cooldown or place
        in line. Give it a group of its own and await one at a time: it then holds one
        place, and each member's line waits behind at most one such job per round."""
        future = asyncio.get_running_loop().create_future()
        self._enqueue(_Job(None, "", None, None, future, None, group, lambda *_: work()))
        return await future

    def _enqueue(self, job: _Job) -> bool:
        """Put `job` at the end of its group's line; True when it started the worker
        (it is then answered at once, so it has no place in line to tell)."""
        if job.group not in self._lines:
            self._lines[job.group] = deque()
            self._turns.append(job.group)
        self._lines[job.group].append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="answer-queue")
            return True
        return False

    def refusal(self, user_id: int, group: Hashable = None) -> BotError | None:
        """Why a question from `user_id` would be refused now, or None.

        Front ends ask before doing anything visible (such as opening a thread), so a
        refused question leaves nothing behind.
        """
        if any(job.user_id == user_id for job in self._jobs()):
            return AlreadyQueued("You already have a question in line; I'll answer it first.")
        last = self._last_asked.get(user_id)
        now = self._clock()
        if last is not None and now - last < self.cooldown_seconds:
            return OnCooldown(self.cooldown_seconds - (now - last))
        if len(self._lines.get(group, ())) >= self.max_waiting:  # only this group's line
            return QueueFull(
                "I'm answering a lot of questions right now; please try again in a minute."
            )
        return None

    def _jobs(self) -> list[_Job]:
        return [*self._order(), *([self._running] if self._running else [])]

    def _order(self) -> list[_Job]:
        """The waiting jobs in the order they will be answered if no more arrive: the
        groups in turn, one job each per round."""
        lines = [self._lines[group] for group in self._turns]
        rounds = max(map(len, lines), default=0)
        return [line[turn] for turn in range(rounds) for line in lines if turn < len(line)]

    def _next(self) -> _Job:
        """The next job: the first of the group whose turn it is, which then goes last."""
        group = self._turns.popleft()
        line = self._lines[group]
        job = line.popleft()
        if line:
            self._turns.append(group)
        else:
            del self._lines[group]
        return job

    async def _work(self) -> None:
        """Answer queued jobs one by one until none are left, then end (no idle waiting)."""
        loop = asyncio.get_running_loop()
        while self._turns:
            job = self._next()
            self._running = job
            await self._announce_positions()
            try:
                answer_function = job.answer or self._answer
                if job.history:
                    answer_function = partial(answer_function, history=job.history)
                answer = await loop.run_in_executor(
                    self._executor,
                    answer_function,
                    job.question,
                    _threadsafe(loop, job.on_text),
                    _threadsafe(loop, job.on_passage),
                )
            except Exception as error:  # handed to the asker, who replies politely
                if not job.future.done():
                    job.future.set_exception(error)
            else:
                if not job.future.done():
                    job.future.set_result(answer)
            finally:
                self._running = None

    async def _announce_positions(self) -> None:
        for position, job in enumerate(self._order(), start=1):
            if job.on_position is not None:
                try:
                    await job.on_position(position)
                except Exception:  # a failed edit must not stop the queue
                    pass


def _threadsafe(
    loop: asyncio.AbstractEventLoop, callback: Callable[[T], None] | None
) -> Callable[[T], None] | None:
    """Wrap a loop-side callback so the model thread can call it."""
    if callback is None:
        return None

    def call(value: T) -> None:
        loop.call_soon_threadsafe(callback, value)

    return call
