"""The fuzz tests' tally (cases, crashes, offset violations, slowest input), printed at the end."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

_STATS_KEY = pytest.StashKey["FuzzStats"]()


@dataclass
class FuzzStats:
    """What the fuzz tests saw, for the figures the README quotes."""

    cases: int = 0
    crashes: int = 0  # an exception from the code under test (shrinking repeats count too)
    violations: int = 0  # a failed check: wrong offsets, a lost line, a bad date
    slowest_seconds: float = 0.0
    slowest_input: str = ""
    last_seconds: float = 0.0

    def record(self, label: str, seconds: float) -> None:
        """Count one case and remember it if it is the slowest so far."""
        self.cases += 1
        self.last_seconds = seconds
        if seconds > self.slowest_seconds:
            self.slowest_seconds, self.slowest_input = seconds, label

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"fuzz: {self.cases} cases, {self.crashes} crashes, {self.violations} check "
            f"failures, slowest {self.slowest_seconds:.3f} s CPU ({self.slowest_input[:80]})"
        )


@pytest.fixture(scope="session")
def fuzz_stats(request: pytest.FixtureRequest) -> FuzzStats:
    return request.config.stash.setdefault(_STATS_KEY, FuzzStats())


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    stats = config.stash.get(_STATS_KEY, None)
    if stats is not None and stats.cases:
        terminalreporter.write_line(stats.summary())
