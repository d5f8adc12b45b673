"""How much of the CPU other processes are using right now, so the model can leave it them.

llama.cpp's threads wait for one another at every step: when another process holds a
core, a thread that lost its core stalls all the others, and an answer on 2 cores
with 2 threads took several times longer than with 1 (`make bench-contention`). So,
unless LLM_THREADS fixes the count, the model measures the other processes' load
just before each answer and takes only the cores they leave free.

Read from Linux's /proc/stat; elsewhere the load is unknown and every core is used.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")
WINDOW_SECONDS = 0.1  # long enough for a busy core to show (10 clock ticks at 100 Hz)


def _ticks(stat: Path = PROC_STAT) -> tuple[int, int, int] | None:
    """Busy and total clock ticks of all cores since boot, and how many cores /proc/stat
    counts (on a container's host, more than this process may use)."""
    try:
        lines = stat.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    fields = lines[0].split() if lines else []
    if len(fields) < 6 or fields[0] != "cpu" or not all(f.isdigit() for f in fields[1:]):
        return None
    ticks = [int(value) for value in fields[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return sum(ticks) - idle, sum(ticks), max(cores, 1)


def _own_cpu_seconds() -> float:
    """CPU time this process has used, every thread together."""
    times = os.times()
    return times.user + times.system


def busy_cores_elsewhere(window: float = WINDOW_SECONDS, stat: Path = PROC_STAT) -> float | None:
    """Cores' worth of CPU other processes used over the next `window` seconds; None if
    unknown."""
    before, own_before, started = _ticks(stat), _own_cpu_seconds(), time.monotonic()
    time.sleep(window)
    after, own_after, ended = _ticks(stat), _own_cpu_seconds(), time.monotonic()
    if before is None or after is None or after[1] <= before[1]:
        return None
    busy_share = (after[0] - before[0]) / (after[1] - before[1])  # of all the cores counted
    own_cores = (own_after - own_before) / max(ended - started, 1e-6)
    return max(0.0, busy_share * after[2] - own_cores)


def threads_to_use(cores: int, busy_elsewhere: float | None) -> int:
    """The cores the others leave free (at least one); all of them when the load is unknown."""
    if busy_elsewhere is None:
        return cores
    return max(1, min(cores, cores - round(busy_elsewhere)))
