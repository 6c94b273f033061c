"""`shopmind feedback …`: operators rate or edit generated content/answers; export a training set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.errors import BadInput

console = Console(stderr=True)
fb_app = typer.Typer(help="Feedback loop: rate (1–5) or edit generated content and answers; export JSONL for tuning.",
                     no_args_is_help=True)


def _store():
    from shopmind.cli.output import current_app
    from shopmind.feedback import open_feedback

    sm = current_app()
    return open_feedback(sm.settings, catalog=sm.store)


def _text(value: Optional[str], file: Optional[Path], what: str) -> Optional[str]:
    """Text from an option or a file (long copy is easier to pass as a file)."""
    if value is not None and file is not None:
        raise BadInput(f"give {what} inline or as a file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot read {file}: {exc}") from exc
    return value


def _validated(model, **values):
    from pydantic import ValidationError

    try:
        return model(**values)
    except ValidationError as exc:
        raise BadInput("; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())) from exc


@fb_app.command("rate")
def rate(
    rating: int = typer.Argument(..., help="1 (bad) … 5 (excellent)."),
    instruction: str = typer.Option(..., help="The prompt/instruction that produced the output."),
    output: Optional[str] = typer.Option(None, help="The generated text being rated."),
    output_file: Optional[Path] = typer.Option(None, help="…or read it from a file."),
    input_text: Optional[str] = typer.Option(None, "--input", help="Context (default: the product's catalog facts)."),
    product: Optional[str] = typer.Option(None, "--product"),
    content_type: Optional[str] = typer.Option(None, "--content-type"),
    target: str = typer.Option("content", help="content or answer"),
    operator: Optional[str] = typer.Option(None),
    comment: Optional[str] = typer.Option(None),
) -> None:
    """Record a rating of one generated output."""
    from shopmind.feedback import RatingIn

    item = _validated(RatingIn, rating=rating, instruction=instruction, output=_text(output, output_file, "--output"),
                      input=input_text, product_id=product, content_type=content_type, target=target,
                      operator=operator, comment=comment)
    saved = _store().add_rating(item)
    console.print(f"rating #{saved.id} saved")
    print(json.dumps(saved.model_dump(), ensure_ascii=False))


@fb_app.command("edit")
def edit(
    instruction: str = typer.Option(..., help="The prompt/instruction that produced the output."),
    before: Optional[str] = typer.Option(None, help="The generated text."),
    after: Optional[str] = typer.Option(None, help="The operator's corrected text."),
    before_file: Optional[Path] = typer.Option(None),
    after_file: Optional[Path] = typer.Option(None),
    input_text: Optional[str] = typer.Option(None, "--input", help="Context (default: the product's catalog facts)."),
    product: Optional[str] = typer.Option(None, "--product"),
    content_type: Optional[str] = typer.Option(None, "--content-type"),
    target: str = typer.Option("content", help="content or answer"),
    operator: Optional[str] = typer.Option(None),
    comment: Optional[str] = typer.Option(None),
) -> None:
    """Record an operator's edit as a preference pair (after preferred over before)."""
    from shopmind.feedback import EditIn

    item = _validated(EditIn, instruction=instruction, before=_text(before, before_file, "--before"),
                      after=_text(after, after_file, "--after"), input=input_text, product_id=product,
                      content_type=content_type, target=target, operator=operator, comment=comment)
    saved = _store().add_edit(item)
    console.print(f"edit #{saved.id} saved")
    print(json.dumps(saved.model_dump(), ensure_ascii=False))


@fb_app.command("export")
def export(
    path: Path = typer.Argument(..., help="Output .jsonl (written atomically)."),
    min_rating: int = typer.Option(4, help="Ratings at or above this become training outputs."),
    max_rejected_rating: int = typer.Option(2, help="Ratings at or below this become `rejected`."),
    product: Optional[str] = typer.Option(None, "--product", help="Only this product's feedback."),
) -> None:
    """Export instruction, input and output JSON lines for fine-tuning (plus `rejected` when a low rating exists)."""
    from shopmind.feedback import export_dataset

    report = export_dataset(_store(), path, min_rating=min_rating, max_rejected_rating=max_rejected_rating,
                            product_id=product)
    console.print(f"wrote {report.rows} rows ({report.pairs} preference pairs) to {report.path}")
    print(json.dumps(report.model_dump(), ensure_ascii=False))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(fb_app, name="feedback")
