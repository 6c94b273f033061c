"""CLIP backend on tiny random checkpoints built and saved here: same loading code path as real hub models."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("transformers")

from shopmind.errors import BackendUnavailable, BadInput  # noqa: E402
from shopmind.models import clip as clip_mod  # noqa: E402
from shopmind.models import registry  # noqa: E402
from shopmind.models.protocols import ImageEncoder, TextEncoder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _builder():
    spec = importlib.util.spec_from_file_location("make_tiny_clip", REPO / "scripts" / "make_tiny_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return _builder().make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"), seed=0)


@pytest.fixture(scope="module")
def tiny_cnclip(tmp_path_factory) -> Path:
    return _builder().make_tiny_chinese_clip(tmp_path_factory.mktemp("tiny-cnclip"), seed=0)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clip_mod.clear_shared()
    registry.clear()
    yield
    clip_mod.clear_shared()
    registry.clear()


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (48, 30, 3), dtype=np.uint8))
    return [Image.new("RGB", (40, 60), (220, 20, 20)), Image.new("RGB", (64, 64), (20, 20, 220)), noise, Image.new("L", (20, 20), 128)]


TEXTS = ["red shirt", "blue dress", "红色连衣裙 女款", "a bag", "纯棉衬衫"]


def _check_encoder(enc) -> None:
    """Shapes, normalisation, determinism and batch/single consistency for either checkpoint kind."""
    ims = _images()
    img = enc.encode(ims)
    assert img.shape == (len(ims), enc.dim) and img.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(img[0], img[1], atol=1e-4), "different images must not collapse to one vector"
    np.testing.assert_allclose(enc.encode(ims), img, atol=1e-6)  # deterministic
    singles = np.vstack([enc.encode([im]) for im in ims])
    np.testing.assert_allclose(singles, img, atol=1e-5)
    np.testing.assert_allclose(enc.encode(ims, batch_size=3), img, atol=1e-5)

    feats, logits = enc.features_and_logits(ims[:2])
    assert logits is None
    np.testing.assert_allclose(feats, img[:2], atol=1e-6)

    txt = enc.encode_passages(TEXTS)
    assert txt.shape == (len(TEXTS), enc.dim) and txt.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1.0, atol=1e-5)
    assert img.shape[1] == txt.shape[1], "image and text must share one space"
    # Padding in a mixed-length batch must not change any row.
    np.testing.assert_allclose(enc.encode_passages(TEXTS, batch_size=1), txt, atol=1e-5)
    np.testing.assert_allclose(enc.encode_queries(TEXTS, batch_size=2), txt, atol=1e-5)
    q = enc.encode_query(TEXTS[2])
    assert q.shape == (enc.dim,)
    np.testing.assert_allclose(q, txt[2], atol=1e-5)
    assert not np.allclose(txt[0], txt[1], atol=1e-4)

    assert enc.encode([]).shape == (0, enc.dim)
    assert enc.encode_passages([]).shape == (0, enc.dim)
    blank = enc.encode_passages(["", "   "])
    np.testing.assert_allclose(np.linalg.norm(blank, axis=1), 1.0, atol=1e-5)


def test_tiny_clip_encodes_images_and_texts(tiny_clip):
    enc = clip_mod.load_clip(str(tiny_clip))
    assert enc.kind == "clip"
    assert enc.dim == 16 and enc.shares_text_space is True
    assert enc.name == f"clip:{tiny_clip}"
    assert isinstance(enc, ImageEncoder) and isinstance(enc, TextEncoder)
    _check_encoder(enc)


def test_tiny_clip_tokenizer_merges_words(tiny_clip):
    """The hand-built BPE really merges whole words (the saved tokenizer is the one the backend loads)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_clip)
    pieces = tok.convert_ids_to_tokens(tok("Red  SHIRT")["input_ids"])
    assert pieces == ["<|startoftext|>", "red</w>", "shirt</w>", "<|endoftext|>"]


def test_long_texts_are_truncated_to_the_model_length(tiny_clip):
    enc = clip_mod.load_clip(str(tiny_clip))
    head = "red shirt blue dress " * 10  # far more than the 16-token context
    a, b = enc.encode_passages([head + "shoe", head + "completely different ending"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_reload_gives_same_vectors(tiny_clip):
    first = clip_mod.load_clip(str(tiny_clip))
    v1 = first.encode_passages(TEXTS)
    assert clip_mod.load_clip(str(tiny_clip)) is first  # loaded once per path
    clip_mod.clear_shared()
    second = clip_mod.load_clip(str(tiny_clip))
    assert second is not first
    np.testing.assert_allclose(second.encode_passages(TEXTS), v1, atol=1e-6)


def test_registry_shares_one_instance(tiny_clip, home, monkeypatch):
    from shopmind.config import get_settings

    monkeypatch.setenv("SHOPMIND_CLIP_MODEL", str(tiny_clip))
    get_settings.cache_clear()
    settings = get_settings()
    assert "clip" in registry.available("image_encoder") and "clip" in registry.available("text_encoder")
    image_enc = registry.get("image_encoder", "clip", models_dir=settings.models_dir, settings=settings)
    text_enc = registry.get("text_encoder", "clip", models_dir=settings.models_dir, settings=settings)
    assert image_enc is text_enc
    assert image_enc.encode(_images()[:1]).shape == (1, 16)
    assert text_enc.encode_query("red shirt").shape == (16,)


def test_unconfigured_clip_says_how_to_configure(home, monkeypatch):
    from shopmind.config import get_settings

    monkeypatch.delenv("SHOPMIND_CLIP_MODEL", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    with pytest.raises(BackendUnavailable, match="SHOPMIND_CLIP_MODEL"):
        registry.get("image_encoder", "clip", models_dir=settings.models_dir, settings=settings)


def test_missing_and_wrong_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(BackendUnavailable, match="not found") as err:
        clip_mod.load_clip(str(tmp_path / "no-such-model"))
    assert err.value.http_status == 503 and err.value.code == "backend_unavailable"
    with pytest.raises(BackendUnavailable, match="not found"):
        clip_mod.load_clip(str(tmp_path / "weights.safetensors"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackendUnavailable, match="no config.json"):
        clip_mod.load_clip(str(empty))
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    with pytest.raises(BackendUnavailable, match="model_type 'bert'"):
        clip_mod.load_clip(str(bert))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "clip"}), encoding="utf-8")
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        clip_mod.load_clip(str(broken))


def test_bad_inputs_are_typed(tiny_clip):
    enc = clip_mod.load_clip(str(tiny_clip))
    with pytest.raises(BadInput):
        enc.encode([Image.new("RGB", (8, 8)), "not an image"])  # type: ignore[list-item]
    with pytest.raises(BadInput):
        enc.encode_passages("one string, not a list")


def test_tiny_chinese_clip(tiny_cnclip):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_cnclip)
    pieces = tok.convert_ids_to_tokens(tok("红色衬衫 red")["input_ids"])
    assert pieces == ["[CLS]", "红", "色", "衬", "衫", "red", "[SEP]"]
    enc = clip_mod.load_clip(str(tiny_cnclip))
    assert enc.kind == "chinese_clip" and enc.dim == 16
    _check_encoder(enc)
    a, b = enc.encode_passages(["红色衬衫", "蓝色连衣裙"])
    assert not np.allclose(a, b, atol=1e-4)


def _open_clip_or_skip():
    try:
        import open_clip
    except Exception as exc:  # noqa: BLE001 - e.g. a torchvision built for another torch fails at import
        pytest.skip(f"open_clip not usable here: {exc}")
    return open_clip


def test_tiny_open_clip_from_config(tmp_path):
    open_clip = _open_clip_or_skip()
    name = "shopmind-tiny-test"
    cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    open_clip.add_model_config(path)
    enc = clip_mod.load_clip(name)
    assert enc.kind == "open_clip" and enc.dim == 16
    _check_encoder(enc)


def test_checkpoint_kind_detection(tiny_clip, tiny_cnclip):
    assert clip_mod.detect_kind(str(tiny_clip)) == "clip"
    assert clip_mod.detect_kind(str(tiny_cnclip)) == "chinese_clip"
    assert clip_mod.detect_kind("ViT-B-32") == "open_clip"
    assert clip_mod.detect_kind("hf-hub:Marqo/marqo-fashionSigLIP") == "open_clip"


def test_open_clip_name_without_open_clip_is_a_clear_error():
    try:
        import open_clip  # noqa: F401
    except Exception:  # noqa: BLE001
        with pytest.raises(BackendUnavailable, match="open_clip_torch"):
            clip_mod.load_clip("ViT-B-32", "laion2b_s34b_b79k")
    else:
        pytest.skip("open_clip is installed; the missing-package message cannot be shown")


def test_hub_id_offline_is_backend_unavailable(tmp_path):
    """A hub id with no network and no cache fails with BackendUnavailable, not a hang or a raw traceback."""
    import os
    import subprocess
    import sys

    code = (
        "from shopmind.errors import BackendUnavailable\n"
        "from shopmind.models.clip import load_clip\n"
        "try:\n    load_clip('openai/clip-vit-base-patch32')\n"
        "except BackendUnavailable as exc:\n    print('UNAVAILABLE', exc.code)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "UNAVAILABLE backend_unavailable" in out.stdout, out.stderr[-2000:]
