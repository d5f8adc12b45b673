"""The expected failures: the root every layer's errors share, and retrieval's own.

The root lives here, in the lowest layer, so a front end catches one class whoever
raised it; each layer defines the errors it raises (`bot.errors` holds the bot's). A
message says what went wrong and what to check; the step a front end offers (a flag, a
command) is the front end's to add, from the error's fields (`bot.errors.explained`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path


class KnownError(Exception):
    """An expected failure with a message meant for people: shown, never a traceback."""


class CorpusError(KnownError):
    """The corpus folder is missing or cannot be indexed."""


class SyncRisk(Enum):
    """Why a sync looks like a slip rather than an edit."""

    OTHER_FOLDER = "another folder"  # a forgotten --corpus would replace the articles
    MASS_REMOVAL = "most articles gone"  # an emptied or wrong folder would wipe them


class SyncRefused(KnownError):
    """A sync that would replace or wipe the index; it runs only when forced."""

    def __init__(
        self,
        risk: SyncRisk,
        index_dir: Path,
        built_from: str | None,
        reading: str,
        removing: int = 0,
        indexed: int = 0,
    ) -> None:
        self.risk = risk
        self.index_dir = index_dir
        self.built_from = built_from  # None: the index did not record its folder
        self.reading = reading
        self.removing = removing
        self.indexed = indexed
        super().__init__(self._message())

    def _message(self) -> str:
        if self.risk is SyncRisk.OTHER_FOLDER:
            return (
                f"The index in {self.index_dir} was built from the folder {self.built_from}, "
                f"but this sync reads {self.reading}; it would replace those articles with "
                "this folder's. Check --corpus / CORPUS_DIR."
            )
        built_from = self.built_from or "a folder it did not record"
        return (
            f"This sync would remove {self.removing} of the {self.indexed} articles in the "
            f"index in {self.index_dir} (built from {built_from}; this sync reads "
            f"{self.reading}). Check that the folder holds your articles."
        )


class IndexUnavailable(KnownError):
    """The index is missing, from another version, or cannot be opened."""


class ModelUnavailable(KnownError):
    """A model file or package is missing, corrupt or fails to load."""


class IndexBusy(KnownError):
    """Another process or command is already syncing this index."""


class IndexInUse(IndexBusy):
    """Another process holds the index's embedded vectors (one process at a time)."""

    def __init__(self, index_dir: Path, holder: str) -> None:
        self.index_dir = index_dir
        self.holder = holder
        super().__init__(
            f"The index in {index_dir} is open in another process ({holder}). Its embedded "
            "vectors serve one process at a time; to share one index between processes, run "
            "a Chroma server and set CHROMA_HOST (see the README's Deployment section)."
        )
