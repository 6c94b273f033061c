"""The server renices its non-event-loop threads so the loop answers cheap requests first (Linux)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from shopmind.api.priority import _renice_others, keep_loop_responsive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux-only")


def _thread_tid(stop: threading.Event) -> tuple[threading.Thread, int]:
    box: list[int] = []
    ready = threading.Event()

    def run() -> None:
        box.append(threading.get_native_id())
        ready.set()
        stop.wait(10)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(5)
    return t, box[0]


def test_other_threads_are_reniced_and_the_keeper_is_not() -> None:
    stop = threading.Event()
    thread, tid = _thread_tid(stop)
    me = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, me)
    try:
        seen: set[int] = set()
        assert _renice_others(me, before + 3, seen) >= 1
        assert os.getpriority(os.PRIO_PROCESS, tid) == before + 3
        assert os.getpriority(os.PRIO_PROCESS, me) == before
        assert _renice_others(me, before + 3, seen) == 0  # already seen: not touched again
    finally:
        stop.set()
        thread.join(5)


def test_background_task_renices_threads_started_later_and_stops_on_cancel() -> None:
    async def main() -> int:
        task = asyncio.create_task(keep_loop_responsive(4, 0, interval_s=0.02))
        stop = threading.Event()
        thread, tid = _thread_tid(stop)
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if os.getpriority(os.PRIO_PROCESS, tid) >= min(19, max(base, 4)):
                break
        prio = os.getpriority(os.PRIO_PROCESS, tid)
        task.cancel()
        stop.set()
        thread.join(5)
        return prio

    assert asyncio.run(main()) >= 4


def test_off_when_nice_is_zero() -> None:
    assert asyncio.run(asyncio.wait_for(keep_loop_responsive(0, 0), 1)) is None


def test_a_slow_full_collection_freezes_the_live_heap_once() -> None:
    import gc

    from shopmind.api.priority import GcPauses

    pauses = GcPauses(limit_ms=0.0001, min_interval_s=3600)
    pauses.install()
    frozen_before = gc.get_freeze_count()
    try:
        junk = [[i] for i in range(50_000)]  # enough objects for a measurable full pass
        gc.collect(2)
        assert pauses.slow_passes >= 1
        assert pauses.maybe_freeze() is True
        assert gc.get_freeze_count() > frozen_before
        gc.collect(2)
        assert pauses.maybe_freeze() is False  # at most once per interval
        del junk
    finally:
        pauses.remove()
        gc.unfreeze()
    assert pauses._callback not in gc.callbacks


def test_gc_guard_is_off_at_zero() -> None:
    import gc

    from shopmind.api.priority import GcPauses

    pauses = GcPauses(limit_ms=0)
    pauses.install()
    assert pauses._callback not in gc.callbacks
    assert pauses.maybe_freeze() is False
