"""Calibration by simulation: A/A false-positive rate ≈ alpha, A/B power ≈ planned power."""

from __future__ import annotations

import pytest

from shopmind.experiments.simulate import planned_vs_simulated_power, simulate_proportions, simulate_revenue


def test_aa_false_positive_rate_is_alpha() -> None:
    res = simulate_proportions(0.08, 0.08, 12_000, sims=2000, alpha=0.05, seed=11)
    assert abs(res["rejection_rate"] - 0.05) < 3.5 * 0.0049  # 3.5 binomial SEs at 2000 sims
    assert res["srm_flag_rate"] < 0.01
    assert res["p_value_uniformity_ks_p"] > 0.001


def test_power_matches_plan() -> None:
    res = planned_vs_simulated_power(0.10, 0.10, alpha=0.05, power=0.8, sims=2000, seed=5)
    assert res["simulated_power"] == pytest.approx(0.8, abs=3.5 * 0.009)
    weaker = simulate_proportions(0.10, 0.11, res["plan"]["n_total"] // 4, sims=1000, seed=6)
    assert weaker["rejection_rate"] < 0.5  # a quarter of the sample has far less power


def test_revenue_welch_calibrated_and_powered() -> None:
    aa = simulate_revenue(1.0, 3000, sims=600, seed=2)
    assert abs(aa["rejection_rate"] - 0.05) < 0.03
    ab = simulate_revenue(1.6, 3000, sims=300, seed=3)
    assert ab["rejection_rate"] > 0.5
