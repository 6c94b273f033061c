"""Run script lines through `shopmind.compliance` when it is installed; degrade gracefully when not.

The compliance capability is optional for the live studio: it is imported lazily, any
violation is rewritten with the checker's own suggestion when it offers one, and a line that
still violates (or cannot be rewritten) is dropped in every language, so languages stay aligned.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from shopmind.errors import ShopmindError

Checker = Callable[..., Any]


def load_checker() -> tuple[Checker | None, str]:
    """`(check, status)`; status says why checking is off when `check` is None."""
    try:
        module = importlib.import_module("shopmind.compliance")
    except ImportError:
        return None, "shopmind.compliance is not installed; lines were not screened"
    check = getattr(module, "check", None)
    if not callable(check):
        return None, "shopmind.compliance has no check(); lines were not screened"
    return check, "on"


def _violations(result: Any) -> list[Any]:
    return [f for f in getattr(result, "findings", []) or [] if getattr(f, "severity", "violation") == "violation"]


def _apply_rewrites(text: str, findings: list[Any]) -> str | None:
    """Swap each violating sentence for the checker's rewritten sentence; None if one has no rewrite.

    A finding without a `sentence` is read as a span-level rewrite (right to left so offsets hold).
    """
    for f in sorted(findings, key=lambda f: f.start, reverse=True):
        if f.rewrite is None:
            return None
        sentence = getattr(f, "sentence", "") or ""
        if sentence and sentence in text:
            text = text.replace(sentence, f.rewrite, 1)
        elif text[f.start : f.end] == f.span:
            text = text[: f.start] + f.rewrite + text[f.end :]
        else:
            return None
    return text


def _run(check: Checker, text: str, category: str | None) -> Any:
    """Check with the product's category; a category the checker does not know falls back to none."""
    if category is not None:
        try:
            return check(text, category=category)
        except ShopmindError:
            pass
    return check(text, category=None)


def screen(check: Checker, text: str, category: str | None) -> tuple[str | None, list[str]]:
    """The text to keep (rewritten if needed) or None to drop it, plus notes on what was found."""
    result = _run(check, text, category)
    bad = _violations(result)
    notes = [f"borderline: {f.span} ({f.category})" for f in getattr(result, "findings", []) or []
             if getattr(f, "severity", "") == "borderline"]
    if not bad:
        return text, notes
    rewritten = _apply_rewrites(text, bad)
    if rewritten is None or _violations(_run(check, rewritten, category)):
        return None, notes + [f"dropped: {f.span} ({f.category})" for f in bad]
    return rewritten, notes + [f"rewrote: {f.span} -> {f.rewrite}" for f in bad]
