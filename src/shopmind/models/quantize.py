"""INT8 versions of our ONNX encoders, built once next to the fp32 graph and cached.

Why static (QDQ, per-channel) and not dynamic quantisation: on EfficientNet-Lite0 dynamic INT8
turns every convolution into ConvInteger, which onnxruntime runs *slower* than fp32 on CPU and
which drifts badly (pooled-feature cosine to fp32 ≈ 0.78 measured here). Static QDQ with a small
calibration set lets onnxruntime fuse QLinearConv kernels: ≈3× faster with cosine ≈ 0.99.

The calibration images are drawn here (product-like shots: a coloured item on a studio
background), so building the INT8 model needs neither the network nor anyone's catalog, and the
result is the same on every machine for a given seed.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from shopmind.errors import BackendUnavailable, BadInput

QUANT_VERSION = "q1"
DEFAULT_CALIBRATION_IMAGES = 48


def int8_path(fp32_path: Path) -> Path:
    """Where the INT8 graph of `fp32_path` is cached (name carries the quantiser version)."""
    fp32_path = Path(fp32_path)
    return fp32_path.with_name(f"{fp32_path.stem}-int8-{QUANT_VERSION}.onnx")


def calibration_images(n: int = DEFAULT_CALIBRATION_IMAGES, seed: int = 0, size: int = 256) -> list[Image.Image]:
    """Deterministic product-like shots: varied colours, shapes, textures, backgrounds and text bars,
    so the activation ranges seen in calibration cover what catalog photos produce."""
    rng = random.Random(seed)
    out: list[Image.Image] = []
    for i in range(n):
        bg = rng.choice([(255, 255, 255), (246, 245, 241), (222, 226, 232), (30, 30, 34), (200, 190, 170)])
        img = Image.new("RGB", (size, size), bg)
        draw = ImageDraw.Draw(img)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        m = size * rng.uniform(0.1, 0.25)
        box = [m + rng.uniform(-10, 10), m + rng.uniform(-10, 10), size - m, size - m * rng.uniform(0.6, 1.2)]
        shape = i % 4
        if shape == 0:  # garment-like trapezoid with sleeves
            w = box[2] - box[0]
            draw.polygon([(box[0] + w * .25, box[1]), (box[2] - w * .25, box[1]), (box[2], box[1] + w * .3),
                          (box[2] - w * .15, box[3]), (box[0] + w * .15, box[3]), (box[0], box[1] + w * .3)], fill=colour)
        elif shape == 1:
            draw.ellipse(box, fill=colour)
        elif shape == 2:
            draw.rounded_rectangle(box, radius=int(size * .08), fill=colour)
        else:  # a photo-like gradient field
            arr = np.linspace(0, 1, size, dtype=np.float32)[None, :, None] * np.array(colour, np.float32)
            arr = arr + np.linspace(0, 80, size, dtype=np.float32)[:, None, None]
            img = Image.fromarray(np.clip(arr.repeat(size, 0)[:size], 0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(img)
        for _ in range(rng.randint(0, 8)):  # stripes / folds
            y = rng.uniform(box[1], box[3])
            shade = tuple(max(0, min(255, c + rng.randint(-60, 60))) for c in colour)
            draw.line([(box[0], y), (box[2], y + rng.uniform(-12, 12))], fill=shade, width=rng.randint(1, 4))
        if rng.random() < 0.3:
            draw.rectangle([size * .2, size * .82, size * .8, size * .93], fill=(255, 255, 255))
            draw.text((size * .25, size * .84), "SALE 50%", fill=(200, 0, 0))
        if rng.random() < 0.5:
            noise = np.random.default_rng(seed * 1000 + i).normal(0, rng.uniform(2, 12), (size, size, 3))
            img = Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8))
        out.append(img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2))))
    return out


def quantize_static_int8(
    fp32_path: Path,
    out_path: Path,
    batches: Iterable[dict[str, np.ndarray]],
) -> Path:
    """Static QDQ INT8 (per-channel int8 weights, uint8 activations) of an ONNX graph.

    `batches` feeds the calibration (MinMax) one input dict at a time. The graph is written beside
    the target and renamed, so a crash never leaves a half-written model in the cache.
    """
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:  # pragma: no cover - onnxruntime is a base dependency
        raise BackendUnavailable("onnxruntime.quantization is not available") from exc

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise BadInput(f"no ONNX model at {fp32_path}")
    feeds = list(batches)
    if not feeds:
        raise BadInput("static INT8 quantisation needs at least one calibration batch")

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        q = Path(tmp) / "int8.onnx"
        quantize_static(str(pre), str(q), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        os.chmod(q, 0o644)
        os.replace(q, out_path)
    return out_path


def ensure_int8(
    fp32_path: Path,
    preprocess: Callable[[Sequence[Image.Image]], np.ndarray],
    input_name: str = "pixels",
    images: Sequence[Image.Image] | None = None,
) -> Path:
    """The cached INT8 graph of `fp32_path`, built on first use from calibration images."""
    target = int8_path(fp32_path)
    if target.is_file():
        return target
    calib = list(images) if images is not None else calibration_images()
    return quantize_static_int8(fp32_path, target, ({input_name: preprocess([im])} for im in calib))
