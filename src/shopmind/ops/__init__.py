"""Operations: the named workflows the CLI, the API and jobs share (interfaces only parse and print).

Every operation takes the `Shopmind` app object first and has the same name everywhere:
`shopmind.ops.search(app, ...)` in Python (or `app.ops.search(...)`), `shopmind search` on the
command line and a route in the API. `OPERATIONS` records, for each name, which CLI command and
which API route expose it; `tests/unit/test_app_core.py` checks both really exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    """One named operation and the two interfaces that expose it."""

    name: str
    func: Callable[..., Any]
    cli: str  # command path, e.g. "search" or "service triage"
    api: str  # "METHOD /path" as in the OpenAPI schema, e.g. "POST /search"
    summary: str = ""

    def __call__(self, app: Any, *args: Any, **kwargs: Any) -> Any:
        return self.func(app, *args, **kwargs)


OPERATIONS: dict[str, Operation] = {}


def operation(name: str, *, cli: str, api: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `func` as operation `name` (its docstring's first line is the summary)."""

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in OPERATIONS:
            raise ValueError(f"operation {name!r} is registered twice")
        summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        OPERATIONS[name] = Operation(name, func, cli, api, summary)
        return func

    return deco


from shopmind.ops import core as _core  # noqa: E402  (registers the operations)

globals().update({name: op.func for name, op in OPERATIONS.items()})
__all__ = ["OPERATIONS", "Operation", "operation", *sorted(OPERATIONS)]
del _core
