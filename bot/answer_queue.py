"""A bounded, fair queue in front of the model, for the Discord bot.

The model is CPU-bound and answers one question at a time, so it runs in one
worker thread, off the event loop (a blocked loop drops the Discord
connection). Fairness is by construction: each user may have one question in
line, served first come first served, so nobody can crowd out the others. A
per-user cooldown stops rapid-fire asking; a full queue is reported at once
rather than making people wait for a timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from bot.answering import Answer, Quote
from bot.generation import TextCallback
from retrieval.errors import BotError

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
    user_id: int
    question: str
    on_text: TextCallback | None
    on_position: PositionCallback | None
    future: asyncio.Future = field(repr=False)
    on_passage: PassageCallback | None = None
    history: tuple = ()  # a follow-up's earlier turns (`bot.conversation.Turn`)


class AnswerQueue:
    """Runs `answer(question, on_text, on_passage)` for one job at a time, in a worker thread."""

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
        self._waiting: deque[_Job] = deque()
        self._running: _Job | None = None
        self._last_asked: dict[int, float] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="answer-model")
        self._worker: asyncio.Task | None = None  # runs only while there is work

    @property
    def length(self) -> int:
        """Questions waiting or being answered."""
        return len(self._waiting) + (self._running is not None)

    async def stop(self) -> None:
        """Stop the worker; waiting askers get an error instead of hanging."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        for job in self._waiting:
            if not job.future.done():
                job.future.set_exception(QueueFull("The bot is shutting down."))
        self._waiting.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(
        self,
        user_id: int,
        question: str,
        on_text: TextCallback | None = None,
        on_position: PositionCallback | None = None,
        on_passage: PassageCallback | None = None,
        history: tuple = (),
    ) -> Answer:
        """Queue a question and wait for its answer; refuses at once when it cannot queue.

        `on_text` and `on_passage` are called on the event loop, like `on_position`;
        `history` is the conversation a follow-up belongs to.
        """
        refused = self.refusal(user_id)
        if refused is not None:
            raise refused
        self._last_asked[user_id] = self._clock()
        future = asyncio.get_running_loop().create_future()
        job = _Job(user_id, question, on_text, on_position, future, on_passage, tuple(history))
        self._waiting.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="answer-queue")
        elif on_position is not None:
            await on_position(len(self._waiting))
        return await job.future

    def refusal(self, user_id: int) -> BotError | None:
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
        if len(self._waiting) >= self.max_waiting:
            return QueueFull(
                "I'm answering a lot of questions right now; please try again in a minute."
            )
        return None

    def _jobs(self) -> list[_Job]:
        return [*self._waiting, *([self._running] if self._running else [])]

    async def _work(self) -> None:
        """Answer queued jobs one by one until none are left, then end (no idle waiting)."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            job = self._waiting.popleft()
            self._running = job
            await self._announce_positions()
            try:
                answer_function = (
                    partial(self._answer, history=job.history) if job.history else self._answer
                )
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
        for position, job in enumerate(list(self._waiting), start=1):
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
