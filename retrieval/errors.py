"""The few errors the bot raises on purpose; each front end turns them into one sentence.

Defined in retrieval (the lowest layer) so both retrieval and bot can raise them.
Every message says what went wrong and how to fix it, so front ends can show it as is.
"""


class BotError(Exception):
    """Base class: an expected failure with a message meant for people."""


class CorpusError(BotError):
    """The corpus folder is missing or cannot be indexed."""


class SyncRefused(BotError):
    """A sync would replace or wipe the index (another folder, most articles gone)."""


class IndexUnavailable(BotError):
    """The index is missing, from another version, or cannot be opened."""


class ModelUnavailable(BotError):
    """A model file or package is missing, corrupt or fails to load."""


class IndexBusy(BotError):
    """Another process or command is already syncing this index."""
