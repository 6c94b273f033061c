"""`shopmind tune …`: brand-voice LoRA adapters from one YAML file (init, check, run, list, show,
delete, export, from-feedback, ab)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.cli.output import emit_json as _emit
from shopmind.errors import BadInput

console = Console(stderr=True)
tune_app = typer.Typer(help="Tuning studio: train LoRA brand voices from a YAML config, manage and export them.",
                       no_args_is_help=True)


def _settings():
    from shopmind.cli.output import current_app

    return current_app().settings


def _catalog(cfg):
    """The app's catalog store when the config trains on `catalog:approved` (else None: nothing to open)."""
    from shopmind.cli.output import current_app

    return current_app().store if any(str(d).startswith("catalog:") for d in cfg.datasets) else None


@tune_app.command("init")
def init(out: Path = typer.Option(..., "--out", help="Where to write the commented YAML template."),
         force: bool = typer.Option(False, "--force", help="Overwrite an existing file.")) -> None:
    """Write a commented config template to edit."""
    from shopmind.tune.config import template_text

    if out.exists() and not force:
        raise BadInput(f"{out} exists; pass --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(template_text(), encoding="utf-8")
    console.print(f"wrote {out}: edit `datasets:` and `name:`, then `shopmind tune run {out}`")


def _config(config: Path, data: list[Path], name: Optional[str], max_minutes: Optional[float],
            from_adapter: Optional[str], max_steps: Optional[int], method: Optional[str]):
    from shopmind.tune.config import load_config

    return load_config(config, name=name, max_minutes=max_minutes, from_adapter=from_adapter, max_steps=max_steps,
                       method=method, datasets=[str(p.resolve()) for p in data] if data else None)


@tune_app.command("check")
def check(config: Path = typer.Argument(..., help="YAML config."),
          data: list[Path] = typer.Option([], "--data", help="Dataset file(s), replacing the config's."),
          method: Optional[str] = typer.Option(None, "--method", help="lora or dpo.")) -> None:
    """Validate the data (columns, empty, duplicated, too long) and print the report as JSON."""
    from shopmind.tune.train import data_report

    cfg = _config(config, data, None, None, None, None, method)
    _emit(data_report(cfg, settings=_settings(), store=_catalog(cfg)).as_dict())


@tune_app.command("run")
def run(
    config: Path = typer.Argument(..., help="YAML config (see `tune init`)."),
    data: list[Path] = typer.Option([], "--data", help="Dataset file(s), replacing the config's `datasets`."),
    name: Optional[str] = typer.Option(None, "--name", help="Adapter name (overrides the config's)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", min=0.05, help="Wall-clock budget; stops cleanly and saves."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run's last checkpoint exactly."),
    from_adapter: Optional[str] = typer.Option(None, "--from", help="Train incrementally on top of this adapter."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after N optimizer steps."),
    method: Optional[str] = typer.Option(None, "--method", help="lora or dpo (overrides the config)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train an adapter, checkpointing as it goes, and register it; prints its record as JSON."""
    from shopmind.tune.train import train

    cfg = _config(config, data, name, max_minutes, from_adapter, max_steps, method)
    settings = _settings()
    meta = train(cfg, home=settings.home, settings=settings, resume=resume, progress=not quiet, store=_catalog(cfg))
    m = meta["metrics"]
    console.print(f"[bold]{meta['name']}[/] {meta['status']}: {m['steps']}/{m['total_steps']} steps, "
                  f"loss {m['train_loss_first']} → {m['train_loss_last']}, eval {m['eval_loss_first']} → "
                  f"{m['eval_loss_best']}, {m['train_seconds']}s")
    _emit(meta)


@tune_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Registered adapters with their metrics."""
    from shopmind.tune.registry import AdapterRegistry

    items = AdapterRegistry(_settings().home).list()
    if as_json:
        _emit({"adapters": items, "count": len(items)})
        return
    if not items:
        console.print("no adapters yet: `shopmind tune init --out tune.yaml` then `shopmind tune run tune.yaml`")
    for a in items:
        m = a.get("metrics") or {}
        print(f"{a['name']}\t{a['method']}\t{a['base_model']}\tparent={a.get('parent') or '-'}\t"
              f"eval_loss={m.get('eval_loss_best')}\tsteps={m.get('steps')}\t{a['created']}")


@tune_app.command("show")
def show(name: str = typer.Argument(...)) -> None:
    """One adapter's full record (config, data hash, metrics, parent, files) as JSON."""
    from shopmind.tune.registry import AdapterRegistry

    _emit(AdapterRegistry(_settings().home).meta(name))


@tune_app.command("delete")
def delete(name: str = typer.Argument(...), yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
    """Remove an adapter from the registry."""
    from shopmind.tune.registry import AdapterRegistry

    reg = AdapterRegistry(_settings().home)
    reg.meta(name)
    if not yes and not typer.confirm(f"delete adapter {name}?"):
        raise typer.Exit(1)
    _emit(reg.delete(name))


@tune_app.command("export")
def export(name: str = typer.Argument(...),
           fmt: str = typer.Option("gguf", "--format", help="gguf (llama.cpp LoRA adapter)."),
           merge: bool = typer.Option(False, "--merge", help="Instead write base + adapter merged as a full f16 GGUF.")) -> None:
    """Export an adapter for llama.cpp (GGUF LoRA beside its safetensors, or a merged GGUF)."""
    from shopmind.tune.export_gguf import export_adapter

    settings = _settings()
    _emit(export_adapter(settings.home, name, fmt=fmt, merge=merge, settings=settings))


@tune_app.command("from-feedback")
def from_feedback(
    config: Path = typer.Argument(..., help="YAML config for the base model and hyper-parameters (method becomes dpo)."),
    name: Optional[str] = typer.Option(None, "--name", help="Adapter name."),
    from_adapter: Optional[str] = typer.Option(None, "--from", help="Continue from this adapter (e.g. the brand voice)."),
    min_rating: int = typer.Option(4, "--min-rating", min=2, max=5),
    max_rejected_rating: int = typer.Option(2, "--max-rejected-rating", min=1, max=4),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", min=0.05),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Build a DPO set from feedback ratings and edits, then train an adapter on it."""
    from shopmind.feedback.export import build_rows, write_jsonl_atomic
    from shopmind.feedback.store import open_feedback
    from shopmind.tune.registry import runs_dir
    from shopmind.tune.train import train

    settings = _settings()
    rows, counts = build_rows(open_feedback(settings), min_rating=min_rating, max_rejected_rating=max_rejected_rating)
    pairs = [r for r in rows if r.get("rejected")]
    if not pairs:
        raise BadInput(f"feedback holds no preference pairs yet ({counts}); rate or edit some copy first")
    path = runs_dir(settings.home) / "feedback" / "pairs.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(path, pairs)
    console.print(f"{len(pairs)} preference pairs from feedback ({counts}) → {path}")
    cfg = _config(config, [path], name, max_minutes, from_adapter, max_steps, "dpo")
    cfg = cfg.model_copy(update={"dataset_format": "feedback"})
    _emit(train(cfg, home=settings.home, settings=settings, progress=not quiet))


@tune_app.command("ab")
def ab(
    voice: str = typer.Argument(..., help="Adapter to test against the base model."),
    product: str = typer.Option(..., "--product", help="Catalog product id."),
    content_type: str = typer.Option("description", "--content-type"),
    metric: str = typer.Option("ctr", "--metric"),
    exp_id: Optional[str] = typer.Option(None, "--id"),
) -> None:
    """Write the product's copy with the base model and with VOICE, and open an A/B experiment
    (control = base); then `ab assign/ingest/analyze` as usual."""
    from shopmind.tune.abtest import create_voice_experiment

    exp = create_voice_experiment(_settings(), voice, product, content_type=content_type, metric=metric, exp_id=exp_id)
    console.print(f"experiment [bold]{exp['id']}[/]: base vs {voice} on {product}/{content_type}")
    _emit(exp)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the `tune` group."""
    app.add_typer(tune_app, name="tune")
