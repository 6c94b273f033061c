"""Price and urgency claims judged against facts: a price history and a promotion window.

Rules applied (when the facts are given):
- A claimed original/strike-through price must have actually been charged; with a promotion start it must
  not exceed the lowest price charged in the 7 days before it (规范促销行为暂行规定 第十九条; FTC 16 CFR 233.1).
- "Today only"-style deadlines must match the promotion end; any urgency after the end is false.
Without facts such claims are reported as borderline (unverifiable), never silently passed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from shopmind.compliance.models import PriceContext

_NUMBER = re.compile(r"^\s*[:：是为]?\s*(?:RMB|CNY|USD|[¥￥$€£])?\s*(\d{1,7}(?:[.,]\d{1,2})?)")
REFERENCE_WINDOW_DAYS = 7
_TOLERANCE = 0.005


def parse_claimed_price(text: str, end: int) -> float | None:
    """The number right after an original-price term (原价¥399 / was $59.99), if any."""
    m = _NUMBER.match(text[end:end + 16])
    if not m:
        return None
    return float(m.group(1).replace(",", "."))


def judge_original_price(claimed: float | None, ctx: PriceContext | None) -> tuple[str, str] | None:
    """(severity, reason) for an original-price claim; None when the facts show it is fine."""
    if ctx is None or not ctx.history:
        return "borderline", "unverified"
    if claimed is None:
        return "borderline", "no_number"
    charged = [p.price for p in ctx.history]
    if not any(abs(p - claimed) <= _TOLERANCE * max(claimed, 1.0) for p in charged):
        return "violation", "never_charged"
    if ctx.promo_start is not None:
        window = [p.price for p in ctx.history
                  if ctx.promo_start - timedelta(days=REFERENCE_WINDOW_DAYS) <= p.date < ctx.promo_start]
        if window and claimed > min(window) * (1 + _TOLERANCE):
            return "violation", "above_reference_window"
    return None


def judge_urgency(term: str, today_terms: tuple[str, ...], ctx: PriceContext | None) -> tuple[str, str] | None:
    """(severity, reason) for an urgency claim; None when a real end date backs it up."""
    if ctx is None or ctx.promo_end is None:
        return "borderline", "unverified"
    now = ctx.now or datetime.now(ctx.promo_end.tzinfo)
    end = ctx.promo_end
    if now > end:
        return "violation", "promotion_over"
    if term in {t.lower() for t in today_terms} or term in today_terms:
        if end.date() > now.date():
            return "violation", "deadline_later_than_claimed"
    return None
