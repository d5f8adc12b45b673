"""The model takes only the cores other processes leave free (issue 27): read from
/proc/stat over a short window, with this process's own use taken out."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from bot.generation.cpu_share import PROC_STAT, _ticks, busy_cores_elsewhere, threads_to_use

needs_proc = pytest.mark.skipif(not PROC_STAT.exists(), reason="Linux /proc/stat only")


def _burn() -> None:
    x = 0
    while True:
        x = (x * 7 + 1) % 1_000_003


@pytest.fixture
def burner():
    """Another process holding one core for the length of the test."""
    proc = multiprocessing.Process(target=_burn, daemon=True)
    proc.start()
    yield proc
    proc.kill()
    proc.join()


def test_the_free_cores_are_used_and_never_fewer_than_one() -> None:
    assert threads_to_use(2, 0.1) == 2  # a quiet machine: every core
    assert threads_to_use(2, 0.9) == 1  # one core busy elsewhere
    assert threads_to_use(2, 3.0) == 1  # busier than the machine: still one
    assert threads_to_use(8, 2.2) == 6
    assert threads_to_use(2, None) == 2  # load unknown: as before


def test_an_unreadable_or_foreign_stat_file_means_unknown(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  10 0 5 100 2 0 0 0 0 0\ncpu0 5 0 2 50 1 0 0 0 0 0\ncpu1 5 0 3 50 1 0 0 0 0 0\n"
    )
    assert _ticks(stat) == (15, 117, 2)
    stat.write_text("intr 1 2 3\n")
    assert _ticks(stat) is None
    assert busy_cores_elsewhere(0.01, stat) is None
    assert busy_cores_elsewhere(0.01, tmp_path / "missing") is None


@needs_proc
def test_a_process_burning_a_core_is_seen(burner) -> None:
    assert busy_cores_elsewhere(0.3) >= 0.5


@needs_proc
def test_this_process_own_work_is_not_counted_as_another_s() -> None:
    """The window is slept through here, so only other threads of this process could
    count, and they are taken out: a burner thread of our own is not 'elsewhere'."""
    import threading

    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    thread = threading.Thread(target=spin, daemon=True)
    before = busy_cores_elsewhere(0.3)
    thread.start()
    try:
        during = busy_cores_elsewhere(0.3)
    finally:
        stop.set()
        thread.join()
    assert during <= before + 0.5


@needs_proc
@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to give one away")
def test_the_model_gives_a_busy_core_away_and_takes_it_back(generator, burner) -> None:
    messages = [{"role": "user", "content": 'Reply {"sources": [1], "answer": "yes"}.'}]
    generator.generate(messages, None, 300)
    assert generator.threads_now < (os.cpu_count() or 1)
    burner.kill()
    burner.join()
    if busy_cores_elsewhere(0.3) > 0.5:  # another job (not ours) holds a core: none to take back
        pytest.skip("the machine is busy with other work, so there is no free core to take back")
    generator.generate(messages, None, 300)
    assert generator.threads_now == (os.cpu_count() or 1)
