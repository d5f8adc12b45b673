"""The bot's own expected failures, and how a front end adds its next step to a known one.

An error says what went wrong (`retrieval.errors` holds the root, `KnownError`); the
step that fixes it is worded by each front end for its own users: the command line
names a flag, the console and Discord their commands (`explained`, with their `Hints`).
"""

from __future__ import annotations

from collections.abc import Mapping

from retrieval.errors import KnownError

# A front end's next step for each kind of error that has one; the first kind that fits wins.
Hints = Mapping[type[KnownError], str]


class BotError(KnownError):
    """An expected failure of the bot's own (settings, files, commands, logging in)."""


def hint_for(error: KnownError, hints: Hints) -> str | None:
    """The step `hints` offers for the error's kind, if any."""
    return next((text for kind, text in hints.items() if isinstance(error, kind)), None)


def explained(error: KnownError, hints: Hints, message: str | None = None) -> str:
    """The error's message (or `message`, the same shown otherwise), then its step."""
    hint = hint_for(error, hints)
    message = str(error) if message is None else message
    return f"{message} {hint}" if hint else message
