"""Turn an experiment's stored events into a decision: per-arm rates, lifts with intervals,
frequentist and Bayesian comparisons against control, an SRM guardrail and a recommendation.

Units, not events, are the sample: a unit counts as exposed once it has any event and as
converted once it has the metric's event, so repeat clicks don't inflate significance.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shopmind.errors import BadInput, NotReady
from shopmind.experiments import stats
from shopmind.experiments.models import METRIC_EVENT, Experiment, Metric
from shopmind.experiments.store import ExperimentStore


class ArmStats(BaseModel):
    variant: str
    control: bool
    weight: float
    units: int
    converted: int | None = None  # proportion metrics
    value: float = Field(..., description="Conversion rate, or revenue per unit.")
    total: float | None = None  # revenue metric


class Comparison(BaseModel):
    variant: str
    test: str
    abs_lift: float
    abs_ci: tuple[float, float]
    rel_lift: float | None
    rel_ci: tuple[float | None, float | None]
    statistic: float
    p_value: float
    alpha: float = Field(..., description="Per-comparison alpha (Bonferroni across treatments).")
    significant: bool
    prob_beat_control: float


class Analysis(BaseModel):
    experiment_id: str
    metric: Metric
    status: str
    control: str
    arms: list[ArmStats]
    comparisons: list[Comparison]
    srm: dict[str, Any]
    winner: str | None = Field(None, description="The arm to promote: a significantly better treatment, else control.")
    recommendation: str
    total_units: int


def analyze(store: ExperimentStore, exp_id: str, metric: Metric | None = None, alpha: float | None = None,
            bayes_method: str = "exact", seed: int = 0) -> Analysis:
    """Compare every treatment with the control on `metric` (default: the experiment's own)."""
    exp = store.get(exp_id)
    metric = metric or exp.metric
    if metric not in METRIC_EVENT:
        raise BadInput(f"unknown metric {metric!r}; use one of {sorted(METRIC_EVENT)}")
    alpha = alpha if alpha is not None else exp.alpha
    control = exp.control_key
    treatments = [v for v in exp.variants if not v.control]
    per_alpha = alpha / max(len(treatments), 1)
    arms = _arm_stats(store, exp, metric)
    by_key = {a.variant: a for a in arms}
    srm = stats.srm_check([a.units for a in arms if a.weight > 0], [a.weight for a in arms if a.weight > 0])
    comparisons: list[Comparison] = []
    c = by_key[control]
    for v in treatments:
        t = by_key[v.key]
        if c.units < 2 or t.units < 2:
            continue
        comparisons.append(_compare(store, exp.id, metric, c, t, per_alpha, bayes_method, seed))
    winner, rec = _decide(comparisons, srm, control, c, arms)
    return Analysis(experiment_id=exp.id, metric=metric, status=exp.status, control=control, arms=arms,
                    comparisons=comparisons, srm=srm, winner=winner, recommendation=rec,
                    total_units=sum(a.units for a in arms))


def _arm_stats(store: ExperimentStore, exp: Experiment, metric: str) -> list[ArmStats]:
    if metric == "revenue":
        rev = store.revenue_stats(exp.id)
        return [ArmStats(variant=v.key, control=v.control, weight=v.weight, units=int(rev.get(v.key, {}).get("units", 0)),
                         value=float(rev.get(v.key, {}).get("mean", 0.0)), total=float(rev.get(v.key, {}).get("total", 0.0)))
                for v in exp.variants]
    counts = store.arm_counts(exp.id, METRIC_EVENT[metric])
    out = []
    for v in exp.variants:
        n = counts.get(v.key, {}).get("units", 0)
        x = counts.get(v.key, {}).get("converted", 0)
        out.append(ArmStats(variant=v.key, control=v.control, weight=v.weight, units=n, converted=x,
                            value=(x / n) if n else 0.0))
    return out


def _compare(store: ExperimentStore, exp_id: str, metric: str, c: ArmStats, t: ArmStats, alpha: float,
             bayes_method: str, seed: int) -> Comparison:
    if metric == "revenue":
        rev = store.revenue_stats(exp_id)
        rc, rt = rev[c.variant], rev[t.variant]
        res = stats.welch_ttest(rc["mean"], rc["var"], int(rc["units"]), rt["mean"], rt["var"], int(rt["units"]), alpha)
        p_beat = stats.prob_beat_control_means(rc["mean"], rc["var"], int(rc["units"]), rt["mean"], rt["var"], int(rt["units"]))
    else:
        assert c.converted is not None and t.converted is not None
        res = stats.two_proportion_ztest(c.converted, c.units, t.converted, t.units, alpha)
        if bayes_method == "exact":
            p_beat = stats.prob_beat_control_exact(c.converted, c.units, t.converted, t.units)
        elif bayes_method == "mc":
            p_beat = stats.prob_beat_control_mc(c.converted, c.units, t.converted, t.units, seed=seed)
        else:
            raise BadInput(f"bayes_method must be 'exact' or 'mc', got {bayes_method!r}")
    return Comparison(variant=t.variant, test=res.test, abs_lift=res.abs_lift, abs_ci=res.abs_ci, rel_lift=res.rel_lift,
                      rel_ci=res.rel_ci, statistic=res.statistic, p_value=res.p_value, alpha=alpha,
                      significant=res.p_value < alpha, prob_beat_control=p_beat)


def _decide(comparisons: list[Comparison], srm: dict, control: str, c: ArmStats, arms: list[ArmStats]) -> tuple[str | None, str]:
    if srm["mismatch"]:
        return None, (f"sample-ratio mismatch (p={srm['p_value']:.2g}): fix assignment/logging before trusting results")
    if not comparisons:
        return None, "not enough data: each arm needs at least 2 exposed units"
    better = [cmp for cmp in comparisons if cmp.significant and cmp.abs_lift > 0]
    if better:
        best = max(better, key=lambda cmp: cmp.abs_lift)
        return best.variant, f"promote {best.variant}: significantly better than {control} (p={best.p_value:.3g})"
    worse = [cmp for cmp in comparisons if cmp.significant and cmp.abs_lift < 0]
    if worse and len(worse) == len(comparisons):
        return control, f"keep {control}: every treatment is significantly worse"
    return control, f"no significant difference yet: keeping {control} is the safe default (or collect more data)"


def stop(store: ExperimentStore, exp_id: str, variant: str | None = None, force: bool = False) -> dict[str, Any]:
    """Stop an experiment and promote its winner (or an operator's explicit `variant`).

    Refuses (NotReady) when the SRM guardrail fires, unless `force` — a broken split can crown the wrong arm."""
    result = analyze(store, exp_id)
    if variant is None:
        if result.winner is None and not force:
            raise NotReady(f"cannot pick a winner: {result.recommendation}", detail={"analysis": result.model_dump()})
        variant = result.winner or result.control
    elif result.srm["mismatch"] and not force:
        raise NotReady("sample-ratio mismatch: pass force to promote anyway", detail={"srm": result.srm})
    reason = {"recommendation": result.recommendation, "metric": result.metric, "explicit": variant != result.winner,
              "comparisons": [c.model_dump() for c in result.comparisons], "srm": result.srm}
    active = store.promote(exp_id, variant, reason)
    return {"experiment_id": exp_id, "promoted": variant, "active_content": active.model_dump(),
            "analysis": result.model_dump()}
