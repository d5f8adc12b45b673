"""Helpers for tests that start real servers on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


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
