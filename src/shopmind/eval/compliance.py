"""Evaluate the compliance engine on labelled ad copy, beside a naive substring-list baseline.

Labels: JSON lines `{"id", "text", "label", "violations": [{"span", "start", "category", "severity"}]}`
(the shared `adlaw/labelled_dev.jsonl` format). A predicted span matches a gold span when they overlap.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from shopmind.errors import BadInput, NotFound, ShopmindError

POSITIVE_SETS = {"violation": {"violation"}, "violation_or_borderline": {"violation", "borderline"}}


@dataclass
class Span:
    start: int
    end: int
    severity: str
    category: str


@dataclass
class Example:
    id: str
    text: str
    label: str
    gold: list[Span] = field(default_factory=list)
    product_category: str | None = None  # optional per-row field (hard cases); rules are category-aware
    price_context: dict | None = None  # optional per-row price facts


Predictor = Callable[[Example], list[Span]]


def load_labels(path: Path) -> tuple[list[Example], list[dict]]:
    """Parse a labels file; bad lines are reported in the second list, never fatal."""
    if not path.exists():
        raise NotFound(f"labels file not found: {path}")
    examples, errors = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["text"]
            gold = []
            for v in row.get("violations") or []:
                span, start = v["span"], int(v.get("start", -1))
                if text[start:start + len(span)] != span:
                    start = text.find(span)
                    if start < 0:
                        raise ValueError(f"span {span!r} not in text")
                gold.append(Span(start, start + len(span), v["severity"], v.get("category", "other")))
            label = row.get("label") or ("violation" if any(g.severity == "violation" for g in gold)
                                         else "borderline" if gold else "clean")
            examples.append(Example(str(row.get("id", lineno)), text, label, gold,
                                    row.get("product_category"), row.get("price_context")))
        except (ValueError, KeyError, TypeError) as exc:
            errors.append({"line": lineno, "reason": str(exc)})
    if not examples:
        raise BadInput(f"no usable labelled lines in {path}", detail={"errors": errors[:10]})
    return examples, errors


def engine_predictor(category: str | None = None) -> Predictor:
    """Wrap `shopmind.compliance.check` as a span predictor (a row's own category/price facts win)."""
    from shopmind.compliance import check

    def predict(ex: Example) -> list[Span]:
        report = check(ex.text, category=ex.product_category or category, price_context=ex.price_context)
        return [Span(f.start, f.end, f.severity, f.category) for f in report.findings]

    return predict


def substring_baseline(terms_path: Path) -> Predictor:
    """The naive matcher: every occurrence of every list word is a violation (ASCII case-insensitive)."""
    terms = sorted({t.strip() for t in terms_path.read_text(encoding="utf-8").splitlines() if t.strip()})

    def predict(ex: Example) -> list[Span]:
        hay = ex.text.lower()
        spans = []
        for term in terms:
            needle = term.lower()
            pos = hay.find(needle)
            while pos != -1:
                spans.append(Span(pos, pos + len(needle), "violation", "absolute_term"))
                pos = hay.find(needle, pos + 1)
        return spans

    return predict


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4)}


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def score(examples: list[Example], predictions: list[list[Span]]) -> dict:
    """Text-level and span-level P/R/F1 for each positive set, and per-category span recall."""
    out: dict = {"text_level": {}, "span_level": {}}
    for name, positive in POSITIVE_SETS.items():
        tp = fp = fn = 0
        s_tp_pred = s_pred = s_tp_gold = s_gold = 0
        for ex, preds in zip(examples, predictions):
            gold_pos = ex.label in positive
            pred_spans = [p for p in preds if p.severity in positive]
            gold_spans = [g for g in ex.gold if g.severity in positive]
            pred_pos = bool(pred_spans)
            tp += gold_pos and pred_pos
            fp += pred_pos and not gold_pos
            fn += gold_pos and not pred_pos
            s_pred += len(pred_spans)
            s_tp_pred += sum(any(_overlaps(p, g) for g in gold_spans) for p in pred_spans)
            s_gold += len(gold_spans)
            s_tp_gold += sum(any(_overlaps(g, p) for p in pred_spans) for g in gold_spans)
        out["text_level"][name] = _prf(tp, fp, fn)
        p = s_tp_pred / s_pred if s_pred else 0.0
        r = s_tp_gold / s_gold if s_gold else 0.0
        out["span_level"][name] = {"predicted": s_pred, "gold": s_gold, "precision": round(p, 4),
                                   "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}
    per_cat: dict[str, dict] = {}
    for ex, preds in zip(examples, predictions):
        flagged = [p for p in preds if p.severity in POSITIVE_SETS["violation_or_borderline"]]
        for g in ex.gold:
            row = per_cat.setdefault(g.category, {"gold_spans": 0, "found": 0, "gold_violations": 0,
                                                 "found_as_violation": 0})
            row["gold_spans"] += 1
            row["found"] += any(_overlaps(g, p) for p in flagged)
            if g.severity == "violation":
                row["gold_violations"] += 1
                row["found_as_violation"] += any(_overlaps(g, p) and p.severity == "violation" for p in preds)
    for row in per_cat.values():
        row["recall"] = round(row["found"] / row["gold_spans"], 4) if row["gold_spans"] else None
        row["violation_recall"] = (round(row["found_as_violation"] / row["gold_violations"], 4)
                                   if row["gold_violations"] else None)
    out["per_category_recall"] = dict(sorted(per_cat.items()))
    return out


def run_predictor(predict: Predictor, examples: list[Example]) -> tuple[list[list[Span]], dict, list[dict]]:
    """Predict every text (one bad text is recorded, not fatal) and time it."""
    preds, errors = [], []
    n_bytes = sum(len(ex.text.encode("utf-8")) for ex in examples)
    t0 = time.perf_counter()
    for ex in examples:
        try:
            preds.append(predict(ex))
        except ShopmindError as exc:
            preds.append([])
            errors.append({"id": ex.id, "reason": exc.message})
        except (ValueError, TypeError) as exc:  # e.g. a malformed price_context in one row
            preds.append([])
            errors.append({"id": ex.id, "reason": str(exc)[:200]})
    secs = max(time.perf_counter() - t0, 1e-9)
    return preds, {"seconds": round(secs, 4), "texts_per_s": round(len(examples) / secs, 1),
                   "mb_per_s": round(n_bytes / 1e6 / secs, 3)}, errors


def evaluate(labels: Path, baseline_terms: Path | None = None, category: str | None = None) -> dict:
    """Full report: engine metrics, throughput, and the substring baseline side by side."""
    examples, load_errors = load_labels(labels)
    from shopmind.compliance.engine import warm_up

    warm_up()  # rule compile + jieba dictionary load are one-off costs, not throughput
    preds, speed, errors = run_predictor(engine_predictor(category), examples)
    counts: dict[str, int] = {}
    for ex in examples:
        counts[ex.label] = counts.get(ex.label, 0) + 1
    report = {
        "dataset": str(labels), "n_texts": len(examples), "label_counts": counts,
        "n_gold_spans": sum(len(ex.gold) for ex in examples), "category": category,
        "engine": {**score(examples, preds), "throughput": speed},
        "errors": load_errors + errors,
    }
    if baseline_terms is not None and baseline_terms.exists():
        b_preds, b_speed, _ = run_predictor(substring_baseline(baseline_terms), examples)
        report["baseline"] = {"name": f"substring:{baseline_terms.name}", **score(examples, b_preds),
                              "throughput": b_speed}
    return report
