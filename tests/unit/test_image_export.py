"""The one-time ONNX export must keep stdout clean: the CLI's --json output shares it."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from shopmind.models.image_efficientnet import EfficientNetLite0, export_onnx  # noqa: E402


def test_export_writes_nothing_to_stdout_and_makes_a_readable_model(tmp_path, capfd):
    out = export_onnx(tmp_path / "lite0.onnx")
    captured = capfd.readouterr()
    assert captured.out == ""
    assert out.exists() and out.stat().st_size > 1_000_000
    assert stat.S_IMODE(os.stat(out).st_mode) & 0o044 == 0o044  # readable by the host's other users
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lite0-classifier.npz", "lite0.onnx"]  # no temp file left


def test_cold_cache_encoder_builds_its_model_and_encodes(tmp_path, capfd):
    enc = EfficientNetLite0(models_dir=tmp_path, threads=1)
    feats = enc.encode([Image.new("RGB", (64, 96), (200, 20, 20))])
    assert capfd.readouterr().out == ""
    assert feats.shape == (1, 1280) and np.isfinite(feats).all()


def test_logits_from_stored_features_match_the_graph(tmp_path):
    """The zero-shot bridge is rebuilt from stored features: the linear classifier must reproduce the graph."""
    enc = EfficientNetLite0(models_dir=tmp_path, threads=1)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, size=(80, 60, 3), dtype=np.uint8)) for _ in range(3)]
    feats, logits = enc.features_and_logits(images)
    assert np.allclose(enc.logits_from_features(feats), logits, atol=1e-3)
    # stored features are float16: the top classes survive the round trip
    again = enc.logits_from_features(feats.astype(np.float16))
    assert (again.argmax(axis=1) == logits.argmax(axis=1)).all()
