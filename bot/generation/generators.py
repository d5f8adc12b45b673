"""The local answer model behind a small interface, with output constrained to JSON.

The model replies `{"sources": [sentence numbers], "answer": "..."}`; llama.cpp's
JSON-schema grammar makes even a 0.5B model reply in that shape. Quotes are never
taken from this text: the engine quotes the cited sentences from the stored
articles. A generator runs one generation at a time (llama.cpp contexts are not
thread-safe); callers queue in front of it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bot.errors import BotError
from bot.generation.cpu_share import busy_cores_elsewhere, threads_to_use
from retrieval.errors import ModelUnavailable

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaState

REPLY_SCHEMA = {
    "type": "object",
    "properties": {
        "sources": {"type": "array", "items": {"type": "integer"}},
        "answer": {"type": "string"},
    },
    "required": ["sources", "answer"],
}
# Greedy and unpenalised, spelled out so the model server decodes exactly as in-process
# (llama_cpp.server defaults repeat_penalty to 1.1, create_chat_completion to 1.0).
SAMPLING = {"temperature": 0.0, "repeat_penalty": 1.0}
_PARTIAL_ANSWER = re.compile(r'"answer"\s*:\s*"((?:[^"\\]|\\.)*)')
_SOURCES_OPENED = re.compile(r'^\s*\{\s*"sources"\s*:\s*\[')
_BEFORE_FIRST_SOURCE = re.compile(r'^\s*\{\s*"sources"\s*:\s*\[\s*$')
SOURCE_TOKENS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "]")
YES_TOKENS = ("Yes", "yes", "YES")
NO_TOKENS = ("No", "no", "NO")

TextCallback = Callable[[str], None]


class GenerationFailed(BotError):
    """The model did not produce a usable reply (error, bad output or time budget)."""


class ModelTooSlow(GenerationFailed):
    """No answer began within the time budget: the model is busy or slow, not broken."""


@dataclass(frozen=True)
class Reply:
    """What the model said: cited sentence numbers and its short answer."""

    sources: tuple[int, ...]
    answer: str
    first_token_seconds: float
    seconds: float
    # The model's log-probability of each first source it could have written ("1".."9",
    # and "]" for none), where the generator can see them; empty otherwise.
    source_logprobs: dict[str, float] = field(default_factory=dict)
    # The model's log-probability of each token it wrote inside the answer string (the
    # closing quote included), where the generator can see them; empty otherwise.
    answer_logprobs: tuple[float, ...] = ()

    def answer_probability(self) -> float | None:
        """The answer's tokens' geometric-mean probability: a model copying a span it is
        sure of writes each token with nearly all the mass; one guessing spreads it."""
        if not self.answer_logprobs:
            return None
        return math.exp(sum(self.answer_logprobs) / len(self.answer_logprobs))

    def answer_min_probability(self) -> float | None:
        """The probability of the answer's least likely token: one hesitant word (a name,
        a figure) is where a copied answer goes wrong."""
        return math.exp(min(self.answer_logprobs)) if self.answer_logprobs else None

    def cite_probability(self, shown: int) -> float | None:
        """The model's probability for its first cited sentence, among the `shown` ones or none.

        A model sure of its pick puts nearly all the mass on one number; one that
        hesitates between sentences is more often wrong.
        """
        if not self.source_logprobs:
            return None  # the generator could not watch the model's scores
        if not self.sources:
            return 0.0  # it answered without citing any sentence
        options = [str(n) for n in range(1, min(shown, 9) + 1)] + ["]"]
        known = {o: self.source_logprobs[o] for o in options if o in self.source_logprobs}
        cited = str(self.sources[0])
        if cited not in known:
            return None
        top = max(known.values())
        total = sum(math.exp(v - top) for v in known.values())
        return math.exp(known[cited] - top) / total


class Generator(Protocol):
    """Anything that turns chat messages into a `Reply`."""

    name: str

    def generate(
        self, messages: list[dict], on_text: TextCallback | None, time_budget: float
    ) -> Reply:
        """Run the model; `on_text` receives the answer text so far as it streams."""
        ...

    def warm_up(self, messages: list[dict]) -> None:
        """Evaluate the prompt prefix every question shares, before the first question."""
        ...

    def yes_probability(self, messages: list[dict], time_budget: float) -> float | None:
        """P("Yes") against P("No") for the reply's first token; None where unreadable."""
        ...


def parse_reply(raw: str) -> tuple[tuple[int, ...], str]:
    """Sources and answer from the model's JSON (tolerating junk around it)."""
    start, end = raw.find("{"), raw.rfind("}")
    try:
        data = json.loads(raw[start : end + 1]) if start >= 0 < end else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise GenerationFailed(f"the model's reply was not JSON: {raw[:200]!r}")
    sources = data.get("sources") or []
    if not isinstance(sources, list) or not all(map(_is_sentence_number, sources)):
        raise GenerationFailed(
            f"the model cited something other than sentence numbers: {raw[:200]!r}"
        )
    numbers = tuple(int(n) for n in sources)
    answer = data.get("answer")
    return numbers, answer.strip() if isinstance(answer, str) else ""


def _is_sentence_number(value: object) -> bool:
    """An int, or a string of ASCII digits: "²" or "٣" pass str.isdigit but are no citation."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal()


def partial_answer(raw: str) -> str | None:
    """The answer text streamed so far, or None before the answer field starts."""
    match = _PARTIAL_ANSWER.search(raw)
    if not match:
        return None
    body = match.group(1)
    if body.endswith("\\"):
        body = body[:-1]  # an escape cut in half
    try:
        return json.loads(f'"{body}"')
    except json.JSONDecodeError:
        return body


class LlamaGenerator:
    """An in-process llama.cpp model, loaded once."""

    def __init__(
        self,
        model_path: Path,
        *,
        context_tokens: int = 2048,
        threads: int | None = None,
        max_tokens: int = 160,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ModelUnavailable(
                "llama-cpp-python is not installed; run `make setup` "
                "(or `pip install llama-cpp-python`)."
            ) from error
        # llama.cpp's own default is half the cores; measured here, all is faster.
        # With no fixed count, each answer takes the cores other processes leave free.
        self._cores = threads or os.cpu_count() or 1
        self._adaptive = threads is None
        self.threads_now = self._cores
        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                # Reading the prompt takes the same count: LLM_THREADS=1 must leave the
                # other cores free for the whole answer, not only while it writes.
                n_threads=self._cores,
                n_threads_batch=self._cores,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelUnavailable(
                f"Could not load the model {model_path}: {error}. The file may be corrupt or "
                "not a GGUF model: set MODEL_PATH to a working .gguf file, or leave it empty "
                "for the default model."
            ) from error
        self.name = Path(model_path).name
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._source_token_ids = self._single_token_ids(SOURCE_TOKENS)
        self._yes_ids = list(self._single_token_ids(YES_TOKENS).values())
        self._no_ids = list(self._single_token_ids(NO_TOKENS).values())
        # The evaluated answer prefix (system message and worked examples), kept after
        # warm-up: a judge prompt replaces llama.cpp's cached tokens, and evaluating the
        # prefix again would cost every next question seconds.
        self._prefix_state = None
        self._prefix_displaced = False
        self._prefix_system: str | None = None  # the answer prompt's system message

    def _single_token_ids(self, texts: tuple[str, ...]) -> dict[str, int]:
        """Token ids of the `texts` that are one token in this model's vocabulary."""
        return {
            text: ids[0]
            for text in texts
            if len(ids := self._llm.tokenize(text.encode(), add_bos=False, special=False)) == 1
        }

    def warm_up(self, messages: list[dict]) -> None:
        """Evaluate `messages` once, so llama.cpp keeps their shared prefix (system message,
        worked examples) and no question's budget pays for it."""
        with self._lock:
            try:
                self._llm.create_chat_completion(messages=messages, max_tokens=1, **SAMPLING)
                self._prefix_state = self._saved_prefix()
                self._prefix_system = messages[0].get("content") if messages else None
            except Exception as error:  # llama.cpp raises assorted errors
                raise ModelUnavailable(f"The model failed its first run: {error}") from error

    def _fit_threads_to_load(self) -> None:
        """Use only the cores other processes leave free (`bot/generation/cpu_share.py`)."""
        if not self._adaptive:
            return
        threads = threads_to_use(self._cores, busy_cores_elsewhere())
        if threads != self.threads_now:
            self._llm._ctx.set_n_threads(threads, threads)
            self.threads_now = threads

    def _saved_prefix(self) -> LlamaState:
        """llama.cpp's state now (about 20 MB of cached keys and values for the prefix)."""
        with self._one_logits_row():
            return self._llm.save_state()

    def _restore_prefix(self) -> None:
        """Put the warmed-up answer prefix back in llama.cpp's cache after a judgement."""
        if self._prefix_displaced and self._prefix_state is not None:
            with self._one_logits_row():
                self._llm.load_state(self._prefix_state)
        self._prefix_displaced = False

    @contextlib.contextmanager
    def _one_logits_row(self) -> Iterator[None]:
        """Let save_state and load_state see one row of llama-cpp-python's logits array.

        They copy, or broadcast into, every row (512 x a 150k-token vocabulary: 300 MB
        at each save, and the whole array made resident at each load). The rows are
        unused: a restored state is evaluated again before anything is sampled.
        """
        rows = self._llm.scores
        self._llm.scores = rows[:1]
        try:
            yield
        finally:
            self._llm.scores = rows

    def yes_probability(self, messages: list[dict], time_budget: float) -> float | None:
        """P("Yes") / (P("Yes") + P("No")) for the first token the model would reply.

        One forward pass over the prompt, nothing sampled worth keeping. Past
        `time_budget` (checked once the pass is done: a single pass cannot be
        interrupted) the answer is None, so a slow machine skips the signal rather
        than the question.
        """
        if not self._yes_ids or not self._no_ids:
            return None
        with self._lock:
            started = time.perf_counter()
            scores: list[np.ndarray] = []

            def keep_first(input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
                if not scores:
                    scores.append(np.array(logits, dtype=np.float64))
                return logits

            try:
                from llama_cpp import LogitsProcessorList

                self._prefix_displaced = True
                self._llm.create_chat_completion(
                    messages=messages,
                    max_tokens=1,
                    **SAMPLING,
                    logits_processor=LogitsProcessorList([keep_first]),
                )
            except Exception as error:  # llama.cpp raises assorted errors
                raise GenerationFailed(f"the model failed to judge: {error}") from error
            if not scores or time.perf_counter() - started > time_budget:
                return None
            return yes_share(scores[0], self._yes_ids, self._no_ids)

    def generate(
        self, messages: list[dict], on_text: TextCallback | None, time_budget: float
    ) -> Reply:
        """Stream a JSON reply; give up (ModelTooSlow) if none begins within `time_budget`."""
        with self._lock:
            started = time.perf_counter()
            self._fit_threads_to_load()
            self._restore_prefix()
            if messages and messages[0].get("content") != self._prefix_system:
                # another prompt (a follow-up's rewrite) replaces the cached answer prefix
                self._prefix_displaced = True
            watcher = _SourceWatcher(self._llm, self._source_token_ids)
            answer_watcher = _AnswerWatcher(self._llm)
            try:
                from llama_cpp import LogitsProcessorList

                stream = self._llm.create_chat_completion(
                    messages=messages,
                    response_format={"type": "json_object", "schema": REPLY_SCHEMA},
                    max_tokens=self.max_tokens,
                    **SAMPLING,
                    stream=True,
                    logits_processor=LogitsProcessorList([watcher, answer_watcher]),
                )
                pieces = (chunk["choices"][0]["delta"].get("content") or "" for chunk in stream)
                reply = collect_reply(pieces, on_text, time_budget, started)
                return replace(
                    reply,
                    source_logprobs=watcher.logprobs,
                    answer_logprobs=tuple(answer_watcher.logprobs),
                )
            except GenerationFailed:
                raise
            except Exception as error:  # llama.cpp raises assorted errors mid-stream
                raise GenerationFailed(f"the model failed: {error}") from error


def yes_share(logits: np.ndarray, yes_ids: list[int], no_ids: list[int]) -> float:
    """The probability mass on the "Yes" tokens, out of that on "Yes" and "No" together."""
    top = float(max(logits[yes_ids].max(), logits[no_ids].max()))
    yes = float(np.exp(logits[yes_ids] - top).sum())
    no = float(np.exp(logits[no_ids] - top).sum())
    return yes / (yes + no)


def _log_total(scores: np.ndarray) -> float:
    """log(sum(exp(scores))), computed without overflow: subtracted from a token's raw
    score, it gives that token's log-probability."""
    top = float(scores.max())
    return top + math.log(float(np.exp(scores - top).sum()))


class _SourceWatcher:
    """Reads the model's raw scores at the step where it writes its first source number.

    A logits processor that changes nothing: llama.cpp calls it before every token,
    and the grammar still decides what is sampled.
    """

    def __init__(self, llm: Llama, token_ids: dict[str, int]) -> None:
        self._llm = llm
        self._token_ids = token_ids
        self._prompt_tokens: int | None = None
        self._done = False
        self.logprobs: dict[str, float] = {}

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._prompt_tokens is None:
            self._prompt_tokens = len(input_ids)
        if self._done or not self._token_ids:
            return scores
        written = self._llm.detokenize(list(input_ids[self._prompt_tokens :])).decode(
            "utf-8", errors="ignore"
        )
        if _SOURCES_OPENED.match(written) and not self.logprobs:
            self.logprobs = {"]": 0.0}  # seen, though no number may follow ("[]")
        if _BEFORE_FIRST_SOURCE.match(written):
            log_total = _log_total(scores)
            self.logprobs = {t: float(scores[i]) - log_total for t, i in self._token_ids.items()}
        elif self.logprobs:
            self._done = True  # the first source is written; later steps are other numbers
        return scores


class _AnswerWatcher:
    """Reads the log-probability of each token the model writes inside the answer string.

    A logits processor that changes nothing. It is called before each token with the
    scores for it; the token chosen shows up in `input_ids` at the next call, so the
    step's normalised scores wait until then. The raw scores are read before the JSON
    grammar masks anything, so they say how sure the model itself was.
    """

    def __init__(self, llm: Llama) -> None:
        self._llm = llm
        self._prompt_tokens: int | None = None
        self._pending: np.ndarray | None = None
        self.logprobs: list[float] = []

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._prompt_tokens is None:
            self._prompt_tokens = len(input_ids)
        if self._pending is not None and len(input_ids) > self._prompt_tokens:
            self.logprobs.append(float(self._pending[int(input_ids[-1])]))
        self._pending = None
        written = self._llm.detokenize(list(input_ids[self._prompt_tokens :])).decode(
            "utf-8", errors="ignore"
        )
        opened = _PARTIAL_ANSWER.search(written)
        if opened and opened.end() == len(written):  # the answer string is still open
            self._pending = scores - _log_total(scores)
        return scores


def collect_reply(
    pieces: Iterable[str],
    on_text: TextCallback | None,
    time_budget: float,
    started: float,
    stall_seconds: float | None = None,
    max_chars: int | None = None,
) -> Reply:
    """Join streamed text into a `Reply`, passing the answer so far to `on_text`.

    `time_budget` is the wall-clock wait for the first piece of text: past it the model
    is too slow (ModelTooSlow). Once text streams it may finish, bounded by the token
    limit; a remote server, which could send keep-alives or text forever, must also not
    go silent for `stall_seconds` nor send more than `max_chars`. Empty pieces
    (keep-alive comments, empty deltas) count as silence. Shared by the in-process model
    and the model server, so both stream, time out and parse alike.
    """
    first: float | None = None
    last_text = started
    raw = shown = ""
    for piece in pieces:
        now = time.perf_counter()
        if first is None and now - started > time_budget:
            raise ModelTooSlow(
                f"no answer began within the {time_budget:g} s budget (LLM_TIME_BUDGET_SECONDS)"
            )
        if not piece:
            if first is not None and stall_seconds is not None and now - last_text > stall_seconds:
                raise GenerationFailed(f"the model sent nothing for {stall_seconds:g} s")
            continue
        if first is None:
            first = now - started
        last_text = now
        raw += piece
        if max_chars is not None and len(raw) > max_chars:
            raise GenerationFailed(
                f"the reply passed {max_chars:,} characters, more than LLM_MAX_TOKENS allows"
            )
        if on_text is not None:
            text = partial_answer(raw)
            if text and text != shown:
                shown = text
                on_text(text)
    sources, answer = parse_reply(raw)
    elapsed = time.perf_counter() - started
    return Reply(sources, answer, first if first is not None else elapsed, elapsed)
