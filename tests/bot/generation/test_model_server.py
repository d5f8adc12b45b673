"""Generation on a real `llama_cpp.server` on loopback with the default model: the same
verified quotes and abstentions as in-process, streaming, and clear failures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.answering.engine import Engine
from bot.answering.outcomes import Decline
from bot.answering.prompting import Prompts
from bot.generation.model_files import resolve_model_path
from bot.generation.model_server import ServerGenerator
from retrieval.errors import ModelUnavailable
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import UNHURRIED, policy
from tests.conftest import PROJECT, TOWN_UNANSWERABLE, write_town_corpus
from tests.loopback import free_port, serving

pytestmark = pytest.mark.slow
PROMPTS = Prompts.load(PROJECT / "prompts")
QUESTION, GOLD = "Who leads the council in Glenfield?", "Mara Quist"


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    """`python -m llama_cpp.server` with the default GGUF; yields its /v1 base URL."""
    port = free_port()
    model = resolve_model_path(None, None, "qwen-0.5b")
    base_url = f"http://127.0.0.1:{port}/v1"

    def answering() -> bool:
        try:
            return httpx.get(f"{base_url}/models", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]  # fmt: skip
    with serving(command, answering, 120, "the model server"):
        yield base_url


@pytest.fixture
def server_engine(
    model_server: str, town_index: Path, embedder, injection_exemplars
) -> Iterator[Engine]:
    generator = ServerGenerator(model_server)
    with IndexStore(town_index) as store:
        searcher = Searcher(store, embedder)
        yield Engine(store, searcher, generator, PROMPTS, UNHURRIED, injection_exemplars)
    generator.close()


def test_server_answers_with_the_same_verified_quote_as_in_process(
    server_engine: Engine, generator, town_index: Path, embedder, injection_exemplars
) -> None:
    streamed: list[str] = []
    remote = server_engine.ask(QUESTION, on_text=streamed.append)
    with IndexStore(town_index) as store:
        searcher = Searcher(store, embedder)
        local = Engine(store, searcher, generator, PROMPTS, UNHURRIED, injection_exemplars)
        local = local.ask(QUESTION)
    assert not remote.abstained and not remote.reason, remote.reason
    assert GOLD in remote.quotes[0].text
    assert [(q.article_id, q.start, q.end) for q in remote.quotes] == [
        (q.article_id, q.start, q.end) for q in local.quotes
    ]
    for quote in remote.quotes:
        article = server_engine.store.article(quote.article_id)
        assert article.text[quote.start : quote.end] == quote.text
    assert streamed and streamed[-1] == remote.answer  # tokens streamed as they came


def test_the_time_budget_applies_to_the_server_too(server_engine: Engine) -> None:
    server_engine.policy = policy(time_budget_seconds=0.001)
    answer = server_engine.ask(QUESTION)
    assert answer.decline is Decline.SLOW and answer.fallback and answer.related is not None


def test_ask_command_uses_the_server_from_settings(
    model_server: str, town_index: Path, tmp_path: Path
) -> None:
    """The whole CLI path with LLM_BASE_URL: no model is loaded in the process itself."""
    index = tmp_path / "index"  # a copy: this test process may hold the embedded original
    shutil.copytree(town_index, index, ignore=shutil.ignore_patterns("*.lock"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "PYTHONPATH": str(PROJECT),
        "LLM_BASE_URL": model_server,
        "MODEL_PATH": str(tmp_path / "no-such-model.gguf"),  # proves the server answers
        "PROMPTS_DIR": str(PROJECT / "prompts"),
        "LLM_TIME_BUDGET_SECONDS": "300",
    }
    questions = "\n".join([QUESTION, TOWN_UNANSWERABLE[1]])
    run = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--index", str(index), "--corpus",
         str(write_town_corpus(tmp_path / "corpus"))],
        input=questions, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    answered, off_corpus = [json.loads(line) for line in run.stdout.splitlines()]
    assert not answered["abstained"] and GOLD in answered["quotes"][0]["text"]
    assert off_corpus["abstained"] and off_corpus["related"] is None
    assert off_corpus["decline"] in {Decline.NOTHING_RELEVANT, Decline.NO_SENTENCES}


def test_an_unreachable_model_server_says_how_to_fix_it() -> None:
    with pytest.raises(ModelUnavailable, match="llama_cpp.server"):
        ServerGenerator(f"http://127.0.0.1:{free_port()}/v1")
