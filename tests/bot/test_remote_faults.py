"""A model server that misbehaves on purpose, on loopback: every fault ends within the
time budget with a clear fallback, never a hang or a traceback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.answering.engine import Engine
from bot.answering.outcomes import Decline
from bot.answering.prompting import Prompts
from bot.generation.generators import GenerationFailed, ModelTooSlow, collect_reply
from bot.generation.model_server import ServerGenerator
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import policy
from tests.conftest import PROJECT

PROMPTS = Prompts.load(PROJECT / "prompts")
QUESTION = "Who leads the council in Glenfield?"
BUDGET = 1.0
GRACE = 5.0  # "ends within budget + 5 s": anything longer is a hang for a Discord member


def _event(delta: dict) -> bytes:
    return f"data: {json.dumps({'choices': [{'delta': delta}]})}\n\n".encode()


class _Misbehaving(BaseHTTPRequestHandler):
    """/v1/models answers; /v1/chat/completions does what the URL's first part says."""

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # http.server's name
        self._send(200, b'{"data": []}', "application/json")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        fault = self.path.split("/")[1]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            if fault == "superscript":
                reply = '{"sources": ["²"], "answer": "Mara Quist"}'
                self.wfile.write(_event({"content": reply}) + b"data: [DONE]\n\n")
                return
            for _ in range(600):  # at most a minute, then the test would have failed anyway
                if fault == "comments":
                    self.wfile.write(b": keep-alive\n\n")
                elif fault == "empty":
                    self.wfile.write(_event({}))
                self.wfile.flush()
                time.sleep(0.1)  # "silent" sends headers only
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def misbehaving_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _engine(base_url: str, index: Path, embedder, exemplars) -> tuple[Engine, IndexStore]:
    store = IndexStore(index)
    generator = ServerGenerator(base_url)
    engine = Engine(store, Searcher(store, embedder), generator, PROMPTS, policy(), exemplars)
    engine.policy = policy(time_budget_seconds=BUDGET)
    return engine, store


@pytest.mark.parametrize("fault", ["comments", "empty", "silent"])
def test_a_server_that_sends_no_answer_ends_within_the_budget(
    misbehaving_server: str, fault: str, town_index: Path, embedder, injection_exemplars
) -> None:
    url = f"{misbehaving_server}/{fault}/v1"
    engine, store = _engine(url, town_index, embedder, injection_exemplars)
    with store:
        started = time.monotonic()
        answer = engine.ask(QUESTION)
        waited = time.monotonic() - started
    assert waited < BUDGET + GRACE, f"{fault}: waited {waited:.1f} s"
    assert answer.abstained and answer.decline is Decline.SLOW and answer.quotes == ()
    assert answer.related is not None, "the closest passage is still shown, as related"
    assert "budget" in answer.fallback or "nothing for" in answer.fallback


def test_a_reply_citing_a_non_number_falls_back_without_a_traceback(
    misbehaving_server: str, town_index: Path, embedder, injection_exemplars
) -> None:
    url = f"{misbehaving_server}/superscript/v1"
    engine, store = _engine(url, town_index, embedder, injection_exemplars)
    with store:
        answer = engine.ask(QUESTION)
    assert answer.abstained and answer.decline is Decline.FAILED and answer.quotes == ()
    assert "sentence numbers" in answer.fallback and answer.related is not None


def _paced(pieces: list[str], gap: float) -> Iterator[str]:
    for piece in pieces:
        time.sleep(gap)
        yield piece


def test_the_budget_covers_the_wait_for_the_first_words_not_the_whole_answer() -> None:
    reply = '{"sources": [1], "answer": "a long answer that streams slowly"}'
    pieces = [reply[i : i + 4] for i in range(0, len(reply), 4)]  # 16 pieces, ~0.8 s in all
    got = collect_reply(_paced(pieces, 0.05), None, 0.3, time.perf_counter())
    assert got.answer == "a long answer that streams slowly" and got.sources == (1,)


def test_no_first_words_within_the_budget_is_too_slow_not_broken() -> None:
    with pytest.raises(ModelTooSlow):
        collect_reply(_paced(["", "", "", '{"sources": []'], 0.1), None, 0.2, time.perf_counter())


def test_a_server_answer_that_stops_streaming_is_a_failure() -> None:
    pieces = ['{"sources": [1], "answer": "x', *[""] * 10]
    with pytest.raises(GenerationFailed, match="nothing for"):
        collect_reply(_paced(pieces, 0.05), None, 5.0, time.perf_counter(), stall_seconds=0.2)
