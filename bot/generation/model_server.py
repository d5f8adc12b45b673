"""Generation on an OpenAI-compatible model server, so several bot processes share one model.

Works with llama-cpp-python's `python -m llama_cpp.server` and llama.cpp's
`llama-server`: both honour the JSON schema in `response_format`, so replies have
the same shape as in-process ones. Nothing else changes: quotes still come from
the stored articles and pass the same checks.

Every call has a wall-clock deadline (`bot.deadline`), since a server that trickles
never trips a per-read timeout: the start-up check (LLM_CHECK_SECONDS), the warm-up
(LLM_WARM_UP_SECONDS) and each answer (its headers within LLM_TIME_BUDGET_SECONDS, the
whole of it within LLM_ANSWER_SECONDS). An answer is also cut off by its size: no line
longer than `_MAX_LINE_BYTES`, no reply longer than LLM_MAX_TOKENS could make.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator

import httpx

from bot.deadline import NO_KEEP_ALIVE, Deadline, DeadlineExceeded
from bot.generation.generators import (
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
_MAX_LINE_BYTES = 64 * 1024  # one server-sent event; an answer's are a few hundred bytes
CHARS_PER_TOKEN = 64  # a reply longer than LLM_MAX_TOKENS × this is no reply
_IDENTITY = {"Accept-Encoding": "identity"}  # lines are read raw: nothing to decompress
log = logging.getLogger(__name__)


class ServerGenerator:
    """Chat completions from `base_url` (e.g. http://127.0.0.1:8080/v1), streamed."""

    def __init__(
        self, base_url: str, *, model: str = "default", api_key: str | None = None,
        max_tokens: int = 160, check_seconds: float = 5.0, warm_up_seconds: float = 120.0,
        answer_seconds: float = 120.0,
    ) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_tokens = max_tokens
        self.warm_up_seconds = warm_up_seconds
        self.answer_seconds = answer_seconds
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(  # a connection per request: see bot.deadline
            base_url=self.base_url, headers=headers | _IDENTITY, limits=NO_KEEP_ALIVE
        )
        self._lock = threading.Lock()  # one request at a time per process, like in-process
        self.name = f"{model} @ {self.base_url}"
        self._check_reachable(check_seconds)

    def _deadline(self, seconds: float, setting: str, **headers: tuple[float, str]) -> Deadline:
        return Deadline(seconds, setting, f"the model server at {self.base_url}", **headers)

    def _check_reachable(self, seconds: float) -> None:
        """Fail at start-up, with a how-to, rather than on the first question. Only the
        status is read: the body of /models could be anything."""
        try:
            with self._deadline(seconds, "LLM_CHECK_SECONDS") as deadline:
                with self._http.stream(
                    "GET", "/models", timeout=seconds, extensions=deadline.extensions
                ) as response:
                    response.raise_for_status()
                deadline.left()
        except (httpx.HTTPError, DeadlineExceeded) as error:
            reason = deadline.blame(error)
            if not isinstance(reason, DeadlineExceeded):
                reason = f"cannot reach the model server at {self.base_url} ({reason})"
            reason = str(reason)
            raise ModelUnavailable(
                f"{reason[0].upper()}{reason[1:]}. Start one with "
                "`python -m llama_cpp.server --model FILE.gguf --host 127.0.0.1 --port 8080` "
                "and set LLM_BASE_URL=http://127.0.0.1:8080/v1, or leave LLM_BASE_URL empty "
                "to load the model in this process."
            ) from error

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def warm_up(self, messages: list[dict]) -> None:
        """One short request, so the server caches the shared prompt prefix; a failure is
        only logged: the server was reachable, and each question has its own fallback.
        Its headers say the prompt was run; the body is not needed."""
        body = {"model": self.model, "messages": messages, "max_tokens": 1, **SAMPLING}
        seconds = self.warm_up_seconds
        try:
            with self._lock, self._deadline(seconds, "LLM_WARM_UP_SECONDS") as deadline:
                with self._http.stream(
                    "POST", "/chat/completions", json=body, timeout=seconds,
                    extensions=deadline.extensions,
                ):  # fmt: skip
                    deadline.left()
        except (httpx.HTTPError, DeadlineExceeded) as error:
            log.warning(
                "warming up the model server at %s failed: %s", self.base_url,
                deadline.blame(error),
            )  # fmt: skip

    def yes_probability(self, messages: list[dict], time_budget: float) -> float | None:
        """None: an OpenAI-style server gives token probabilities only when it was started
        with every logit kept, so the judge's signal is skipped (it counts as its mean)."""
        return None

    def generate(
        self, messages: list[dict], on_text: TextCallback | None, time_budget: float
    ) -> Reply:
        """Stream a JSON reply from the server; give up (ModelTooSlow) if none begins
        within `time_budget` seconds, whatever the server sends meanwhile, and fail
        (GenerationFailed) past LLM_ANSWER_SECONDS in all or a reply of impossible size."""
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            **SAMPLING,
            "stream": True,
            "response_format": {"type": "json_object", "schema": REPLY_SCHEMA},
        }
        timeout = httpx.Timeout(time_budget, connect=_CONNECT_SECONDS)
        with self._lock, self._deadline(
            self.answer_seconds, "LLM_ANSWER_SECONDS",
            headers=(time_budget, "LLM_TIME_BUDGET_SECONDS"),
        ) as deadline:  # fmt: skip
            started = time.perf_counter()
            try:
                with self._http.stream(
                    "POST", "/chat/completions", json=body, timeout=timeout,
                    extensions=deadline.extensions,
                ) as response:  # fmt: skip
                    if response.status_code != 200:
                        detail = next(response.iter_raw(), b"")[:300].decode("utf-8", "replace")
                        raise GenerationFailed(f"it answered HTTP {response.status_code}: {detail}")
                    return collect_reply(
                        _content_pieces(_lines(response.iter_raw(), deadline)), on_text,
                        time_budget, started,
                        stall_seconds=time_budget,  # as the read timeout, for keep-alives
                        max_chars=self.max_tokens * CHARS_PER_TOKEN,
                    )  # fmt: skip
            except httpx.ReadTimeout as error:
                raise ModelTooSlow(
                    f"the model server at {self.base_url} sent nothing for {time_budget:g} s "
                    "(LLM_TIME_BUDGET_SECONDS)"
                ) from error
            except (httpx.HTTPError, DeadlineExceeded) as error:
                late = deadline.blame(error)
                if isinstance(late, DeadlineExceeded):
                    slow = late.setting == "LLM_TIME_BUDGET_SECONDS"
                    raise (ModelTooSlow if slow else GenerationFailed)(str(late)) from None
                raise GenerationFailed(
                    f"the model server at {self.base_url} failed: {error}"
                ) from error
            except GenerationFailed as error:
                raise type(error)(f"{error}, from the model server at {self.base_url}") from error


def _lines(raw: Iterable[bytes], deadline: Deadline) -> Iterator[str]:
    """The stream's lines, the deadline checked at every read; "" for a read that ends
    no line, so the caller can check its own clock."""
    pending = b""
    for piece in raw:
        deadline.left()
        *complete, pending = (pending + piece).split(b"\n")
        if len(pending) > _MAX_LINE_BYTES:
            raise GenerationFailed(
                f"a line of its stream passed {_MAX_LINE_BYTES // 1024} KB, more than any "
                "reply within LLM_MAX_TOKENS"
            )
        for line in complete or [b""]:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    deadline.left()  # a connection the watchdog cut ends like a finished stream
    if pending:
        yield pending.decode("utf-8", "replace")


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
            raise GenerationFailed(f"it sent an unreadable event: {data[:200]!r}") from error
