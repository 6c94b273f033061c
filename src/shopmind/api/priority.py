"""Keep the event loop responsive: every other thread of the server runs niced, and slow full
garbage collections freeze the live heap (`GcPauses`).

On a small box the server's CPU is taken by worker threads (search, compliance, ingest jobs) and the
native pools under them (onnxruntime, OpenMP, llama.cpp). The event loop itself needs little CPU,
but when it waits behind them, cheap requests (`/health`, auth failures, 413s, job polls) wait too.
Linux schedules threads separately and lets a process lower the priority of its own threads without
privileges, so a background task renices every thread except the loop's (new ones as they appear).
Elsewhere (macOS, Windows) the renicing is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
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


class GcPauses:
    """Keep full garbage collections short: the server's long-lived objects (word dictionaries,
    lexicons, BM25 and model state, loaded lazily) make every generation-2 pass walk millions of
    objects, a 100–200 ms stop of every thread, the loop included (measured: 14 such passes in 40 s
    under load, each 55–175 ms, which was the whole /health p99 tail). When a full pass takes longer
    than `limit_ms`, the loop task collects once and freezes what survives (`gc.freeze`), so later
    passes skip it. Garbage is collected before each freeze, so only live objects are frozen."""

    def __init__(self, limit_ms: float, min_interval_s: float = 10.0) -> None:
        self.limit_ms = limit_ms
        self.min_interval_s = min_interval_s
        self.slow_passes = 0
        self.freezes = 0
        self._started = 0.0
        self._due = False
        self._last_freeze = -1e9

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif (time.perf_counter() - self._started) * 1000 > self.limit_ms:
            self.slow_passes += 1
            self._due = True

    def install(self) -> None:
        if self.limit_ms > 0 and self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)

    def maybe_freeze(self) -> bool:
        """Collect and freeze if a slow full pass happened (at most once per `min_interval_s`)."""
        now = time.monotonic()
        if not self._due or now - self._last_freeze < self.min_interval_s:
            return False
        self._due = False
        self._last_freeze = now
        gc.collect()
        gc.freeze()
        self.freezes += 1
        return True


async def keep_loop_responsive(nice: int, gc_limit_ms: float, interval_s: float = 0.5) -> None:
    """The server's background task, until cancelled: every `interval_s` seconds put new non-loop
    threads `nice` steps below the loop's own priority (relative, so a server started under `nice`
    keeps the same gap), and freeze the heap after slow full collections (see `GcPauses`)."""
    renice = nice > 0 and _TASKS.is_dir() and hasattr(os, "setpriority")
    if not renice and gc_limit_ms <= 0:
        return
    pauses = GcPauses(gc_limit_ms)
    pauses.install()
    loop_tid = threading.get_native_id()
    target = min(19, os.getpriority(os.PRIO_PROCESS, loop_tid) + nice) if renice else 0
    seen: set[int] = set()
    try:
        while True:
            if renice:
                _renice_others(loop_tid, target, seen)
            pauses.maybe_freeze()
            await asyncio.sleep(interval_s)
    finally:
        pauses.remove()
