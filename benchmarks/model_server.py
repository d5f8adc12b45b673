"""In-process model versus a shared model server: the same questions, the same index.

Usage: python benchmarks/model_server.py [INDEX_DIR] [QA.jsonl ...]
Starts `python -m llama_cpp.server` on loopback with the configured model (the
default one unless MODEL_PATH is set), times the questions through it, then
through the model loaded in this process, and prints both.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from answer import measure, questions_from, report

from bot.app import open_engine
from bot.generation.model_files import resolve_model_path
from bot.settings import Settings


def start_server(model: Path, threads: int | None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]  # fmt: skip
    if threads:
        command += ["--n_threads", str(threads)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                return server, base_url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the model server did not start")


def main() -> int:
    overrides = {"index_dir": Path(sys.argv[1])} if len(sys.argv) > 1 else {}
    settings = Settings(**overrides)
    questions = questions_from([Path(p) for p in sys.argv[2:]])
    model = resolve_model_path(settings.model_path, settings.model_cache_dir, settings.answer_model)

    server, base_url = start_server(model, settings.llm_threads)
    try:
        remote = settings.model_copy(update={"llm_base_url": base_url})
        with open_engine(remote) as engine:
            print(f"--- model server ({base_url})")
            report(measure(engine, questions))
    finally:
        server.terminate()
        server.wait(timeout=30)
    with open_engine(settings.model_copy(update={"llm_base_url": None})) as engine:
        print("--- in-process")
        report(measure(engine, questions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
