"""OCR backend: RapidOCR (PP-OCRv4 detection + recognition, zh + en) on onnxruntime, weights bundled.

`detect` runs only the (cheap) text detector so the costly recogniser runs on images that have
text at all — most catalog photos have none.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from PIL import Image

from shopmind.errors import BackendUnavailable
from shopmind.models.registry import register


def _to_bgr(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _flat_box(points) -> list[float]:
    """Quadrilateral [[x,y]×4] -> axis-aligned [x1, y1, x2, y2]."""
    arr = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 0].max()), float(arr[:, 1].max())]


@register("ocr", "rapidocr")
class RapidOCRBackend:
    """Text in product images. Thread-safe: one engine, calls serialised (onnxruntime sessions are)."""

    name = "rapidocr"

    def __init__(self, threads: int | None = None, **_: object) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise BackendUnavailable(
                "OCR needs rapidocr_onnxruntime: `pip install --no-deps rapidocr_onnxruntime pyclipper shapely six`"
            ) from exc
        from shopmind.config import get_settings

        n = threads or get_settings().ocr_threads or min(2, os.cpu_count() or 1)
        self._engine = RapidOCR(intra_op_num_threads=n, inter_op_num_threads=1)
        self._lock = threading.Lock()

    def detect(self, image: Image.Image) -> list[list[float]]:
        """Boxes of text regions ([x1, y1, x2, y2]); empty when the image carries no text."""
        with self._lock:
            result, _ = self._engine(_to_bgr(image), use_det=True, use_cls=False, use_rec=False)
        return [_flat_box(b) for b in (result or [])]

    def read(self, image: Image.Image) -> list[tuple[list[float], str, float]]:
        """(box, text, confidence) per text line, top to bottom."""
        with self._lock:
            result, _ = self._engine(_to_bgr(image), use_det=True, use_cls=True, use_rec=True)
        lines = [(_flat_box(box), str(text), float(score)) for box, text, score in (result or [])]
        return sorted(lines, key=lambda line: (line[0][1], line[0][0]))
