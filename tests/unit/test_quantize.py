"""INT8 image encoder: static quantisation, the cached graph beside the fp32 one, and the switches
(`image_precision` setting, SHOPMIND_IMAGE_PRECISION, `shopmind config set`).

A tiny conv net with the same input/output names stands in for EfficientNet-Lite0, so the whole
wiring runs in seconds; the real model's speed and accuracy are measured in docs/benchmarks.md.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime.quantization")
torch = pytest.importorskip("torch")

from shopmind.config import Settings, get_settings  # noqa: E402
from shopmind.errors import BadInput  # noqa: E402
from shopmind.models import registry  # noqa: E402
from shopmind.models.image_efficientnet import EfficientNetLite0, preprocess  # noqa: E402
from shopmind.models.quantize import calibration_images, ensure_int8, int8_path, quantize_static_int8  # noqa: E402


class _Tiny(torch.nn.Module):
    """pixels -> (features 16-d, logits 1000) like the exported EfficientNet graph."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.ReLU6(), torch.nn.Conv2d(8, 16, 3, stride=2), torch.nn.ReLU6()
        )
        self.fc = torch.nn.Linear(16, 1000)

    def forward(self, x):
        pooled = self.body(x).mean(dim=(2, 3))
        return pooled, self.fc(pooled)


def _export_tiny(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(_Tiny().eval(), torch.zeros(1, 3, 224, 224), str(path), input_names=["pixels"],
                      output_names=["features", "logits"], dynamic_axes={"pixels": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    return path


def test_calibration_images_are_deterministic_and_varied():
    a, b = calibration_images(6, seed=3), calibration_images(6, seed=3)
    assert [np.asarray(x).tobytes() for x in a] == [np.asarray(x).tobytes() for x in b]
    means = [np.asarray(x, np.float32).mean() for x in a]
    assert max(means) - min(means) > 10  # not one flat picture repeated


def test_static_int8_is_close_to_fp32(tmp_path):
    import onnx
    import onnxruntime as ort

    fp32 = _export_tiny(tmp_path / "tiny.onnx")
    calib = calibration_images(8)
    out = quantize_static_int8(fp32, tmp_path / "tiny-int8.onnx", ({"pixels": preprocess([im])} for im in calib))
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops  # really quantised, not a copy
    x = preprocess(calibration_images(4, seed=9))
    ref = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]).run(["features"], {"pixels": x})[0]
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["features"], {"pixels": x})[0]
    cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
    assert cos.min() > 0.95, cos


def test_quantise_refuses_missing_model_and_empty_calibration(tmp_path):
    with pytest.raises(BadInput):
        quantize_static_int8(tmp_path / "nope.onnx", tmp_path / "q.onnx", [])
    fp32 = _export_tiny(tmp_path / "tiny.onnx")
    with pytest.raises(BadInput):
        quantize_static_int8(fp32, tmp_path / "q.onnx", [])


def test_int8_encoder_builds_once_and_caches_beside_fp32(tmp_path):
    enc = EfficientNetLite0(models_dir=tmp_path, precision="int8")
    _export_tiny(enc.onnx_path)  # stand-in for the exported EfficientNet-Lite0 graph
    feats = enc.encode(calibration_images(3, seed=5))
    assert feats.shape == (3, 16) and np.isfinite(feats).all()
    assert enc.name == "efficientnet-lite0-int8"  # the store re-embeds when the precision changes
    cached = int8_path(enc.onnx_path)
    assert cached.is_file() and cached.parent == enc.onnx_path.parent
    stamp = cached.stat().st_mtime_ns
    again = EfficientNetLite0(models_dir=tmp_path, precision="int8")
    assert np.allclose(again.encode(calibration_images(3, seed=5)), feats, atol=1e-5)
    assert cached.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert ensure_int8(enc.onnx_path, preprocess) == cached
    fp32 = EfficientNetLite0(models_dir=tmp_path)
    assert fp32.name == "efficientnet-lite0" and fp32.precision == "fp32"


def test_bad_precision_is_a_typed_error(tmp_path):
    with pytest.raises(BadInput):
        EfficientNetLite0(models_dir=tmp_path, precision="int4")


def test_env_and_config_command_switch_precision(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from shopmind.cli import config_cmd
    from shopmind.understand import encoders
    from tests.unit.cli_app import area_app

    monkeypatch.setenv("SHOPMIND_HOME", str(tmp_path))
    monkeypatch.delenv("SHOPMIND_CONFIG", raising=False)
    monkeypatch.delenv("SHOPMIND_IMAGE_PRECISION", raising=False)
    get_settings.cache_clear()
    registry.clear()
    try:
        assert encoders.image_encoder(get_settings()).precision == "fp32"
        app = area_app(config_cmd.register, typed_errors=True)
        runner = CliRunner()
        res = runner.invoke(app, ["config", "set", "image_precision", "int8"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["value"] == "int8"
        get_settings.cache_clear()
        assert get_settings().image_precision == "int8"
        assert encoders.image_encoder(get_settings()).name == "efficientnet-lite0-int8"
        bad = runner.invoke(app, ["config", "set", "image_precision", "int4"])
        assert bad.exit_code == 2 and "not valid" in bad.output
        unknown = runner.invoke(app, ["config", "set", "no_such_thing", "1"])
        assert unknown.exit_code == 2
        monkeypatch.setenv("SHOPMIND_IMAGE_PRECISION", "fp32")  # the environment beats the file
        get_settings.cache_clear()
        res = runner.invoke(app, ["config", "get", "image_precision"])
        assert json.loads(res.stdout) == {"key": "image_precision", "value": "fp32", "source": "env"}
        assert Settings(image_precision="int8").image_precision == "int8"
    finally:
        get_settings.cache_clear()
        registry.clear()
