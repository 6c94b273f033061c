"""CLI for grounded writing: `shopmind write` and `shopmind eval copy`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.cli.output import emit_json as _emit

console = Console(stderr=True)
_ADVERTISEGEN = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "advertisegen" / "dev.jsonl"
_TYPES = "title, selling_points, description, ad_copy, seo_keywords, product_page"




def write_cmd(
    content_type: str = typer.Argument(..., help=f"What to write: {_TYPES}."),
    product_id: Optional[str] = typer.Option(None, "--product", "-p", help="Catalog product id (facts come from the catalog)."),
    attributes: Optional[str] = typer.Option(None, "--attributes", "-a", help="Free attribute string, e.g. 类型#上衣*材质#牛仔布*颜色#白色."),
    selling_point: list[str] = typer.Option([], "--selling-point", "-s", help="A merchant selling point (repeatable)."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Target audience for ad_copy, e.g. 年轻女性/运动爱好者."),
    voice: Optional[str] = typer.Option(None, "--voice", help="Registered adapter (brand voice) to write with; see `shopmind tune list`."),
    brand_voice: Optional[str] = typer.Option(None, "--voice-notes", help="Brand voice notes added to the prompt."),
    language: str = typer.Option("zh", "--language", "-l", help="Output language: en, zh, ja, ko, fr, de, es, it, pt, ru."),
    price: Optional[float] = typer.Option(None, "--price", help="Selling price (the only price the copy may state)."),
    category: Optional[str] = typer.Option(None, "--category", help="Product category for compliance rules (apparel, food, cosmetics …)."),
    rounds: int = typer.Option(2, "--rounds", min=0, max=5, help="Max LLM rewrite rounds."),
    length: Optional[int] = typer.Option(None, "--length", help="description only: about this many characters (default: 80-150, or the voice's typical length)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed (default: settings.seed)."),
    stream: bool = typer.Option(False, "--stream", help="Show the first draft as it is generated (stderr)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result (findings, audit trail) as one JSON object."),
) -> None:
    """Write grounded copy from product facts, then check and rewrite it until it is compliant and factual."""
    from shopmind import ops
    from shopmind.cli.output import current_app
    from shopmind.ops.core import write_request

    sm = current_app()
    req = write_request(sm, content_type, product_id=product_id, attributes=attributes, selling_points=selling_point,
                        persona=persona, brand_voice=brand_voice, language=language, price=price, category=category,
                        max_rounds=rounds, length=length, seed=sm.settings.seed if seed is None else seed)
    on_token = (lambda piece: (sys.stderr.write(piece), sys.stderr.flush())) if stream else None
    result = ops.write(sm, req, voice=voice, on_token=on_token)
    if stream:
        sys.stderr.write("\n")
    if as_json:
        _emit(result.model_dump(mode="json"))
        return
    console.print(f"[bold]{result.content_type}[/] ({result.language}) · {result.llm} · {result.latency_s:.1f}s · "
                  f"rounds {result.rounds} · {'passed' if result.passed else 'NOT passed'}")
    for f in result.findings + result.fact_issues:
        console.print(f"  [{f.severity}] {f.span}: {f.why_zh}")
    print(result.text)


def eval_copy(
    data: Path = typer.Option(_ADVERTISEGEN, "--data", help="AdvertiseGen JSON lines (content, summary)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Evaluate the first N rows."),
    rounds: int = typer.Option(2, "--rounds", min=0, max=5, help="Max LLM rewrite rounds per row."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write per-row predictions and scores (JSON lines)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", min=1, help="Stop starting new rows after this many seconds."),
    voice: Optional[str] = typer.Option(None, "--voice", help="Registered adapter (brand voice) to evaluate."),
    length: Optional[int] = typer.Option(None, "--length", min=10, max=2000, help="Ask every row for about this many characters (as `write --length`)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """BLEU-4, ROUGE-1/2/L, fact-contradiction and compliance pass rates (before/after the loop), latency, tokens/s."""
    from shopmind.eval.copy import evaluate

    console.print(f"generating descriptions for {data} (limit {limit or 'all'})")
    report = evaluate(data, limit=limit, max_rounds=rounds, out=out, time_budget_s=time_budget, voice=voice, length=length,
                      progress=lambda i, s: console.print(f"  row {i}: BLEU-4 {s['bleu_4']:.1f} ROUGE-L {s['rouge_l']:.1f}"))
    if not as_json:
        console.print(f"BLEU-4 {report['bleu_4']} · ROUGE-L {report['rouge_l']} · "
                      f"compliance pass {report['compliance_pass_rate_final']} · facts contradicted {report['fact_contradiction_rate_final']}")
    _emit(report)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `write` to the main app and `copy` to the eval group."""
    app.command("write")(write_cmd)
    eval_app.command("copy")(eval_copy)
