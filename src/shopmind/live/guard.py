"""Every live-script line passes `compliance.guard` — the same gate as posters, videos and `write`.

The guard rewrites a violating line without adding claims, or empties it; an emptied line is
dropped in every language, so the languages stay aligned. Lines with prices were verified against
the optimiser's quote and are checked for compliance only (their converted amounts are not the
catalog price); every other line is also checked against the product's facts, image colours included.
"""

from __future__ import annotations

from typing import Any

from shopmind.compliance.guard import GuardResult, guard


def screen(text: str, category: str | None, product: Any = None, facts: dict[str, str] | None = None) -> tuple[str | None, list[str]]:
    """The text to keep (rewritten if needed) or None to drop it, plus notes on what was found."""
    g: GuardResult = guard(text, category=category, product=product, facts=facts)
    notes = [f"borderline: {f.span} ({f.category})" for f in g.remaining if f.severity == "borderline"]
    if not g.passed or not g.text.strip():
        return None, notes + [f"dropped: {f.span} ({f.category})" for f in g.violations]
    if g.text != text:
        return g.text, notes + [f"rewrote: {f.span}" for f in g.violations]
    return text, notes
