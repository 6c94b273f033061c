"""The A/B statistics agree with statsmodels / scipy references and reject bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats as sps

from shopmind.errors import BadInput
from shopmind.experiments import stats

sm_prop = pytest.importorskip("statsmodels.stats.proportion")
sm_power = pytest.importorskip("statsmodels.stats.power")


@settings(max_examples=60, deadline=None)
@given(n_c=st.integers(20, 50_000), n_t=st.integers(20, 50_000), fc=st.floats(0.01, 0.99), ft=st.floats(0.01, 0.99))
def test_ztest_matches_statsmodels(n_c: int, n_t: int, fc: float, ft: float) -> None:
    x_c, x_t = max(1, int(n_c * fc)), max(1, int(n_t * ft))
    ours = stats.two_proportion_ztest(x_c, n_c, x_t, n_t)
    z_ref, p_ref = sm_prop.proportions_ztest([x_t, x_c], [n_t, n_c])
    assert ours.statistic == pytest.approx(z_ref, rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(p_ref, rel=1e-7, abs=1e-300)


def test_difference_and_ratio_intervals_match_statsmodels() -> None:
    x_c, n_c, x_t, n_t = 480, 5000, 560, 5100
    ours = stats.two_proportion_ztest(x_c, n_c, x_t, n_t, alpha=0.05)
    lo, hi = sm_prop.confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff", alpha=0.05)
    assert ours.abs_ci == pytest.approx((lo, hi), rel=1e-9)
    rlo, rhi = sm_prop.confint_proportions_2indep(x_t, n_t, x_c, n_c, method="log", compare="ratio", alpha=0.05)
    assert ours.rel_ci == pytest.approx((rlo - 1, rhi - 1), rel=1e-9)
    assert ours.rel_lift == pytest.approx((x_t / n_t) / (x_c / n_c) - 1)
    assert ours.abs_ci[0] < ours.abs_lift < ours.abs_ci[1]


def test_welch_matches_scipy_on_raw_data() -> None:
    rng = np.random.default_rng(3)
    a = np.where(rng.random(800) < 0.1, rng.lognormal(3, 1, 800), 0.0)
    b = np.where(rng.random(650) < 0.12, rng.lognormal(3.1, 1, 650), 0.0)
    ours = stats.welch_ttest(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size, alpha=0.05)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert ours.abs_ci == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_bayesian_exact_agrees_with_integration_and_monte_carlo() -> None:
    x_c, n_c, x_t, n_t = 120, 1000, 145, 1000
    exact = stats.prob_beat_control_exact(x_c, n_c, x_t, n_t)
    a_c, b_c, a_t, b_t = 1 + x_c, 1 + n_c - x_c, 1 + x_t, 1 + n_t - x_t
    integral, _ = integrate.quad(lambda p: sps.beta.pdf(p, a_t, b_t) * sps.beta.cdf(p, a_c, b_c), 0, 1, limit=200)
    assert exact == pytest.approx(integral, abs=1e-7)
    mc = stats.prob_beat_control_mc(x_c, n_c, x_t, n_t, draws=400_000, seed=1)
    assert mc == pytest.approx(exact, abs=0.004)
    assert stats.prob_beat_control_mc(x_c, n_c, x_t, n_t, seed=5) == stats.prob_beat_control_mc(x_c, n_c, x_t, n_t, seed=5)
    # symmetry: P(t > c) + P(c > t) = 1 for continuous posteriors
    assert exact + stats.prob_beat_control_exact(x_t, n_t, x_c, n_c) == pytest.approx(1.0, abs=1e-9)
    assert stats.prob_beat_control_exact(50, 100, 50, 100) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("baseline,mde,ratio,alpha,power", [(0.10, 0.10, 1.0, 0.05, 0.8), (0.03, 0.2, 1.0, 0.01, 0.9),
                                                            (0.25, 0.05, 2.0, 0.05, 0.8)])
def test_sample_size_matches_statsmodels(baseline, mde, ratio, alpha, power) -> None:
    plan = stats.sample_size_proportions(baseline, mde, alpha=alpha, power=power, ratio=ratio)
    h = sm_prop.proportion_effectsize(baseline * (1 + mde), baseline)
    ref = sm_power.NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio)
    assert plan["n_control_exact"] == pytest.approx(ref, rel=1e-5)
    assert plan["n_control"] == math.ceil(plan["n_control_exact"])
    reached = stats.power_proportions(baseline, plan["target"], plan["n_control"], ratio=ratio, alpha=alpha)
    assert reached >= power
    ref_power = sm_power.NormalIndPower().power(h, plan["n_control"], alpha, ratio=ratio)
    assert reached == pytest.approx(ref_power, rel=1e-9)


def test_mean_sample_size_matches_statsmodels() -> None:
    plan = stats.sample_size_means(std=40.0, mde=2.0)
    ref = sm_power.NormalIndPower().solve_power(effect_size=2.0 / 40.0, alpha=0.05, power=0.8)
    assert plan["n_control_exact"] == pytest.approx(ref, rel=1e-5)


def test_srm_check_flags_a_broken_split_only() -> None:
    ok = stats.srm_check([10_030, 9_970], [1, 1])
    assert not ok["mismatch"] and ok["p_value"] == pytest.approx(sps.chisquare([10_030, 9_970]).pvalue)
    bad = stats.srm_check([10_500, 9_500], [1, 1])
    assert bad["mismatch"] and bad["p_value"] < 1e-6
    weighted = stats.srm_check([8_000, 2_000], [0.8, 0.2])
    assert not weighted["mismatch"]


@pytest.mark.parametrize("call", [
    lambda: stats.two_proportion_ztest(5, 0, 1, 10),
    lambda: stats.two_proportion_ztest(11, 10, 1, 10),
    lambda: stats.sample_size_proportions(0.0, 0.1),
    lambda: stats.sample_size_proportions(0.6, 1.0),  # target rate above 1
    lambda: stats.sample_size_proportions(0.1, 0.0),
    lambda: stats.welch_ttest(1.0, 1.0, 1, 1.0, 1.0, 10),
    lambda: stats.srm_check([10], [1]),
])
def test_bad_input_is_typed(call) -> None:
    with pytest.raises(BadInput):
        call()


def test_degenerate_arms_do_not_crash() -> None:
    res = stats.two_proportion_ztest(0, 100, 0, 100)
    assert res.p_value == 1.0 and res.rel_lift is None
    res = stats.welch_ttest(0.0, 0.0, 10, 0.0, 0.0, 10)
    assert res.p_value == 1.0
