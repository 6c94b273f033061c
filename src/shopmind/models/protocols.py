"""The small interfaces every backend implements. Capabilities depend on these, not on classes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class ImageEncoder(Protocol):
    """Pixels -> features. `dim` is the width of `encode`'s rows."""

    name: str
    dim: int

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray: ...


@runtime_checkable
class TextEncoder(Protocol):
    """Strings -> L2-normalised vectors; queries and passages may be encoded differently."""

    name: str
    dim: int

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class OCR(Protocol):
    """Text in images. `detect` is cheap (boxes only) and gates the costly `read`."""

    name: str

    def detect(self, image: Image.Image) -> list[list[float]]: ...

    def read(self, image: Image.Image) -> list[tuple[list[float], str, float]]: ...


@runtime_checkable
class LLM(Protocol):
    """Chat completion; `stream` yields text pieces as they come."""

    name: str

    def complete(self, messages: list[dict[str, str]], **opts: Any) -> str: ...

    def stream(self, messages: list[dict[str, str]], **opts: Any) -> Iterator[str]: ...


@runtime_checkable
class FaceDetector(Protocol):
    name: str

    def detect(self, image: Image.Image) -> list[tuple[list[float], float]]: ...


@runtime_checkable
class TTS(Protocol):
    name: str

    def synthesize(self, text: str, out_path: str, *, lang: str = "zh") -> float: ...
