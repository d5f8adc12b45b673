"""The bf16 backend: torch in bfloat16, close to float32, chosen by `auto` only on AMX CPUs."""

from __future__ import annotations

import logging

import pytest

import retrieval.embedding as embedding
from retrieval.embedding import Embedder, has_native_bf16, resolve_backend

TEXTS = [
    "The council approved a new footbridge over the river on Tuesday.",
    "Ticket prices rise to £8.",
    " ".join(["The airline blamed fuel costs and cut forty daily flights from the airport."] * 40),
]


@pytest.fixture(scope="module")
def float32_vectors():
    return Embedder(backend="torch").embed(TEXTS)


def test_bf16_vectors_stay_within_cosine_099_of_float32(float32_vectors) -> None:
    embedder = Embedder(backend="bf16")
    vectors = embedder.embed(TEXTS)
    assert embedder.running == "bf16"
    assert vectors.dtype.name == "float32" and vectors.shape == (3, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-5
    assert (vectors * float32_vectors).sum(axis=1).min() > 0.99


def test_bf16_that_strays_from_float32_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedding, "BF16_MIN_COSINE", 1.01)  # no bf16 vector is that close
    embedder = Embedder(backend="bf16", cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="retrieval.embedding"):
        embedder.embed(["warm up"])
    assert embedder.running == "onnx"
    assert "bfloat16 vectors differ from float32" in caplog.text


def test_auto_picks_bf16_only_where_the_cpu_multiplies_it_natively(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_backend("auto") == ("bf16" if has_native_bf16() else "onnx")
    monkeypatch.setattr(embedding, "has_native_bf16", lambda: False)
    assert resolve_backend("auto") == "onnx"
    assert Embedder().planned_backend().startswith("onnx")
    monkeypatch.setattr(embedding, "has_native_bf16", lambda: True)
    assert Embedder().planned_backend() == "bf16"
    assert resolve_backend("torch") == "torch"


def test_a_bf16_vector_barely_depends_on_its_batch() -> None:
    """Batches are padded (to the longest text, then to a multiple of 8 tokens); padding
    is masked out, so a text's vector is the same alone or beside a longer one."""
    embedder = Embedder(backend="bf16", batch_size=2)
    alone = embedder.embed([TEXTS[1]])[0]
    padded = embedder.embed(TEXTS[::-1])[1]
    assert float(alone @ padded) > 0.999
