"""The small interfaces every backend implements. Capabilities depend on these, not on classes.

They list what the capabilities really call (checked by `tests/unit/test_backend_conformance.py`,
which runs every registered backend of a kind through the same shape/dtype/normalisation/
determinism/empty-batch checks). Optional extras are marked as such: callers test for them with
`getattr`/`hasattr` and fall back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class ImageEncoder(Protocol):
    """Pixels -> features. `dim` is the width of `encode`'s rows (float32, one row per image;
    an empty batch gives a (0, dim) array).

    `features_and_logits` also returns ImageNet logits (None for encoders without a classifier),
    which the zero-shot bridge turns into text-space vectors. An encoder whose features already
    live in the text encoder's space (CLIP) sets `shares_text_space = True` and then also has
    `encode_passages`/`encode_queries`. Optional: `logits_from_features(feats)` rebuilds logits
    from stored features without decoding images again."""

    name: str
    dim: int

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def features_and_logits(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray | None]: ...


@runtime_checkable
class TextEncoder(Protocol):
    """Strings -> L2-normalised float32 vectors; queries and passages may be encoded differently
    (e5 prefixes them). Batches give (n, dim); an empty batch gives (0, dim)."""

    name: str
    dim: int

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class OCR(Protocol):
    """Text in images. `detect` is cheap (boxes only) and gates the costly `read`."""

    name: str

    def detect(self, image: Image.Image) -> list[list[float]]: ...

    def read(self, image: Image.Image) -> list[tuple[list[float], str, float]]: ...


@runtime_checkable
class LLM(Protocol):
    """Chat completion; `stream` yields text pieces as they come. `last_usage` holds the token
    counts and timings of the latest call (prompt/completion tokens, seconds, first-token time)."""

    name: str
    last_usage: dict[str, Any]

    def complete(self, messages: list[dict[str, str]], **opts: Any) -> str: ...

    def stream(self, messages: list[dict[str, str]], **opts: Any) -> Iterator[str]: ...


@runtime_checkable
class FaceDetector(Protocol):
    """Face boxes [x1, y1, x2, y2] in pixels with a score."""

    name: str

    def detect(self, image: Image.Image) -> list[tuple[list[float], float]]: ...


@runtime_checkable
class TTS(Protocol):
    """Speak `text` into a WAV at `out_path`; returns its duration in seconds."""

    name: str

    def synthesize(self, text: str, out_path: str, *, lang: str = "zh") -> float: ...


@runtime_checkable
class VectorIndex(Protocol):
    """One collection of L2-normalised vectors keyed by product id, with filterable metadata.
    Backends register as kind "vector_index" (LanceDB, Qdrant in `search/vector.py`)."""

    name: str
    dim: int

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadata: Sequence[dict] | None = None) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def count(self) -> int: ...

    def can_filter(self, filters: Sequence[Any]) -> bool: ...

    def search(self, vector: np.ndarray, k: int, filters: Sequence[Any] | None = None,
               restrict_ids: Sequence[str] | None = None) -> list[tuple[str, float]]: ...

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def build_ann(self, force: bool = False) -> bool: ...


# The protocol each registry kind's backends implement (`registry.get` results are typed by these).
KIND_PROTOCOLS: dict[str, type] = {
    "image_encoder": ImageEncoder,
    "text_encoder": TextEncoder,
    "ocr": OCR,
    "llm": LLM,
    "face_detector": FaceDetector,
    "tts": TTS,
    "vector_index": VectorIndex,
}
