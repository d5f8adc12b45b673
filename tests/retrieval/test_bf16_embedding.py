"""The bf16 backend: torch in bfloat16, close to float32; `auto` uses it for large batches
on AMX CPUs only."""

from __future__ import annotations

import logging

import pytest

import retrieval.embedding as embedding
from retrieval.embedding import Embedder, EmbeddingRules

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
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    strict = EmbeddingRules(bf16_min_cosine=1.01)  # no bf16 vector is that close
    embedder = Embedder(backend="bf16", cache_dir=tmp_path / "cache", rules=strict)
    with caplog.at_level(logging.WARNING, logger="retrieval.embedding"):
        embedder.embed(["warm up"])
    assert embedder.running == "onnx"
    assert "bfloat16 vectors differ from float32" in caplog.text


def test_auto_runs_large_batches_in_bf16_only_on_a_cpu_that_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    three = EmbeddingRules(bulk_texts=3)
    monkeypatch.setattr(embedding, "has_native_bf16", lambda: False)  # the CPU, not a rule
    plain = Embedder(rules=three)
    assert plain.planned_backend().startswith("onnx") and "bf16" not in plain.planned_backend()
    plain.embed(TEXTS)
    assert plain.running == "onnx"

    monkeypatch.setattr(embedding, "has_native_bf16", lambda: True)
    amx = Embedder(rules=three)
    assert amx.planned_backend().endswith(", bf16 for 3+ texts")
    amx.embed(["a question"])
    assert amx.running == "onnx"  # a question never loads torch
    amx.embed(TEXTS)
    assert amx.running == "onnx+bf16"


def test_a_bf16_vector_barely_depends_on_its_batch() -> None:
    """Batches are padded (to the longest text, then to a multiple of 8 tokens); padding
    is masked out, so a text's vector is the same alone or beside a longer one."""
    embedder = Embedder(backend="bf16", batch_size=2)
    alone = embedder.embed([TEXTS[1]])[0]
    padded = embedder.embed(TEXTS[::-1])[1]
    assert float(alone @ padded) > 0.999
