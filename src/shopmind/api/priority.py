"""Keep the event loop first in line for the CPU: every other thread of the server runs niced.

On a small box the server's CPU is taken by worker threads (search, compliance, ingest jobs) and the
native pools under them (onnxruntime, OpenMP, llama.cpp). The event loop itself needs little CPU,
but when it waits behind them, cheap requests (`/health`, auth failures, 413s, job polls) wait too.
Linux schedules threads separately and lets a process lower the priority of its own threads without
privileges, so a background task renices every thread except the loop's (new ones as they appear).
Elsewhere (macOS, Windows) this is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path

_TASKS = Path("/proc/self/task")


def _renice_others(keep: int, nice: int, done: set[int]) -> int:
    """Renice threads not yet seen (except `keep`) to `nice` if they run above it; returns how many."""
    changed = 0
    try:
        tids = [int(p.name) for p in _TASKS.iterdir()]
    except OSError:
        return 0
    for tid in tids:
        if tid == keep or tid in done:
            continue
        done.add(tid)
        with contextlib.suppress(OSError):  # the thread may have ended meanwhile
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                changed += 1
    done.intersection_update(tids)
    return changed


async def keep_loop_first(nice: int, interval_s: float = 0.5) -> None:
    """Run until cancelled: every `interval_s` seconds, put new non-loop threads `nice` steps below
    the loop's own priority (relative, so a server started under `nice` keeps the same gap)."""
    if nice <= 0 or not _TASKS.is_dir() or not hasattr(os, "setpriority"):
        return
    loop_tid = threading.get_native_id()
    target = min(19, os.getpriority(os.PRIO_PROCESS, loop_tid) + nice)
    seen: set[int] = set()
    while True:
        _renice_others(loop_tid, target, seen)
        await asyncio.sleep(interval_s)
