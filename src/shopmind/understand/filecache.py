"""A value read from one file and kept until that file changes (by mtime and size)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class FileCache(Generic[T]):
    """Holds what `load` read from `path`; reads again only when the file's mtime or size (or the
    path) changed, and gives None while the file does not exist. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._value: T | None = None

    def read(self, path: Path, load: Callable[[], T]) -> T | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._key != key:
                self._value, self._key = load(), key
            return self._value
