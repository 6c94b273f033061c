"""HTML pieces built in Python: highlighted findings and inline SVG charts.

Everything here is assembled from escaped segments (`markupsafe.escape`) and returned as `Markup`,
so templates can insert it without `|safe` on user data: the user's text is escaped piece by piece
between the `<mark>` tags we add, and chart labels are escaped too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape


def highlight(text: str, findings: Sequence[Any], lang: str = "zh") -> Markup:
    """`text` with each finding's span wrapped in a focusable `<mark>` whose tooltip shows the article,
    the reason and the suggested rewrite. Overlapping findings: the earlier (then longer) one wins."""
    spans = sorted(((f.start, f.end, f) for f in findings if 0 <= f.start < f.end <= len(text)),
                   key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[str] = []
    pos = 0
    for n, (start, end, f) in enumerate(spans):
        if start < pos:
            continue
        out.append(str(escape(text[pos:start])))
        why = (f.why_zh if lang == "zh" else f.why_en) or f.why_en or f.why_zh
        rewrite = f.rewrite if f.rewrite is not None else ""
        tip = [f"<b>{escape(f.legal_basis or f.category)}</b>", str(escape(why))]
        if f.rewrite is not None:
            label = "建议改为" if lang == "zh" else "Suggested rewrite"
            tip.append(f"{label}: <q>{escape(rewrite) or ('（删除）' if lang == 'zh' else '(remove)')}</q>")
        out.append(f'<mark class="finding sev-{escape(f.severity)}" tabindex="0" aria-describedby="tip{n}" '
                   f'data-article="{escape(f.legal_basis)}" data-rewrite="{escape(rewrite)}">{escape(text[start:end])}'
                   f'<span class="tip" role="tooltip" id="tip{n}">{"<br>".join(tip)}</span></mark>')
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


PALETTE = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#5f3dc4")


def line_chart(series: dict[str, list[tuple[float, float]]], *, width: int = 640, height: int = 240,
               y_label: str = "", x_label: str = "") -> Markup:
    """Lines over a shared x axis (points sorted by x); y axis from 0 to the largest value."""
    pad_l, pad_r, pad_t, pad_b = 48, 110, 12, 32
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    if not xs:
        return Markup('<p class="muted">—</p>')
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y1 = max(ys) * 1.1 if ys and max(ys) > 0 else 1.0
    W, H = width - pad_l - pad_r, height - pad_t - pad_b

    def px(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * W

    def py(y: float) -> float:
        return pad_t + H - y / y1 * H

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(y_label)}">',
             f'<line x1="{pad_l}" y1="{pad_t + H}" x2="{pad_l + W}" y2="{pad_t + H}" class="axis"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + H}" class="axis"/>']
    for i in range(5):
        v = y1 * i / 4
        parts.append(f'<text x="{pad_l - 6}" y="{py(v) + 4:.1f}" text-anchor="end" class="tick">{v:.3g}</text>')
    parts.append(f'<text x="{pad_l + W / 2:.0f}" y="{height - 6}" text-anchor="middle" class="tick">{escape(x_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(pts))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(f'<text x="{pad_l + W + 8}" y="{pad_t + 14 + 16 * i}" fill="{colour}" class="legend">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def interval_chart(rows: list[tuple[str, float, float, float]], *, width: int = 640, row_h: int = 34) -> Markup:
    """One row per arm: a dot at the estimate and a bar over its confidence interval (lo, hi)."""
    if not rows:
        return Markup("")
    pad_l, pad_r = 110, 60
    lo = min(r[2] for r in rows)
    hi = max(r[3] for r in rows)
    lo, hi = min(lo, 0.0), hi if hi > lo else lo + 1
    W = width - pad_l - pad_r
    height = row_h * len(rows) + 24

    def px(v: float) -> float:
        return pad_l + (v - lo) / (hi - lo) * W

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="confidence intervals">']
    for i, (name, est, a, b) in enumerate(rows):
        y = 16 + i * row_h
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{pad_l - 8}" y="{y + 4}" text-anchor="end" class="legend">{escape(name)}</text>')
        parts.append(f'<line x1="{px(a):.1f}" y1="{y}" x2="{px(b):.1f}" y2="{y}" stroke="{colour}" stroke-width="6" '
                     f'stroke-linecap="round" opacity="0.45"/>')
        parts.append(f'<circle cx="{px(est):.1f}" cy="{y}" r="6" fill="{colour}"/>')
        parts.append(f'<text x="{px(b) + 8:.1f}" y="{y + 4}" class="tick">{est:.2%}</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 4}" class="tick">{lo:.1%}</text>'
                 f'<text x="{pad_l + W}" y="{height - 4}" text-anchor="end" class="tick">{hi:.1%}</text></svg>')
    return Markup("".join(parts))
