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


def product_consistency(text: str, product_id: str) -> dict:
    """Fact check against the product's attributes, and image–text check against its image tags only.

    The second pass drops the catalog attributes so a colour the image contradicts is caught even
    when the catalog row agrees with the copy (e.g. copy and row say 红色, the photo is blue).
    """
    from shopmind.generate.factcheck import check_facts
    from shopmind.generate.facts import from_product

    facts = from_product(product_id)
    image_only = facts.model_copy(update={"attributes": [], "title": "", "description": None, "selling_points": []})
    image_findings = [f for f in check_facts(text, image_only) if f.rule_id == "fact.colour"] if facts.colours else []
    return {
        "product_id": product_id,
        "category": facts.category,
        "fact_findings": [f.model_dump(mode="json") for f in check_facts(text, facts)],
        "image_findings": [f.model_dump(mode="json") for f in image_findings],
        "image_colours": facts.colours,
    }


def check_cmd(
    text: str = typer.Argument(..., help="Ad copy to check ('-' reads stdin)."),
    category: Optional[str] = typer.Option(None, "--category", "-c", help="Product category: food, cosmetics, apparel, health_products, medical_device, drug, electronics (zh aliases work)."),
    price_context: Optional[Path] = typer.Option(None, "--price-context", help="JSON file: {history:[{date,price}], promo_start, promo_end, now}."),
    do_rewrite: bool = typer.Option(False, "--rewrite", help="Also print a compliant rewrite."),
    product: Optional[str] = typer.Option(None, "--product", help="Catalog product id: also fact-check the copy against its attributes and its image tags."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Check ad copy against the China Advertising Law (广告法) or FTC-style English rules."""
    from shopmind.compliance import check, rewrite

    if text == "-":
        text = sys.stdin.read()
    pc = _read_price_context(price_context)
    facts_report = product_consistency(text, product) if product else None
    if product and category is None:
        category = facts_report.pop("category", None)
    try:
        report = check(text, category=category, price_context=pc)
    except BadInput:
        if not product:
            raise
        category = None  # the catalog's own category name is not one the rules know: general rules
        report = check(text, category=None, price_context=pc)
    fixed = rewrite(text, category=category, price_context=pc) if do_rewrite else None
    if as_json:
        obj = report.model_dump(mode="json")
        if fixed is not None:
            obj["rewrite"] = fixed.model_dump(mode="json")
        if facts_report is not None:
            obj.update(facts_report)
        _emit(obj)
        return
    if facts_report is not None:
        for f in facts_report["fact_findings"] + facts_report["image_findings"]:
            Console().print(f"[yellow]{f['rule_id']}[/] {f['span']!r}: {f['why_zh']} / {f['why_en']}")
    table = Table(title=f"verdict: {report.verdict} ({report.language})")
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
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Precision/recall/F1 (text and span level), per-category recall and throughput, beside the baseline."""
    from shopmind.eval.compliance import evaluate

    console.print(f"evaluating compliance on {labels}")
    report = evaluate(labels, baseline_terms if baseline_terms.exists() else None, category)
    if as_json:
        _emit(report)
        return
    eng = report["engine"]
    console.print(f"engine text-level violation: {eng['text_level']['violation']}")
    _emit(report)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `check` to the main app and `compliance` to the eval group."""
    app.command("check")(check_cmd)
    eval_app.command("compliance")(eval_compliance)
