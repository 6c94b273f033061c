"""Rewrite: neutralise each violating span with its rule's wording (or drop the clause), then re-check.

Rule rewrites only drop or neutralise (顶级面料 → 面料, 最舒适 → 很舒适); they never add a claim such as
"广受好评" that the product facts do not back (a unit test audits every rewrite in the rule data).
Re-checking after every pass is what guarantees the output is clean: a replacement could itself create a
new hit, and overlapping fixes are deferred to the next pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopmind.compliance.engine import check, fix_region, scan, to_finding
from shopmind.compliance.models import PriceContext, RewriteResult
from shopmind.compliance.normalise import normalise
from shopmind.domain import Finding

MAX_PASSES = 4


def _has_text(text: str) -> bool:
    """False when nothing but spacing or invisible characters is left (the checker rejects such text)."""
    return bool(normalise(text).text.strip())


def rewrite(text: str, category: str | None = None, price_context: PriceContext | dict | None = None,
            include_borderline: bool = False, facts: Mapping[str, Any] | None = None) -> RewriteResult:
    """Return the text with violations (and optionally borderline findings) fixed, and what was fixed."""
    if isinstance(price_context, dict):
        price_context = PriceContext.model_validate(price_context)
    wanted = {"violation", "borderline"} if include_borderline else {"violation"}
    current, fixed, passes = text, [], 0
    for passes in range(1, MAX_PASSES + 1):
        if not _has_text(current):
            break
        targets = [h for h in scan(current, category, price_context, facts=facts) if h.severity in wanted]
        if not targets:
            passes -= 1
            break
        # Right to left so earlier offsets stay valid; skip fixes that overlap an edit made this pass.
        limit = len(current) + 1
        for hit in sorted(targets, key=lambda h: h.start, reverse=True):
            left, right, new = fix_region(current, hit)
            if right > limit:
                continue
            fixed.append(to_finding(current, hit))
            current = current[:left] + new + current[right:]
            limit = left
    remaining: list[Finding] = []
    if _has_text(current):
        remaining = [f for f in check(current, category, price_context, facts=facts).findings if f.severity in wanted]
    return RewriteResult(original=text, text=current, fixed=fixed, remaining=remaining, passes=passes)
