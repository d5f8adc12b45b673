"""The real default answer model, loaded once for every bot test that needs it."""

from __future__ import annotations

import pytest

from bot.app import load_generator
from bot.generation import LlamaGenerator
from bot.settings import Settings


@pytest.fixture(scope="session")
def generator() -> LlamaGenerator:
    return load_generator(Settings(_env_file=None))
