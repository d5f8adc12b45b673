"""Helpers for tests that start real servers on loopback."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(ready: Callable[[], bool], alive: Callable[[], bool], seconds: float) -> bool:
    """Poll `ready` until it holds; False if `alive` stops holding or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            if ready():
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


@contextmanager
def serving(
    command: list[str], ready: Callable[[], bool], seconds: float, what: str
) -> Iterator[None]:
    """Run a server `command` quietly for the block; fail the test if it never gets `ready`."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_until(ready, lambda: process.poll() is None, seconds):
        process.kill()
        pytest.fail(f"{what} did not start")
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
