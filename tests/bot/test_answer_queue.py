"""Queue mechanics: one at a time, fair order, positions, refusals (no model needed)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.answer_queue import AlreadyQueued, AnswerQueue, OnCooldown, QueueFull
from bot.answering import Answer, Quote

PASSAGE = Quote("The bridge opens in 2026.", "b.txt", "Bridge", "b.txt", 0, 25)


class Gate:
    """An answer function that blocks until released, recording order and overlap."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.order: list[str] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def __call__(self, question: str, on_text, on_passage=None) -> Answer:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.release.wait(5)
        if on_passage:
            on_passage(PASSAGE)
        if on_text:
            on_text(f"partial {question}")
        with self.lock:
            self.running -= 1
            self.order.append(question)
        return Answer(question, f"answer {question}", (), False)


async def test_one_generation_at_a_time_in_arrival_order_with_positions() -> None:
    gate = Gate()
    queue = AnswerQueue(gate, max_waiting=5, cooldown_seconds=0)
    positions: dict[str, list[int]] = {"b": [], "c": []}

    async def note(name: str, position: int) -> None:
        positions[name].append(position)

    first = asyncio.create_task(queue.submit(1, "a"))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(queue.submit(2, "b", None, lambda p: note("b", p)))
    third = asyncio.create_task(queue.submit(3, "c", None, lambda p: note("c", p)))
    await asyncio.sleep(0.05)
    assert queue.length == 3
    gate.release.set()
    answers = await asyncio.gather(first, second, third)
    assert [a.answer for a in answers] == ["answer a", "answer b", "answer c"]
    assert gate.order == ["a", "b", "c"] and gate.max_running == 1
    assert positions["b"][0] == 1 and positions["c"][:2] == [2, 1]
    await queue.stop()


async def test_streamed_text_reaches_the_event_loop() -> None:
    gate = Gate()
    gate.release.set()
    queue = AnswerQueue(gate, cooldown_seconds=0)
    seen: list[str] = []
    await queue.submit(1, "a", seen.append)
    await asyncio.sleep(0)
    assert seen == ["partial a"]


async def test_the_passage_reaches_the_event_loop_before_the_streamed_text() -> None:
    gate = Gate()
    gate.release.set()
    queue = AnswerQueue(gate, cooldown_seconds=0)
    loop_thread = threading.get_ident()
    seen: list[tuple[object, bool]] = []

    def note(item: object) -> None:
        seen.append((item, threading.get_ident() == loop_thread))

    await queue.submit(1, "a", note, None, note)
    await asyncio.sleep(0)
    assert seen == [(PASSAGE, True), ("partial a", True)]
    await queue.stop()


async def test_refusals_are_immediate() -> None:
    gate = Gate()
    clock = [100.0]
    queue = AnswerQueue(gate, max_waiting=1, cooldown_seconds=10, clock=lambda: clock[0])
    running = asyncio.create_task(queue.submit(1, "a"))
    await asyncio.sleep(0.05)
    with pytest.raises(AlreadyQueued):
        await queue.submit(1, "again")
    waiting = asyncio.create_task(queue.submit(2, "b"))
    await asyncio.sleep(0.05)
    with pytest.raises(QueueFull):
        await queue.submit(3, "c")
    gate.release.set()
    await asyncio.gather(running, waiting)
    clock[0] += 5
    with pytest.raises(OnCooldown) as cooldown:
        await queue.submit(1, "too soon")
    assert cooldown.value.retry_after == pytest.approx(5)
    await queue.stop()
