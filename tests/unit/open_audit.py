"""Record every file the process opens (builtins.open, os.open, io.open_code) while a block runs.

An audit hook sees opens at the interpreter level, so a test can prove a path was *never opened*
(not just "not stored"), whatever code path — ours, PIL's, the tar module's — tried it.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

_active: list[list[str]] = []
_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _active or not args:
        return
    path = args[0]
    if isinstance(path, int) or path is None:
        return
    try:
        text = os.fsdecode(path)
    except (TypeError, ValueError):
        return
    with _lock:
        for sink in _active:
            sink.append(text)


@contextmanager
def recorded_opens():
    """`with recorded_opens() as opened: ...` then check `opened` (absolute or relative path strings)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)  # hooks cannot be removed; it is inert when nothing records
        _installed = True
    sink: list[str] = []
    _active.append(sink)
    try:
        yield sink
    finally:
        _active.remove(sink)


def opened_any(opened: list[str], targets) -> list[str]:
    """The recorded opens that resolve to one of `targets` (symlinks resolved on both sides)."""
    wanted = {os.path.realpath(t) for t in targets} | {os.path.abspath(t) for t in targets}
    hits = []
    for p in opened:
        for form in {os.path.abspath(p), os.path.realpath(p)}:
            if form in wanted:
                hits.append(p)
                break
    return hits
