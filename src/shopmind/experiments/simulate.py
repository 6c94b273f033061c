"""Monte Carlo checks of the statistics: A/A runs measure the false-positive rate, A/B runs with a
known effect measure power, and synthetic event streams exercise the whole store → analysis path.

Arm sizes are drawn binomially from the traffic weights, exactly what hash assignment of
independent units produces, so the simulated tests see the same noise as real ones.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from shopmind.experiments import stats
from shopmind.experiments.assignment import choose
from shopmind.experiments.models import Experiment


def simulate_proportions(p_control: float, p_treatment: float, n_total: int, *, sims: int = 2000,
                         alpha: float = 0.05, weight_treatment: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """Share of simulated experiments where the z-test rejects H0 (FPR when p_control == p_treatment,
    power otherwise), plus how often the SRM guardrail fires and the Bayesian/frequentist agreement."""
    rng = np.random.default_rng(seed)
    n_t = rng.binomial(n_total, weight_treatment, size=sims)
    n_c = n_total - n_t
    x_c = rng.binomial(n_c, p_control)
    x_t = rng.binomial(n_t, p_treatment)
    rejects = right_direction = srm_flags = 0
    p_values = np.empty(sims)
    for i in range(sims):
        res = stats.two_proportion_ztest(int(x_c[i]), int(n_c[i]), int(x_t[i]), int(n_t[i]), alpha)
        p_values[i] = res.p_value
        if res.p_value < alpha:
            rejects += 1
            right_direction += int(np.sign(res.abs_lift) == np.sign(p_treatment - p_control))
        srm_flags += stats.srm_check([int(n_c[i]), int(n_t[i])], [1 - weight_treatment, weight_treatment])["mismatch"]
    rate = rejects / sims
    return {"p_control": p_control, "p_treatment": p_treatment, "n_total": n_total, "sims": sims, "alpha": alpha,
            "rejection_rate": rate, "rejection_rate_se": float(np.sqrt(rate * (1 - rate) / sims)),
            "rejections_in_true_direction": right_direction, "srm_flag_rate": srm_flags / sims,
            "p_value_uniformity_ks_p": _ks_uniform(p_values) if p_control == p_treatment else None}


def simulate_revenue(mean_shift: float, n_per_arm: int, *, sims: int = 1000, alpha: float = 0.05,
                     buy_rate: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Welch-test rejection rate on zero-inflated log-normal revenue per user (skewed like real
    shop revenue); `mean_shift` multiplies the treatment's basket size (1.0 = A/A)."""
    rng = np.random.default_rng(seed)
    rejects = 0
    for _ in range(sims):
        arms = []
        for shift in (1.0, mean_shift):
            buys = rng.random(n_per_arm) < buy_rate
            rev = np.where(buys, rng.lognormal(mean=4.0, sigma=1.0, size=n_per_arm) * shift, 0.0)
            arms.append((float(rev.mean()), float(rev.var(ddof=1)), n_per_arm))
        (mc, vc, nc), (mt, vt, nt) = arms
        rejects += stats.welch_ttest(mc, vc, nc, mt, vt, nt, alpha).p_value < alpha
    rate = rejects / sims
    return {"mean_shift": mean_shift, "n_per_arm": n_per_arm, "sims": sims, "alpha": alpha, "buy_rate": buy_rate,
            "rejection_rate": rate, "rejection_rate_se": float(np.sqrt(rate * (1 - rate) / sims))}


def planned_vs_simulated_power(baseline: float, mde_relative: float, *, alpha: float = 0.05, power: float = 0.8,
                               sims: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Plan a sample size, then run that many units with the planned true effect: the simulated
    power should land on the planned one (within Monte Carlo error)."""
    plan = stats.sample_size_proportions(baseline, mde_relative, relative=True, alpha=alpha, power=power)
    sim = simulate_proportions(baseline, plan["target"], plan["n_total"], sims=sims, alpha=alpha, seed=seed)
    return {"plan": plan, "planned_power": power, "simulated_power": sim["rejection_rate"],
            "simulated_power_se": sim["rejection_rate_se"]}


def synthetic_events(exp: Experiment, rates: dict[str, float], n_units: int, *, seed: int = 0,
                     revenue_mean: float = 0.0, with_event_ids: bool = True, unit_prefix: str = "u") -> Iterator[dict[str, Any]]:
    """Event dicts for `n_units` users: each is hash-assigned, gets an impression, clicks with its
    arm's rate, and (when `revenue_mean` > 0) half of clickers buy with an exponential basket."""
    rng = np.random.default_rng(seed)
    keys, weights = [v.key for v in exp.variants], [v.weight for v in exp.variants]
    for i in range(n_units):
        unit = f"{unit_prefix}{i}"
        arm = choose(exp.id, unit, keys, weights)
        base = {"experiment_id": exp.id, "unit_id": unit}
        yield {**base, "type": "impression", **({"event_id": f"{exp.id}:{unit}:imp"} if with_event_ids else {})}
        if rng.random() < rates.get(arm, 0.0):
            yield {**base, "type": "click", **({"event_id": f"{exp.id}:{unit}:clk"} if with_event_ids else {})}
            if revenue_mean > 0 and rng.random() < 0.5:
                yield {**base, "type": "purchase"}
                yield {**base, "type": "revenue", "amount": round(float(rng.exponential(revenue_mean)), 2),
                       **({"event_id": f"{exp.id}:{unit}:rev"} if with_event_ids else {})}


def _ks_uniform(p_values: np.ndarray) -> float:
    """Kolmogorov–Smirnov p-value of the A/A p-values against Uniform(0, 1) (a calibrated test's null)."""
    from scipy.stats import kstest

    return float(kstest(p_values, "uniform").pvalue)
