"""`shopmind service …` (triage, tickets) and `shopmind eval sentiment|triage`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from shopmind.errors import BadInput
from shopmind.cli.output import emit_json as _emit

err = Console(stderr=True)






def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    service = typer.Typer(help="Customer service: triage complaints into tickets with an audit trail.", no_args_is_help=True)
    app.add_typer(service, name="service")

    @service.command("triage")
    def triage_cmd(
        message: str = typer.Argument(..., help="The customer's message (zh or en)."),
        image: Optional[Path] = typer.Option(None, "--image", help="A photo the customer sent."),
        order: Optional[str] = typer.Option(None, "--order", help="Order number, if known."),
        product: Optional[str] = typer.Option(None, "--product", help="Catalog product id, if known."),
        no_ocr: bool = typer.Option(False, "--no-ocr", help="Skip OCR on the photo (saves ~1 s)."),
        no_ticket: bool = typer.Option(False, "--no-ticket", help="Only triage; do not store a ticket."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Classify a complaint (issue type, sentiment, urgency, entities, evidence) and open a ticket."""
        from shopmind import ops
        from shopmind.cli.output import current_app

        image_bytes = None
        if image is not None:
            if not image.is_file():
                raise BadInput(f"image not found: {image}")
            image_bytes = image.read_bytes()
        result, ticket = ops.triage(current_app(), message, image_bytes=image_bytes, order=order, product=product,
                                    run_ocr=not no_ocr, store_ticket=not no_ticket)
        obj = ticket.model_dump(mode="json") if ticket else {"ticket": None, "triage": result.model_dump(mode="json")}
        if as_json:
            _emit(obj)
            return
        err.print(f"[bold]{result.issue_type}[/bold] ({result.method}, p={result.confidence:.2f}) · urgency [bold]{result.urgency}[/bold]")
        if result.sentiment:
            err.print(f"sentiment: {result.sentiment.label} (P(pos)={result.sentiment.score:.2f})")
        for reason in result.urgency_reasons:
            err.print(f"  urgency ← {escape(reason)}")
        for ev in result.evidence:
            err.print(escape(f"  [{ev.source}] {ev.kind}: {ev.detail}" + (f" → {ev.supports}" if ev.supports else "")))
        for warning in result.warnings:
            err.print(f"[yellow]warning[/yellow]: {escape(warning)}")
        if ticket:
            typer.echo(ticket.id)

    @service.command("status")
    def status_cmd(
        ticket_id: str = typer.Argument(...),
        status: str = typer.Argument(..., help="open | in_progress | waiting_customer | resolved | closed"),
        actor: str = typer.Option("agent", "--actor"),
        note: Optional[str] = typer.Option(None, "--note"),
    ) -> None:
        """Change a ticket's status (audited)."""
        from shopmind.service.tickets import TicketStore

        ticket = TicketStore().set_status(ticket_id, status, actor=actor, note=note)
        _emit(ticket.model_dump(mode="json"))

    @service.command("show")
    def show_cmd(ticket_id: str = typer.Argument(...)) -> None:
        """Print a ticket with its audit trail as JSON."""
        from shopmind.service.tickets import TicketStore

        _emit(TicketStore().get(ticket_id).model_dump(mode="json"))

    @service.command("fit-triage")
    def fit_triage_cmd(
        data: Path = typer.Option(..., "--data", help="Labelled JSON lines (text, label)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Default: $SHOPMIND_HOME/models/triage_head.npz"),
    ) -> None:
        """Fit the issue-type classifier head on a labelled file."""
        from shopmind.config import get_settings
        from shopmind.eval.triage import train_head

        _emit(train_head(data, out or get_settings().models_dir / "triage_head.npz"))

    @eval_app.command("sentiment")
    def eval_sentiment_cmd(
        data: Path = typer.Option(..., "--data", help="CSV with review,label[,cat] columns."),
        sample: int = typer.Option(3000, "--sample", help="Rows scored (seeded shuffle; embedding costs ~40 ms/row)."),
        protocol: str = typer.Option("auto", "--protocol", help="auto | cv | model (auto = cv on the training file)."),
        folds: int = typer.Option(5, "--folds"),
        seed: int = typer.Option(0, "--seed"),
        model: Optional[Path] = typer.Option(None, "--model", help="Model .npz (default: the bundled one)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Sentiment accuracy / macro-F1 (+ per category) beside a TF-IDF char n-gram baseline."""
        from shopmind.eval.sentiment import evaluate_sentiment

        report = evaluate_sentiment(data, sample=sample, protocol=protocol, folds=folds, seed=seed, model_path=model,
                                    progress=lambda m: err.print(m))
        if as_json:
            _emit(report)
        else:
            err.print(f"accuracy {report['accuracy']}  macro-F1 {report['macro_f1']}  (baseline {report['baseline']['accuracy']}) n={report['n']}")

    @eval_app.command("triage")
    def eval_triage_cmd(
        data: Path = typer.Option(..., "--data", help="Labelled JSON lines (text, lang, label)."),
        protocol: str = typer.Option("auto", "--protocol", help="auto | cv | model"),
        folds: int = typer.Option(5, "--folds"),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Per-class precision/recall and macro-F1 of issue-type triage (classifier and lexicon)."""
        from shopmind.eval.triage import evaluate_triage

        report = evaluate_triage(data, protocol=protocol, folds=folds, seed=seed, progress=lambda m: err.print(m))
        if as_json:
            _emit(report)
        else:
            err.print(f"macro-F1 {report['macro_f1']} (lexicon {report['baseline']['macro_f1']}) n={report['n']}")
