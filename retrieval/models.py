"""The small frozen records that flow through the ingest pipeline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to chunk.

    `text` is the clean article text: the exact string every chunk's offsets and
    every later quote refer to. `fingerprint` identifies the raw source content,
    so an unchanged file can be recognised without re-parsing it.
    """

    article_id: str
    title: str
    text: str
    source: str
    path: str
    fingerprint: str
    date: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A passage of an article; `text == article.text[start:end]` always."""

    chunk_id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article (a long one cut into word windows): the unit that is embedded.

    `text == article.text[start:end]`; every sentence lies inside the chunks around it.
    """

    sentence_id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class SplitArticle:
    """An article with the chunks search ranks and the sentences that are embedded."""

    article: Article
    chunks: tuple[Chunk, ...]
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Skipped:
    """A file (or a line of a .jsonl file) that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ChromaServer:
    """A `chroma run` server to use instead of the embedded database."""

    host: str
    port: int = 8000
    ssl: bool = False
    timeout: float = 10.0  # seconds any one request may take

    def __str__(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"
