"""`shopmind service ask` (grounded product Q&A) and `shopmind eval qa`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.cli.output import emit_json as _emit

err = Console(stderr=True)






def _service_group(app: typer.Typer) -> typer.Typer:
    """The `service` group another area registered; created here only if it does not exist yet."""
    for info in app.registered_groups:
        if info.name == "service" and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help="Customer service.", no_args_is_help=True)
    app.add_typer(group, name="service")
    return group


def ask(
    product_id: str = typer.Argument(..., help="Catalog product id."),
    question: str = typer.Argument(..., help="The shopper's question, zh or en."),
    llm: Optional[bool] = typer.Option(None, "--llm/--no-llm", help="Let the LLM phrase the answer (default: when available)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full answer object as JSON."),
) -> None:
    """Answer a question about one product from its catalog facts only, citing them (or say it does not know)."""
    from shopmind import ops
    from shopmind.cli.output import current_app

    result = ops.ask(current_app(), product_id, question, use_llm=llm)
    if as_json:
        _emit(result.model_dump(mode="json"))
        return
    typer.echo(result.answer)
    for cite in result.citations:
        err.print(f"  [{cite.id}] {cite.field} = {cite.value[:80]}  ({cite.source})")
    err.print(f"[dim]{result.method} · answerable={result.answerable} · compliance {result.compliance_verdict} · "
              f"{result.timing_ms.get('total_ms', 0):.0f} ms[/dim]")


def eval_qa(
    data: Path = typer.Option(..., "--data", help="Product JSON lines (fashion100 products.jsonl format or catalog rows)."),
    questions: Optional[Path] = typer.Option(None, "--questions", help="Hand-written questions (JSON lines); default: generated."),
    per_product: int = typer.Option(3, "--per-product", help="Generated questions per product."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N products."),
    seed: int = typer.Option(0, "--seed"),
    llm: Optional[bool] = typer.Option(None, "--llm/--no-llm", help="Use the LLM to phrase answers (default: when available)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exact-fact accuracy, refusal accuracy and hallucination rate of grounded product Q&A."""
    from shopmind.eval.qa import evaluate_qa

    report = evaluate_qa(data, questions_file=questions, per_product=per_product, limit=limit, seed=seed,
                         use_llm=llm, progress=lambda m: err.print(m))
    if as_json:
        _emit(report)
    else:
        err.print(f"exact-fact accuracy {report['exact_fact_accuracy']} · refusal accuracy {report['refusal_accuracy']} · "
                  f"hallucination rate {report['hallucination_rate']} · n={report['n']}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    _service_group(app).command("ask")(ask)
    eval_app.command("qa")(eval_qa)
