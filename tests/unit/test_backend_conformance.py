"""Every registered backend of a kind honours its protocol (in the spirit of scikit-learn's
`check_estimator`): shape, dtype, normalisation, determinism, batch independence and the empty batch.

Backends whose optional dependency or model is missing here are skipped with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from shopmind.errors import BackendUnavailable
from shopmind.models import registry
from shopmind.models.protocols import KIND_PROTOCOLS, LLM, OCR, TTS, ImageEncoder, TextEncoder


def _backend(kind: str, name: str, **settings_overrides):
    from shopmind.config import get_settings

    settings = get_settings()
    if settings_overrides:
        settings = settings.model_copy(update=settings_overrides)
    try:
        return registry.get(kind, name, cache_key=f"conformance|{settings.models_dir}|{sorted(settings_overrides.items())}",
                            models_dir=settings.models_dir, settings=settings)
    except (BackendUnavailable, ImportError) as exc:
        pytest.skip(f"{kind} backend {name!r} unavailable here: {exc}")


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A tiny random CLIP saved locally (same loading path as a hub model; no download)."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    script = Path(__file__).resolve().parents[2] / "scripts" / "make_tiny_clip.py"
    spec = importlib.util.spec_from_file_location("make_tiny_clip", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"), seed=0)


def _get(request, kind: str, name: str):
    """The backend under test; CLIP runs on the tiny local model (no CLIP is configured by default)."""
    if name == "clip":
        return _backend(kind, name, clip_model=str(request.getfixturevalue("tiny_clip_dir")))
    return _backend(kind, name)


def _images() -> list[Image.Image]:
    a = Image.new("RGB", (96, 128), (200, 30, 40))
    b = Image.new("RGB", (64, 64), (20, 40, 220))
    for x in range(0, 64, 8):  # some structure, so the two images differ in more than colour
        b.paste((250, 250, 250), (x, 0, x + 4, 64))
    return [a, b]


def _names(kind: str) -> list[str]:
    return registry.available(kind)


def test_every_kind_has_a_protocol():
    registry.available("image_encoder")  # imports the built-in backends
    kinds = {kind for kind, _ in registry._FACTORIES}
    assert {"image_encoder", "text_encoder", "ocr", "llm", "tts"} <= kinds
    assert kinds - {"nsfw"} <= set(KIND_PROTOCOLS)  # the NSFW screen has its own score API


@pytest.mark.parametrize("name", _names("image_encoder"))
def test_image_encoder_conformance(home, request, name):
    enc = _get(request, "image_encoder", name)
    assert isinstance(enc, ImageEncoder)
    imgs = _images()
    x = enc.encode(imgs)
    assert x.dtype == np.float32 and x.shape == (2, enc.dim) and np.isfinite(x).all()
    assert np.allclose(enc.encode(imgs), x, atol=1e-5)  # deterministic
    assert np.allclose(enc.encode(imgs[:1])[0], x[0], atol=1e-4)  # a row does not depend on its batch
    assert not np.allclose(x[0], x[1])
    feats, logits = enc.features_and_logits(imgs)
    assert np.allclose(feats, x, atol=1e-5)
    assert logits is None or (logits.shape[0] == 2 and logits.dtype == np.float32)
    empty = enc.encode([])
    assert empty.shape == (0, enc.dim)
    if getattr(enc, "shares_text_space", False):
        assert isinstance(enc, TextEncoder)


@pytest.mark.parametrize("name", _names("text_encoder"))
def test_text_encoder_conformance(home, request, name):
    enc = _get(request, "text_encoder", name)
    assert isinstance(enc, TextEncoder)
    texts = ["红色连衣裙 夏季", "blue denim jeans"]
    for fn in (enc.encode_passages, enc.encode_queries):
        v = fn(texts)
        assert v.dtype == np.float32 and v.shape == (2, enc.dim)
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)  # L2-normalised
        assert np.allclose(fn(texts), v, atol=1e-5)
        assert np.allclose(fn(texts[:1])[0], v[0], atol=1e-4)
        assert fn([]).shape == (0, enc.dim)
    assert np.allclose(enc.encode_query(texts[0]), enc.encode_queries(texts[:1])[0], atol=1e-5)
    if name != "clip":  # the tiny CLIP is random: meaning is only checked on real weights
        q = enc.encode_queries(["连衣裙"])[0]
        p = enc.encode_passages(texts)
        assert p[0] @ q > p[1] @ q  # the dress passage is nearer a dress query than jeans


@pytest.mark.parametrize("name", _names("ocr"))
def test_ocr_conformance(home, name):
    ocr = _backend("ocr", name)
    assert isinstance(ocr, OCR)
    blank = Image.new("RGB", (200, 80), (255, 255, 255))
    assert ocr.detect(blank) == []
    assert ocr.read(blank) == []


@pytest.mark.parametrize("name", _names("tts"))
def test_tts_conformance(home, tmp_path, name):
    tts = _backend("tts", name)
    assert isinstance(tts, TTS)
    out = tmp_path / "a.wav"
    seconds = tts.synthesize("hello there", str(out), lang="en")
    assert out.is_file() and 0.2 < seconds < 10
    out2 = tmp_path / "b.wav"
    assert abs(tts.synthesize("hello there", str(out2), lang="en") - seconds) < 1e-6  # deterministic


@pytest.mark.parametrize("name", _names("llm"))
def test_llm_conformance(home, name):
    llm = _backend("llm", name, llm_base_url="http://127.0.0.1:9/v1")  # construction only: no request is made
    assert isinstance(llm, LLM)
    assert isinstance(llm.last_usage, dict)
    assert isinstance(llm.name, str) and llm.name


@pytest.mark.parametrize("name", _names("vector_index"))
def test_vector_index_conformance(home, name):
    from shopmind.config import get_settings
    from shopmind.domain import Filter
    from shopmind.models.protocols import VectorIndex
    from shopmind.search.vector import open_index, reset_open_indexes

    try:
        index = open_index(get_settings(), f"conf_{name.replace('-', '_')}", 4, backend=name)
    except (BackendUnavailable, ImportError) as exc:
        pytest.skip(f"vector backend {name!r} unavailable here: {exc}")
    try:
        assert isinstance(index, VectorIndex)
        vecs = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.9, 0.1, 0, 0]], np.float32)
        index.upsert(["a", "b", "c"], vecs, [{"price": 10.0}, {"price": 20.0}, {"price": 30.0}])
        index.upsert(["a"], vecs[:1], [{"price": 10.0}])  # upsert is idempotent
        assert index.count() == 3
        hits = index.search(np.array([1, 0, 0, 0], np.float32), 2)
        assert [h[0] for h in hits] == ["a", "c"] and hits[0][1] >= hits[1][1]
        assert index.search(np.array([1, 0, 0, 0], np.float32), 3) == index.search(np.array([1, 0, 0, 0], np.float32), 3)
        assert index.search(vecs[0], 5, restrict_ids=[]) == []
        assert [h[0] for h in index.search(vecs[0], 5, restrict_ids=["b"])] == ["b"]
        cheap = [Filter(field="price", op=">", value=15.0)]
        if index.can_filter(cheap):
            assert {h[0] for h in index.search(vecs[0], 5, cheap)} == {"b", "c"}
        got = index.get_vectors(["b", "zzz"])
        assert set(got) == {"b"} and np.allclose(got["b"], vecs[1], atol=1e-5)
        index.delete(["c"])
        assert index.count() == 2
    finally:
        reset_open_indexes()
