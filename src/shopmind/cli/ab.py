"""`shopmind ab …`: content A/B tests from the command line (same core as the /ab API),
and `shopmind eval ab`: simulated false-positive rate and power of the statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from shopmind.errors import BadInput
from shopmind.cli.output import emit_json as _emit

console = Console(stderr=True)
ab_app = typer.Typer(help="Content A/B tests: create, assign, ingest events, analyze, plan, stop (promote), list.",
                     no_args_is_help=True)




def _store():
    from shopmind.cli.output import current_app
    from shopmind.experiments.store import open_experiments

    return open_experiments(current_app().settings)


def _parse_pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{what} must look like KEY=VALUE, got {item!r}")
        out.append((key.strip(), value))
    return out


def _payload(text: str) -> Any:
    """JSON when it parses (objects, lists, quoted strings), else the raw text (a plain title)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@ab_app.command("create")
def create(
    product: str = typer.Option(..., "--product", help="Product id whose content is tested."),
    content_type: str = typer.Option(..., "--content-type", help="What varies: title, poster, description …"),
    variant: list[str] = typer.Option(..., "--variant", help="KEY=PAYLOAD (JSON or plain text); repeat; the first is control."),
    weight: list[str] = typer.Option([], "--weight", help="KEY=WEIGHT traffic weight (default 1 each)."),
    control: Optional[str] = typer.Option(None, help="Control arm key (default: the first variant)."),
    metric: str = typer.Option("ctr", help="Primary metric: ctr, add_to_cart, purchase, revenue."),
    alpha: float = typer.Option(0.05),
    exp_id: Optional[str] = typer.Option(None, "--id", help="Experiment id (default: generated)."),
    name: str = typer.Option(""),
) -> None:
    """Create an experiment over content variants; prints it as JSON."""
    from pydantic import ValidationError

    from shopmind.experiments.models import ExperimentSpec

    weights = {k: v for k, v in _parse_pairs(weight, "--weight")}
    try:
        variants = [{"key": k, "payload": _payload(p), "weight": float(weights.pop(k, 1.0)), "control": k == control}
                    for k, p in _parse_pairs(variant, "--variant")]
    except ValueError as exc:
        raise BadInput(f"--weight must be a number: {exc}") from exc
    if weights:
        raise BadInput(f"--weight for unknown variant(s) {sorted(weights)}")
    try:
        spec = ExperimentSpec(id=exp_id, name=name, product_id=product, content_type=content_type, metric=metric,
                              alpha=alpha, variants=variants)
    except ValidationError as exc:
        raise BadInput(f"invalid experiment: {exc.errors()[0]['msg']}") from exc
    from shopmind import ops
    from shopmind.cli.output import current_app

    exp = ops.experiment(current_app(), spec)
    console.print(f"created [bold]{exp.id}[/] ({len(exp.variants)} arms, control {exp.control_key})")
    _emit(exp.model_dump())


@ab_app.command("assign")
def assign(experiment: str = typer.Argument(...), units: list[str] = typer.Argument(..., help="User/session ids.")) -> None:
    """Sticky arm for each unit (JSON lines)."""
    store = _store()
    for unit in units:
        _emit(store.assign(experiment, unit).model_dump())


@ab_app.command("ingest")
def ingest(
    path: Path = typer.Argument(..., help="CSV with unit_id,type[,experiment_id,variant,amount,event_id,ts]."),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="Experiment id for rows without one."),
    errors_file: Optional[Path] = typer.Option(None, "--errors-file", help="Write rejected rows as JSON lines."),
) -> None:
    """Load events from CSV. Idempotent on event_id; bad rows are reported by line, never fatal."""
    from shopmind.experiments.csv_events import read_events_csv

    ignored, rows = read_events_csv(path, experiment_id=experiment)
    if ignored:
        console.print(f"[yellow]ignoring unknown column(s): {', '.join(ignored)}[/]")
    report = _store().ingest(rows, source=f"csv:{path.name}")
    if errors_file and report.errors:
        from shopmind.feedback.export import write_jsonl_atomic

        write_jsonl_atomic(errors_file, (e.model_dump() for e in report.errors))
    console.print(f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {report.rejected} "
                  f"in {report.seconds:.2f}s")
    out = report.model_dump()
    if len(out["errors"]) > 50:
        out["errors"], out["errors_truncated"] = out["errors"][:50], True
    _emit(out)


@ab_app.command("analyze")
def analyze(
    experiment: str = typer.Argument(...),
    metric: Optional[str] = typer.Option(None, help="ctr, add_to_cart, purchase or revenue (default: the experiment's)."),
    alpha: Optional[float] = typer.Option(None),
    bayes: str = typer.Option("exact", help="exact (closed form) or mc (seeded Monte Carlo)."),
    seed: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis as one JSON object."),
) -> None:
    """Per-arm rates, lifts with CIs, p-values, P(beat control), SRM check and a recommendation."""
    from shopmind.experiments.analysis import analyze as run

    result = run(_store(), experiment, metric=metric, alpha=alpha, bayes_method=bayes, seed=seed)  # type: ignore[arg-type]
    if as_json:
        _emit(result.model_dump())
        return
    table = Table(title=f"{experiment} · {result.metric}")
    for col in ("arm", "units", "value", "lift", f"{100 * (1 - (alpha or 0.05)):.0f}% CI (abs)", "p", "P(beat)"):
        table.add_column(col)
    cmp = {c.variant: c for c in result.comparisons}
    for arm in result.arms:
        c = cmp.get(arm.variant)
        lift = f"{c.rel_lift:+.2%}" if c and c.rel_lift is not None else ("control" if arm.control else "-")
        ci = f"[{c.abs_ci[0]:+.4g}, {c.abs_ci[1]:+.4g}]" if c else ""
        table.add_row(arm.variant, str(arm.units), f"{arm.value:.4g}", lift, ci, f"{c.p_value:.3g}" if c else "",
                      f"{c.prob_beat_control:.3f}" if c else "")
    Console().print(table)
    Console().print(f"SRM p={result.srm['p_value']:.3g} · {result.recommendation}")


@ab_app.command("plan")
def plan(
    mde: float = typer.Option(..., help="Minimum detectable effect (relative for proportions unless --absolute)."),
    baseline: Optional[float] = typer.Option(None, help="Control conversion rate (proportion metrics)."),
    std: Optional[float] = typer.Option(None, help="Per-unit std (mean metrics such as revenue per user)."),
    absolute: bool = typer.Option(False, "--absolute"),
    alpha: float = typer.Option(0.05),
    power: float = typer.Option(0.8),
    ratio: float = typer.Option(1.0, help="Treatment units per control unit."),
) -> None:
    """Sample size per arm (JSON)."""
    from shopmind.experiments import stats

    if (baseline is None) == (std is None):
        raise BadInput("give exactly one of --baseline (proportions) or --std (means)")
    if baseline is not None:
        _emit(stats.sample_size_proportions(baseline, mde, relative=not absolute, alpha=alpha, power=power, ratio=ratio))
    else:
        _emit(stats.sample_size_means(std, mde, alpha=alpha, power=power, ratio=ratio))  # type: ignore[arg-type]


@ab_app.command("stop")
def stop(
    experiment: str = typer.Argument(...),
    variant: Optional[str] = typer.Option(None, help="Promote this arm instead of the analysed winner."),
    force: bool = typer.Option(False, "--force", help="Promote despite SRM or no clear winner (keeps control)."),
) -> None:
    """Stop the experiment and promote the winner to the product's active content."""
    from shopmind.experiments.analysis import stop as run

    result = run(_store(), experiment, variant=variant, force=force)
    console.print(f"promoted [bold]{result['promoted']}[/] → active {result['active_content']['content_type']} "
                  f"of {result['active_content']['product_id']}")
    _emit({k: result[k] for k in ("experiment_id", "promoted", "active_content")})


@ab_app.command("list")
def list_experiments(status: Optional[str] = typer.Option(None, help="running or stopped")) -> None:
    """Experiments as JSON lines."""
    for exp in _store().list(status):
        _emit({"id": exp.id, "product_id": exp.product_id, "content_type": exp.content_type, "metric": exp.metric,
               "status": exp.status, "winner": exp.winner, "variants": [v.key for v in exp.variants],
               "created_at": exp.created_at})


@ab_app.command("active")
def active(product: str = typer.Argument(...), content_type: str = typer.Argument(...)) -> None:
    """The content currently live for a product (after a promotion)."""
    from shopmind.errors import NotFound

    found = _store().active_content(product, content_type)
    if found is None:
        raise NotFound(f"no active {content_type!r} content for product {product!r}")
    _emit(found.model_dump())


def eval_ab(
    sims: int = typer.Option(2000, help="Simulated experiments per check."),
    baseline: float = typer.Option(0.10, help="Baseline conversion rate."),
    mde: float = typer.Option(0.10, help="Relative effect for the power check."),
    alpha: float = typer.Option(0.05),
    seed: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json", help="Accepted for uniformity: the result is always one JSON object."),
) -> None:
    """Calibration of the tests by simulation: A/A false-positive rate and planned-vs-simulated power."""
    from shopmind.experiments.simulate import planned_vs_simulated_power, simulate_proportions, simulate_revenue

    power = planned_vs_simulated_power(baseline, mde, alpha=alpha, sims=sims, seed=seed)
    aa = simulate_proportions(baseline, baseline, power["plan"]["n_total"], sims=sims, alpha=alpha, seed=seed + 1)
    rev = simulate_revenue(1.0, 2000, sims=max(sims // 4, 100), alpha=alpha, seed=seed + 2)
    _emit({"dataset": "simulated (binomial arms, zero-inflated log-normal revenue)", "sample_size": sims,
           "alpha": alpha, "aa_false_positive_rate": aa["rejection_rate"], "aa_fpr_se": aa["rejection_rate_se"],
           "aa_srm_flag_rate": aa["srm_flag_rate"], "aa_p_value_ks_p": aa["p_value_uniformity_ks_p"],
           "revenue_aa_false_positive_rate": rev["rejection_rate"], "planned_power": power["planned_power"],
           "simulated_power": power["simulated_power"], "simulated_power_se": power["simulated_power_se"],
           "plan": power["plan"]})


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(ab_app, name="ab")
    eval_app.command("ab")(eval_ab)
