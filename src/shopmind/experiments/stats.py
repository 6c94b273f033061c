"""Statistics for content A/B tests, on aggregated counts so analysis never loads raw events.

Distributions and tests come from scipy; the few closed forms scipy lacks (two-proportion
z-test, log-ratio lift interval, exact Beta-Binomial win probability, proportion sample size)
are written here and checked against statsmodels in `tests/unit/test_ab_stats.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from shopmind.errors import BadInput


@dataclass(frozen=True)
class Comparison:
    """One treatment-vs-control comparison: effect, interval, test statistic and p-value."""

    control: float
    treatment: float
    abs_lift: float
    abs_ci: tuple[float, float]
    rel_lift: float | None
    rel_ci: tuple[float | None, float | None]
    statistic: float
    p_value: float
    test: str


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise BadInput(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def _check_counts(successes: int, n: int, name: str) -> None:
    if n <= 0:
        raise BadInput(f"{name}: sample size must be positive, got {n}")
    if successes < 0 or successes > n:
        raise BadInput(f"{name}: successes must be within 0..{n}, got {successes}")


def two_proportion_ztest(x_c: int, n_c: int, x_t: int, n_t: int, alpha: float = 0.05) -> Comparison:
    """Pooled two-sided z-test of p_t - p_c, with a Wald interval for the difference and a
    log-ratio (delta-method) interval for the relative lift.

    Why pooled: under H0 both arms share one rate, so the pooled variance gives the right
    null distribution (the same statistic as statsmodels' `proportions_ztest`)."""
    _check_counts(x_c, n_c, "control")
    _check_counts(x_t, n_t, "treatment")
    z = _z(alpha)
    p_c, p_t = x_c / n_c, x_t / n_t
    pooled = (x_c + x_t) / (n_c + n_t)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    diff = p_t - p_c
    if se0 == 0.0:
        stat, p = 0.0, 1.0
    else:
        stat = diff / se0
        p = float(2 * stats.norm.sf(abs(stat)))
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    rel, rel_ci = _log_ratio_interval(x_c, n_c, x_t, n_t, z)
    return Comparison(p_c, p_t, diff, (diff - z * se, diff + z * se), rel, rel_ci, float(stat), p, "two-proportion z-test")


def _log_ratio_interval(x_c: int, n_c: int, x_t: int, n_t: int, z: float) -> tuple[float | None, tuple[float | None, float | None]]:
    """Relative lift p_t/p_c - 1 with the Katz log interval; undefined when an arm has no successes."""
    if x_c == 0:
        return None, (None, None)
    ratio = (x_t / n_t) / (x_c / n_c)
    if x_t == 0:
        return ratio - 1.0, (None, None)
    se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
    lo, hi = math.exp(math.log(ratio) - z * se), math.exp(math.log(ratio) + z * se)
    return ratio - 1.0, (lo - 1.0, hi - 1.0)


def welch_ttest(mean_c: float, var_c: float, n_c: int, mean_t: float, var_t: float, n_t: int,
                alpha: float = 0.05) -> Comparison:
    """Welch's unequal-variance t-test on per-unit means (revenue per user), from summary stats.

    The relative-lift interval uses the delta method on the ratio of means."""
    if n_c < 2 or n_t < 2:
        raise BadInput("Welch t-test needs at least 2 units per arm")
    if var_c < 0 or var_t < 0:
        raise BadInput("variances must be non-negative")
    diff = mean_t - mean_c
    s2c, s2t = var_c / n_c, var_t / n_t
    se = math.sqrt(s2c + s2t)
    if se == 0.0:
        stat, p, df = 0.0, 1.0, float(n_c + n_t - 2)
    else:
        res = stats.ttest_ind_from_stats(mean_t, math.sqrt(var_t), n_t, mean_c, math.sqrt(var_c), n_c, equal_var=False)
        stat, p = float(res.statistic), float(res.pvalue)
        df = (s2c + s2t) ** 2 / (s2c**2 / (n_c - 1) + s2t**2 / (n_t - 1))
    tq = float(stats.t.ppf(1 - alpha / 2, df)) if se > 0 else 0.0
    rel: float | None = None
    rel_ci: tuple[float | None, float | None] = (None, None)
    if mean_c > 0:
        rel = mean_t / mean_c - 1.0
        se_rel = math.sqrt(s2t / mean_c**2 + (mean_t**2) * s2c / mean_c**4)
        zq = _z(alpha)
        rel_ci = (rel - zq * se_rel, rel + zq * se_rel)
    return Comparison(mean_c, mean_t, diff, (diff - tq * se, diff + tq * se), rel, rel_ci, stat, p, "Welch t-test")


def prob_beat_control_exact(x_c: int, n_c: int, x_t: int, n_t: int, prior: tuple[float, float] = (1.0, 1.0)) -> float:
    """P(p_t > p_c) for independent Beta posteriors, in closed form (sum over the treatment's alpha).

    Needs an integer posterior alpha for the treatment (true with the uniform prior); the sum
    runs in log space so large counts do not overflow."""
    _check_counts(x_c, n_c, "control")
    _check_counts(x_t, n_t, "treatment")
    a_c, b_c = prior[0] + x_c, prior[1] + n_c - x_c
    a_t, b_t = prior[0] + x_t, prior[1] + n_t - x_t
    if not float(a_t).is_integer():
        raise BadInput("exact method needs an integer prior alpha; use the Monte Carlo method")
    i = np.arange(int(a_t), dtype=float)
    log_terms = (special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i)
                 - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c))
    return float(min(max(np.exp(special.logsumexp(log_terms)), 0.0), 1.0))


def prob_beat_control_mc(x_c: int, n_c: int, x_t: int, n_t: int, draws: int = 200_000, seed: int = 0,
                         prior: tuple[float, float] = (1.0, 1.0)) -> float:
    """Monte Carlo P(p_t > p_c) from seeded Beta posterior draws (works for any prior)."""
    _check_counts(x_c, n_c, "control")
    _check_counts(x_t, n_t, "treatment")
    rng = np.random.default_rng(seed)
    pc = rng.beta(prior[0] + x_c, prior[1] + n_c - x_c, size=draws)
    pt = rng.beta(prior[0] + x_t, prior[1] + n_t - x_t, size=draws)
    return float(np.mean(pt > pc))


def prob_beat_control_means(mean_c: float, var_c: float, n_c: int, mean_t: float, var_t: float, n_t: int) -> float:
    """P(mu_t > mu_c) under normal approximations of both posterior means (flat prior), for revenue."""
    se = math.sqrt(var_c / max(n_c, 1) + var_t / max(n_t, 1))
    if se == 0.0:
        return 0.5 if mean_t == mean_c else float(mean_t > mean_c)
    return float(stats.norm.cdf((mean_t - mean_c) / se))


def srm_check(observed: list[int], weights: list[float], threshold: float = 0.001) -> dict:
    """Sample-ratio mismatch: chi-square goodness of fit of arm sizes to the planned weights.

    A tiny p-value means assignment or logging is broken, so the effect estimate can't be trusted."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise BadInput("SRM check needs one observed count and one weight per arm (≥ 2 arms)")
    total = sum(observed)
    wsum = float(sum(weights))
    if total == 0:
        return {"chi2": 0.0, "p_value": 1.0, "mismatch": False, "threshold": threshold, "expected": [0.0] * len(observed)}
    expected = [total * w / wsum for w in weights]
    chi2, p = stats.chisquare(observed, expected)
    return {"chi2": float(chi2), "p_value": float(p), "mismatch": bool(p < threshold), "threshold": threshold,
            "expected": expected}


def cohens_h(p1: float, p2: float) -> float:
    """Arcsine effect size between two proportions (what statsmodels' power tools take)."""
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def _normal_power(effect: float, n1: float, ratio: float, alpha: float) -> float:
    """Power of a two-sided z-test with standardised effect `effect`, n1 control units, n2 = ratio·n1."""
    z = _z(alpha)
    shift = abs(effect) * math.sqrt(n1 / (1 + 1 / ratio))
    return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))


def power_proportions(baseline: float, treatment: float, n_control: int, ratio: float = 1.0, alpha: float = 0.05) -> float:
    """Power to detect baseline→treatment with n_control units in control and ratio·n in treatment."""
    return _normal_power(cohens_h(baseline, treatment), n_control, ratio, alpha)


def sample_size_proportions(baseline: float, mde: float, *, relative: bool = True, alpha: float = 0.05,
                            power: float = 0.8, ratio: float = 1.0) -> dict:
    """Units per arm to detect a change of `mde` from `baseline` (relative or absolute) at the given
    alpha and power, on the arcsine scale (solved exactly for the two-sided power, both tails)."""
    if not 0.0 < baseline < 1.0:
        raise BadInput(f"baseline rate must be in (0, 1), got {baseline}")
    if not 0.0 < power < 1.0:
        raise BadInput(f"power must be in (0, 1), got {power}")
    if ratio <= 0:
        raise BadInput("ratio must be positive")
    target = baseline * (1 + mde) if relative else baseline + mde
    if mde == 0 or not 0.0 < target < 1.0:
        raise BadInput(f"the detectable effect must be non-zero and keep the rate in (0, 1); got target {target:.4g}")
    h = cohens_h(baseline, target)
    n1 = _solve_n(lambda n: _normal_power(h, n, ratio, alpha), power)
    n_c = math.ceil(n1)
    n_t = math.ceil(n1 * ratio)
    return {"metric": "proportion", "baseline": baseline, "target": target, "effect_size_h": h, "alpha": alpha,
            "power": power, "ratio": ratio, "n_control_exact": n1, "n_control": n_c, "n_treatment": n_t,
            "n_total": n_c + n_t}


def sample_size_means(std: float, mde: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> dict:
    """Units per arm to detect an absolute change `mde` in a mean (e.g. revenue per user) with std `std`."""
    if std <= 0 or mde == 0:
        raise BadInput("std must be positive and the detectable effect non-zero")
    if not 0.0 < power < 1.0:
        raise BadInput(f"power must be in (0, 1), got {power}")
    d = mde / std
    n1 = _solve_n(lambda n: _normal_power(d, n, ratio, alpha), power)
    n_c, n_t = math.ceil(n1), math.ceil(n1 * ratio)
    return {"metric": "mean", "std": std, "mde": mde, "effect_size_d": d, "alpha": alpha, "power": power,
            "ratio": ratio, "n_control_exact": n1, "n_control": n_c, "n_treatment": n_t, "n_total": n_c + n_t}


def _solve_n(power_at, target: float) -> float:
    """Smallest (real) n whose power reaches `target`; power grows with n, so bracket and bisect."""
    hi = 2.0
    while power_at(hi) < target:
        hi *= 2
        if hi > 1e12:
            raise BadInput("effect too small: sample size beyond 1e12 units")
    return float(optimize.brentq(lambda n: power_at(n) - target, 1e-9, hi, xtol=1e-9))
