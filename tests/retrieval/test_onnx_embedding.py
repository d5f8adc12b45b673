"""The ONNX Runtime backend: same vectors as torch, exported once, torch as the fallback."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedding import Embedder, bundled_model_path
from retrieval.onnx_embedding import exported_path, plain_layout

PROJECT = Path(__file__).resolve().parents[2]
TEXTS = [
    "The council approved a new footbridge over the river on Tuesday.",
    "Ticket prices rise to £8.",
    # Longer than the model's 256-token window: both backends must cut it the same way.
    " ".join(["The airline blamed fuel costs and cut forty daily flights from the airport."] * 40),
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding a fresh export, made once for this module."""
    cache = tmp_path_factory.mktemp("model-cache")
    embedder = Embedder(backend="onnx", cache_dir=cache)
    embedder.embed(["warm up"])
    assert embedder.running == "onnx"
    return cache


def test_onnx_vectors_match_torch(onnx_cache: Path) -> None:
    onnx = Embedder(backend="onnx", cache_dir=onnx_cache).embed(TEXTS)
    torch = Embedder(backend="torch").embed(TEXTS)
    assert onnx.shape == torch.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * torch).sum(axis=1).min() > 0.9999


def test_a_vector_does_not_depend_on_its_batch(onnx_cache: Path) -> None:
    embedder = Embedder(backend="onnx", cache_dir=onnx_cache, batch_size=2)
    alone = embedder.embed([TEXTS[1]])[0]
    padded = embedder.embed(TEXTS[::-1])[1]  # batched beside a longer text, so padded
    assert float(alone @ padded) > 0.99999


def test_a_later_process_reuses_the_export_without_torch(onnx_cache: Path) -> None:
    """The default backend answers a question without torch, also on an AMX CPU."""
    assert exported_path(bundled_model_path(), onnx_cache).is_file()
    script = (
        "import sys; from pathlib import Path; from retrieval.embedding import Embedder;"
        f"e = Embedder(cache_dir=Path({str(onnx_cache)!r})); e.embed(['a question']);"
        "print(e.running, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=True,
    )
    assert done.stdout.split() == ["onnx", "False"]


def _model_copy(tmp_path: Path) -> Path:
    """A copy of the bundled model folder that a test may edit."""
    return Path(shutil.copytree(bundled_model_path(), tmp_path / "model"))


def test_a_model_that_is_not_mean_pooled_runs_with_torch(tmp_path: Path) -> None:
    model = _model_copy(tmp_path)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert plain_layout(model) is None
    embedder = Embedder(model, backend="onnx", cache_dir=tmp_path / "cache")
    assert embedder.planned_backend().startswith("torch (")
    assert embedder.embed(["a sentence"]).shape == (1, 384)
    assert embedder.running == "torch"
    assert not (tmp_path / "cache").exists()  # nothing exported for a model it cannot run


def test_a_model_without_a_fast_tokenizer_is_not_plain(tmp_path: Path) -> None:
    model = _model_copy(tmp_path)
    assert plain_layout(model) is not None
    (model / "tokenizer.json").unlink()
    assert plain_layout(model) is None


def test_an_export_fault_falls_back_to_torch(tmp_path: Path, caplog) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    embedder = Embedder(backend="onnx", cache_dir=blocked)
    with caplog.at_level(logging.WARNING):
        vectors = embedder.embed(["a sentence"])
    assert vectors.shape == (1, 384) and embedder.running == "torch"
    assert "using torch" in caplog.text


def test_the_planned_backend_is_told_without_loading_the_model(tmp_path: Path) -> None:
    fresh = Embedder(backend="onnx", cache_dir=tmp_path / "cache")
    assert fresh.planned_backend() == "onnx (exported once, on first use)"
    assert Embedder(backend="torch").planned_backend() == "torch"
    assert not fresh.loaded
    fresh.embed(["a sentence"])
    assert fresh.planned_backend() == "onnx"
    assert Embedder(backend="onnx", cache_dir=tmp_path / "cache").planned_backend() == "onnx"


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="onnx"):
        Embedder(backend="tensorflow")


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2,
    reason="needs CPU affinity (Linux) and two cores",
)
def test_the_embedder_stays_on_the_cores_the_process_may_use(onnx_cache: Path) -> None:
    """Run under `taskset -c 0`, no embedding thread may pin itself to another core."""
    script = (
        "import os; from pathlib import Path; os.sched_setaffinity(0, {0});"
        "from retrieval.embedding import Embedder;"
        f"e = Embedder(backend='onnx', cache_dir=Path({str(onnx_cache)!r}));"
        "e.embed(['a question about ferries'] * 64);"
        "tasks = Path('/proc/self/task').iterdir();"
        "print(sorted({line.split()[1] for t in tasks for line in (t / 'status').read_text()"
        ".splitlines() if line.startswith('Cpus_allowed_list')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "['0']"
