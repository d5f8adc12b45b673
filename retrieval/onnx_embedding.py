"""Run a plain sentence-transformers model with ONNX Runtime instead of torch.

On 2 CPU cores ONNX Runtime embeds a batch faster than torch and, above all, a
single question in a few milliseconds instead of tens, and a process that finds
the export cached never imports torch at all. Only the common layout is handled
here (a transformer, mean pooling, optional normalisation, a fast tokenizer);
any other model folder keeps running under torch, and so does any export fault.

The export is made once with torch, from the model folder's own weights, and
kept in the model cache keyed by those weights, so an edited model re-exports.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXPORT_VERSION = 1  # bump when the exported graph changes, so caches re-export
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_ONNX_OPSET = 17


@dataclass(frozen=True)
class PlainLayout:
    """What ONNX Runtime needs to reproduce a sentence-transformers model."""

    max_seq_length: int  # tokens kept per text, as sentence-transformers truncates


def plain_layout(path: Path) -> PlainLayout | None:
    """The layout of `path` when it is Transformer + mean Pooling (+ Normalize) with a
    tokenizer.json; None for anything else (CLS pooling, Dense layers, no fast tokenizer)."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        if modules[0].get("path", "") != "" or not (path / "tokenizer.json").is_file():
            return None
        pooling = json.loads((path / modules[1]["path"] / "config.json").read_text("utf-8"))
        modes = {key for key, value in pooling.items() if key.startswith("pooling_mode") and value}
        if modes != {"pooling_mode_mean_tokens"}:
            return None
        config_file = path / "sentence_bert_config.json"
        config = json.loads(config_file.read_text("utf-8")) if config_file.is_file() else {}
        return PlainLayout(
            max_seq_length=int(config.get("max_seq_length") or 512),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def weights_file(path: Path) -> Path | None:
    """The model folder's weights file, which the export is made from."""
    return next((path / name for name in _WEIGHT_FILES if (path / name).is_file()), None)


def exported_path(model_path: Path, cache_dir: Path) -> Path:
    """Where the export of `model_path` is cached: named after the folder and keyed by
    its weights' size and time, so a changed model never reuses an old export."""
    weights = weights_file(model_path)
    stat = weights.stat() if weights else None
    key = f"{model_path.resolve()}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}"
    digest = hashlib.sha256(f"{key}|{EXPORT_VERSION}".encode()).hexdigest()[:16]
    return cache_dir / "onnx" / f"{model_path.name}-{digest}.onnx"


def export(model_path: Path, target: Path) -> None:
    """Export the model's transformer to `target` (ONNX, dynamic batch and length).

    Written to a temporary file first, then renamed: a process killed mid-export
    leaves no half file that a later run would trust.
    """
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's tracer warnings are not for users
            torch.onnx.export(
                LastHiddenState(),
                (sample, sample, torch.zeros_like(sample)),
                str(partial),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=_ONNX_OPSET,
                dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), where the OS says."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # macOS and Windows have no affinity call: every core
        return max(os.cpu_count() or 1, 1)


class OnnxEncoder:
    """Mean-pooled unit vectors from an exported transformer (the Embedder's contract)."""

    def __init__(self, onnx_file: Path, model_path: Path, layout: PlainLayout) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # As many threads as the cores this process may use. Left to itself, ONNX Runtime
        # counts the machine's cores and pins a thread to each, escaping `taskset` or a
        # container's cpuset onto cores the operator kept for other work.
        options.intra_op_num_threads = usable_cores()
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {item.name for item in self._session.get_inputs()}
        self._dimension = int(self._session.get_outputs()[0].shape[-1])
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=layout.max_seq_length)

    def get_embedding_dimension(self) -> int:
        """The vector length (the name sentence-transformers uses)."""
        return self._dimension

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """One vector per text, in order. Texts are batched by length, so a batch pads
        little: the same trick sentence-transformers uses."""
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for batch in _batches(order, batch_size):
            vectors[batch] = self._pooled([encodings[i] for i in batch])
        return vectors

    def _pooled(self, encodings: list) -> np.ndarray:
        length = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)


def _batches(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
