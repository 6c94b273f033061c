"""Work that stops when its client leaves.

An LLM answer takes seconds to tens of seconds on a CPU. If the client hangs up (a closed tab, a
timeout, a cancelled `fetch`), nobody reads the result, so the server should stop generating
instead of holding an LLM slot and a worker thread. Routes hand the operation a `threading.Event`.
A small task on the event loop asks Starlette whether the client is still connected and sets the
event when it is not. The operation checks the event at each token and stops with `Cancelled`
(HTTP 499, which nobody will read but logs and tests can see).

Streamed responses need no watcher: Starlette stops iterating the body when the client leaves, and
`cancel_on_close` turns that into the same event.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

import anyio
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request

T = TypeVar("T")
POLL_S = 0.1  # how often the watcher asks; a disconnect is seen within this (plus one token)


async def run_until_disconnect(request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, cancel=event, **kwargs)` in the thread pool; `event` is set once the client disconnects."""
    cancel = threading.Event()
    result: list[T] = []
    failure: list[BaseException] = []

    async def watch() -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await anyio.sleep(POLL_S)

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            result.append(await run_in_threadpool(func, *args, cancel=cancel, **kwargs))
        except Exception as exc:  # re-raised below as itself, not wrapped in the task group's ExceptionGroup
            failure.append(exc)
        finally:
            group.cancel_scope.cancel()  # the work is over (done, failed or cancelled): stop watching
    if failure:
        raise failure[0]
    return result[0]


async def cancel_on_close(items: Iterable[T], cancel: threading.Event) -> AsyncIterator[T]:
    """Iterate a blocking iterator off the loop; set `cancel` when the response stops early (client gone)."""
    try:
        async for item in iterate_in_threadpool(iter(items)):
            yield item
    finally:
        cancel.set()
