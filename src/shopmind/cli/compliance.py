"""CLI for the compliance engine: `shopmind check` and `shopmind eval compliance`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from shopmind.errors import BadInput
from shopmind.cli.output import emit_json as _emit

console = Console(stderr=True)
_SHARED_ADLAW = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "adlaw"




def _read_price_context(path: Optional[Path]) -> Optional[dict]:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read price context {path}: {exc}") from exc


def _read_facts(path: Optional[Path]) -> Optional[dict]:
    """Product facts for claim checks: a JSON object of attribute name → value (registrations, functions)."""
    if path is None:
        return None
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read facts {path}: {exc}") from exc
    if not isinstance(facts, dict):
        raise BadInput(f"facts file {path} must hold one JSON object (attribute name → value)")
    return facts


def check_cmd(
    text: str = typer.Argument(..., help="Ad copy to check ('-' reads stdin)."),
    category: Optional[str] = typer.Option(None, "--category", "-c", help="Product category: food, cosmetics, apparel, health_products, medical_device, drug, electronics, education, real_estate, finance, medical_service, alcohol, tobacco, infant_food, pet, general (zh/en aliases work)."),
    price_context: Optional[Path] = typer.Option(None, "--price-context", help="JSON file: {history:[{date,price}], promo_start, promo_end, now}."),
    facts_path: Optional[Path] = typer.Option(None, "--facts", help="JSON file: product facts {attribute: value}, e.g. registrations and approved functions."),
    do_rewrite: bool = typer.Option(False, "--rewrite", help="Also print a compliant rewrite."),
    product: Optional[str] = typer.Option(None, "--product", help="Catalog product id: also fact-check the copy against its attributes and its image tags."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Check ad copy against the China Advertising Law (广告法), FTC-style English rules and best-effort
    ja/ko/fr/de/es rules; text in any other language is reported `unchecked`, never `clean`."""
    from shopmind import ops
    from shopmind.cli.output import current_app
    from shopmind.ops.core import combined_verdict, product_consistency

    if text == "-":
        text = sys.stdin.read()
    pc = _read_price_context(price_context)
    facts = _read_facts(facts_path)
    sm = current_app()
    facts_report = product_consistency(sm, text, product) if product else None
    if product and category is None:
        category = facts_report.pop("category", None)
    try:
        report = ops.check(sm, text, category=category, price_context=pc, facts=facts)
    except BadInput:
        if not product:
            raise
        category = None  # the catalog's own category name is not one the rules know: general rules
        report = ops.check(sm, text, category=None, price_context=pc, facts=facts)
    fixed = ops.rewrite(sm, text, category=category, price_context=pc, facts=facts) if do_rewrite else None
    verdict = combined_verdict(report.verdict, facts_report)
    if as_json:
        obj = report.model_dump(mode="json")
        if fixed is not None:
            obj["rewrite"] = fixed.model_dump(mode="json")
        if facts_report is not None:
            obj.update(facts_report)
            obj["compliance_verdict"], obj["verdict"] = report.verdict, verdict
        _emit(obj)
        return
    if facts_report is not None:
        for f in facts_report["fact_findings"] + facts_report["image_findings"]:
            Console().print(f"[yellow]{f['rule_id']}[/] {f['span']!r}: {f['why_zh']} / {f['why_en']}")
    unchecked = f"; unchecked: {', '.join(report.unchecked_languages)}" if report.unchecked_languages else ""
    table = Table(title=f"verdict: {verdict} ({report.language}{unchecked})")
    for col in ("span", "offsets", "category", "severity", "basis", "why"):
        table.add_column(col)
    for f in report.findings:
        table.add_row(f.span, f"{f.start}-{f.end}", f.category, f.severity, f.legal_basis, f"{f.why_zh}\n{f.why_en}")
    Console().print(table)
    if fixed is not None:
        Console().print(f"rewrite: {fixed.text}")


def eval_compliance(
    labels: Path = typer.Option(_SHARED_ADLAW / "labelled_dev.jsonl", "--labels", help="Labelled JSON lines (labelled_dev.jsonl format)."),
    baseline_terms: Path = typer.Option(_SHARED_ADLAW / "absolute_terms_es3344520.txt", "--baseline-terms", help="Word list for the naive substring baseline."),
    category: Optional[str] = typer.Option(None, "--category", help="Product category for rows without their own."),
    split: str = typer.Option("all", "--split", help="all, dev (tuning rows) or holdout (rows whose id number n has n % 4 == 2)."),
    rules_only: bool = typer.Option(False, "--rules-only", help="Skip the learned clause classifier."),
    big_throughput: bool = typer.Option(False, "--throughput", help="Also time the rules on a ~2 MB concatenated input (MB/s)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Text-level violation precision/recall/F1 at the top level, span level, per category and product
    category, throughput, beside the naive word-list baseline."""
    from shopmind.eval.compliance import evaluate

    console.print(f"evaluating compliance on {labels}")
    report = evaluate(labels, baseline_terms if baseline_terms.exists() else None, category, split=split,
                      classifier=not rules_only, big_throughput=big_throughput)
    if as_json:
        _emit(report)
        return
    console.print(f"engine text-level violation: P={report['precision']} R={report['recall']} F1={report['f1']} "
                  f"n={report['n']} clean flagged={report['flag_rate_clean']}")
    _emit(report)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `check` to the main app and `compliance` to the eval group."""
    app.command("check")(check_cmd)
    eval_app.command("compliance")(eval_compliance)
