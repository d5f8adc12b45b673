"""Queue mechanics: one at a time, fair order, positions, refusals (no model needed)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.answering.engine import Answer, Quote
from bot.frontends.discord.answer_queue import AlreadyQueued, AnswerQueue, OnCooldown, QueueFull

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


class Busy:
    """An answer function that keeps the CPU (and, in Python, the GIL) busy for `seconds`
    per question, as a model would, recording the order it answered in."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.order: list[str] = []

    def __call__(self, question: str, on_text, on_passage=None) -> Answer:
        until = time.perf_counter() + self.seconds
        while time.perf_counter() < until:
            sum(range(200))
        self.order.append(question)
        return Answer(question, f"answer {question}", (), False)


async def _watch_lag(stop: asyncio.Event, worst: list[float], tick: float = 0.01) -> None:
    """How late the event loop wakes a 10 ms sleep, at worst."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(tick)
        worst[0] = max(worst[0], time.perf_counter() - started - tick)


async def test_three_servers_asking_at_once_are_served_in_turn() -> None:
    """A busy server fills only its own line; the others' questions each wait behind at
    most one question of every other server, and the event loop stays responsive."""
    busy = Busy(0.03)
    queue = AnswerQueue(busy, max_waiting=5, cooldown_seconds=0)
    stop, worst = asyncio.Event(), [0.0]
    watcher = asyncio.create_task(_watch_lag(stop, worst))
    positions: dict[str, int] = {}

    def ask(guild: str, number: int) -> asyncio.Task:
        name = f"{guild}{number}"

        async def note(position: int) -> None:
            positions.setdefault(name, position)  # the place first shown

        user = {"a": 100, "b": 200, "c": 300}[guild] + number
        return asyncio.create_task(queue.submit(user, name, None, note, group=guild))

    asked = [ask("a", 1)]
    await asyncio.sleep(0.005)  # a1 is being answered
    asked += [ask("a", n) for n in range(2, 7)]  # five waiting: a's line is full
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):
        await queue.submit(107, "a7", group="a")
    asked += [ask("b", n) for n in range(1, 4)] + [ask("c", n) for n in range(1, 4)]
    await asyncio.sleep(0)
    assert queue.length_of("a") == 6 and queue.length_of("b") == queue.length_of("c") == 3
    await asyncio.gather(*asked)
    stop.set()
    await watcher
    await queue.stop()
    assert busy.order == [
        "a1", "a2", "b1", "c1", "a3", "b2", "c2", "a4", "b3", "c3", "a5", "a6",
    ]  # fmt: skip
    assert positions["b1"] == 2 and positions["c1"] == 3, positions  # not behind all of a's
    for guild in "abc":  # between two of a server's turns, at most one of each other's
        turns = [n for n, name in enumerate(busy.order) if name[0] == guild]
        waiting = [later - earlier - 1 for earlier, later in zip(turns, turns[1:], strict=False)]
        assert max(waiting) <= 2, (guild, waiting)
    assert worst[0] <= 0.1, f"the event loop lagged {worst[0] * 1000:.0f} ms"


async def test_a_job_is_answered_by_its_own_answer_function() -> None:
    """Each server's question goes to its own engine; the queue's is the default."""
    default, own = Busy(0), Busy(0)
    queue = AnswerQueue(default, cooldown_seconds=0)
    await queue.submit(1, "shared")
    await queue.submit(2, "theirs", group=5, answer=own)
    assert default.order == ["shared"] and own.order == ["theirs"]
    await queue.stop()


async def test_the_bots_own_work_takes_one_turn_in_a_line_of_its_own() -> None:
    """Open questions asked again, one at a time, never hold up a member by more than
    one of them, nor set any member's cooldown or place in line."""
    gate = Gate()
    queue = AnswerQueue(gate, max_waiting=5, cooldown_seconds=60)
    done: list[str] = []

    async def reask_all() -> None:
        for n in range(3):
            await queue.run_quietly(lambda n=n: gate(f"re-ask {n}", None), group="followups")
            done.append(f"re-ask {n}")

    background = asyncio.create_task(reask_all())
    await asyncio.sleep(0.05)
    member = asyncio.create_task(queue.submit(1, "member", group=None))
    await asyncio.sleep(0.05)
    gate.release.set()
    await asyncio.gather(background, member)
    assert gate.order == ["re-ask 0", "member", "re-ask 1", "re-ask 2"]
    assert queue.refusal(2) is None, "no cooldown or place in line was taken by re-asks"
