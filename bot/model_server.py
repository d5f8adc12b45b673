"""Generation on an OpenAI-compatible model server, so several bot processes share one model.

Works with llama-cpp-python's `python -m llama_cpp.server` and llama.cpp's
`llama-server`: both honour the JSON schema in `response_format`, so replies have
the same shape as in-process ones. Nothing else changes: quotes still come from
the stored articles and pass the same checks.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import httpx

from bot.generation import (
    REPLY_SCHEMA,
    SAMPLING,
    GenerationFailed,
    ModelTooSlow,
    Reply,
    TextCallback,
    collect_reply,
)
from retrieval.errors import ModelUnavailable

_CONNECT_SECONDS = 5.0
_WARM_UP_SECONDS = 120.0  # a cold server may load its model first
log = logging.getLogger(__name__)


class ServerGenerator:
    """Chat completions from `base_url` (e.g. http://127.0.0.1:8080/v1), streamed."""

    def __init__(
        self, base_url: str, *, model: str = "default", api_key: str | None = None,
        max_tokens: int = 160,
    ) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers)
        self._lock = threading.Lock()  # one request at a time per process, like in-process
        self.name = f"{model} @ {self.base_url}"
        self._check_reachable()

    def _check_reachable(self) -> None:
        """Fail at start-up, with a how-to, rather than on the first question."""
        try:
            response = self._http.get("/models", timeout=_CONNECT_SECONDS)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise ModelUnavailable(
                f"Cannot reach the model server at {self.base_url} ({error}). Start one with "
                "`python -m llama_cpp.server --model FILE.gguf --host 127.0.0.1 --port 8080` "
                "and set LLM_BASE_URL=http://127.0.0.1:8080/v1, or leave LLM_BASE_URL empty "
                "to load the model in this process."
            ) from error

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def warm_up(self, messages: list[dict]) -> None:
        """One short request, so the server caches the shared prompt prefix; a failure is
        only logged: the server was reachable, and each question has its own fallback."""
        body = {"model": self.model, "messages": messages, "max_tokens": 1, **SAMPLING}
        try:
            with self._lock:
                self._http.post("/chat/completions", json=body, timeout=_WARM_UP_SECONDS)
        except httpx.HTTPError as error:
            log.warning("warming up the model server failed: %s", error)

    def yes_probability(self, messages: list[dict], time_budget: float) -> float | None:
        """None: an OpenAI-style server gives token probabilities only when it was started
        with every logit kept, so the judge's signal is skipped (it counts as its mean)."""
        return None

    def generate(
        self, messages: list[dict], on_text: TextCallback | None, time_budget: float
    ) -> Reply:
        """Stream a JSON reply from the server; give up (ModelTooSlow) if none begins
        within `time_budget` seconds, whatever the server sends meanwhile."""
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            **SAMPLING,
            "stream": True,
            "response_format": {"type": "json_object", "schema": REPLY_SCHEMA},
        }
        timeout = httpx.Timeout(time_budget, connect=_CONNECT_SECONDS)
        with self._lock:
            started = time.perf_counter()
            try:
                with self._http.stream(
                    "POST", "/chat/completions", json=body, timeout=timeout
                ) as response:
                    if response.status_code != 200:
                        detail = response.read().decode("utf-8", "replace")[:300]
                        raise GenerationFailed(
                            f"the model server answered HTTP {response.status_code}: {detail}"
                        )
                    return collect_reply(
                        _content_pieces(response.iter_lines()), on_text, time_budget, started,
                        stall_seconds=time_budget,  # as the read timeout, for keep-alives
                    )  # fmt: skip
            except httpx.ReadTimeout as error:
                raise ModelTooSlow(
                    f"the model server sent nothing for {time_budget:g} s"
                ) from error
            except httpx.HTTPError as error:
                raise GenerationFailed(f"the model server failed: {error}") from error


def _content_pieces(lines: Iterator[str]) -> Iterator[str]:
    """The text deltas of an OpenAI-style server-sent event stream ("" for other lines)."""
    for line in lines:
        if not line.startswith("data:"):
            yield ""  # a keep-alive comment or blank line: lets the caller check the clock
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
            yield event["choices"][0]["delta"].get("content") or ""
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as error:
            raise GenerationFailed(
                f"the model server sent an unreadable event: {data[:200]!r}"
            ) from error
