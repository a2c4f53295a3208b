"""PSI and KS: exact values on small hand-checked samples, and the behaviour at the edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ecomm.monitoring.drift import (
    bin_edges,
    bin_shares,
    category_counts,
    chi2_pvalue,
    compare,
    ks,
    ks_pvalue,
    ks_small_window,
    psi,
    psi_level,
    psi_of_shares,
)


def test_identical_samples_do_not_drift():
    sample = np.arange(1.0, 101.0)
    drift = compare(sample, sample)
    assert drift.psi == 0.0
    assert drift.ks_statistic == 0.0
    assert drift.ks_pvalue == 1.0
    assert drift.level == "stable"
    assert (drift.n_reference, drift.n_current) == (100, 100)


def test_psi_matches_the_formula_on_two_bins():
    reference = np.arange(1.0, 11.0)  # median 5: bins <= 5 and > 5, shares 0.5 / 0.5
    current = [1.0] * 15 + [10.0] * 5  # shares 0.75 / 0.25
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(reference, current, bins=2) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.2746531, abs=1e-7)


def test_empty_bins_are_floored_so_psi_stays_finite():
    reference = np.arange(1.0, 11.0)
    current = [1.0, 2.0, 3.0]  # nothing in the upper bin
    floor = 1e-4
    expected = (1 - 0.5) * math.log(1 / 0.5) + (floor - 0.5) * math.log(floor / 0.5)
    assert psi(reference, current, bins=2, floor=floor) == pytest.approx(expected, abs=1e-12)


def test_ties_in_discrete_data_merge_bins():
    basket_sizes = [1] * 60 + [2] * 25 + [3] * 10 + [5] * 5
    edges = bin_edges(basket_sizes, bins=10)
    assert edges.tolist() == [1.0, 2.0, 3.0]  # deciles: 0.1..0.6 -> 1, 0.7/0.8 -> 2, 0.9 -> 3
    assert bin_shares(basket_sizes, edges).tolist() == [0.6, 0.25, 0.1, 0.05]  # one bin per value


def test_ks_of_disjoint_samples():
    statistic, pvalue = ks([1, 2, 3], [4, 5, 6])
    assert statistic == 1.0
    assert pvalue == pytest.approx(0.1)  # exact: 2 of the C(6,3) = 20 orderings are as extreme


def test_a_shifted_distribution_is_a_major_drift():
    rng = np.random.default_rng(7)
    drift = compare(rng.normal(0, 1, 5000), rng.normal(1, 1, 5000))
    assert drift.level == "major"
    assert drift.psi > 0.25
    assert drift.ks_statistic == pytest.approx(0.38, abs=0.03)  # true value 2*Phi(0.5)-1 = 0.383
    assert drift.ks_pvalue < 1e-100


def test_levels():
    assert [psi_level(v) for v in (0.0, 0.1, 0.1001, 0.25, 0.2501)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "major",
    ]


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ([], [1.0], "the reference sample is empty"),
        ([1.0], [], "the current sample is empty"),
        ([1.0, float("nan")], [1.0], "the reference sample holds NaN or infinite values"),
    ],
)
def test_bad_samples_are_refused(reference, current, message):
    with pytest.raises(ValueError, match=message):
        compare(reference, current)


def test_json_of_a_drift():
    out = compare([1, 2, 3, 4], [1, 2, 3, 4]).to_json()
    assert out == {
        "n_reference": 4,
        "n_current": 4,
        "psi": 0.0,
        "ks_statistic": 0.0,
        "ks_pvalue": 1.0,
        "level": "stable",
    }


# ------------------------------------------------------------------ shares, categories, chi-squared
def test_psi_of_shares_is_the_binned_formula():
    assert psi_of_shares([0.5, 0.5], [0.75, 0.25]) == pytest.approx(0.2746531, abs=1e-7)
    assert psi_of_shares([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    floor = 1e-4  # a category the reference never saw
    expected = (0.1 - floor) * math.log(0.1 / floor) + (0.9 - 1.0) * math.log(0.9)
    assert psi_of_shares([0.0, 1.0], [0.1, 0.9]) == pytest.approx(expected, abs=1e-12)


def test_category_counts_pool_unknown_values_as_other():
    counts = category_counts(["a", "b", "a", "new", "older"], ["a", "b", "__other__"], "__other__")
    assert counts.tolist() == [2, 1, 2]


def test_chi2_pvalue_of_known_counts():
    assert chi2_pvalue([50, 50], [0.5, 0.5]) == 1.0
    # chi2 = 2 * 10^2 / 50 = 4 on one degree of freedom: p = 2 * (1 - Phi(2)) = 0.0455003
    assert chi2_pvalue([60, 40], [0.5, 0.5]) == pytest.approx(0.0455003, abs=1e-7)
    assert chi2_pvalue([7], [1.0]) == 1.0
    assert chi2_pvalue([50, 50, 0], [0.5, 0.5, 0.0]) == 1.0  # a category empty on both sides is left out
    with pytest.raises(ValueError, match="empty"):
        chi2_pvalue([0, 0], [0.5, 0.5])


def test_a_single_value_outside_a_small_reference_has_the_exact_two_sample_pvalue():
    # one current value below all 67 reference rows: statistic 1; under no change each of the 68
    # positions of that value among all rows is equally likely, and only the two ends give 1
    assert ks_small_window(np.arange(22.0, 89.0), [21.0]) == (1.0, pytest.approx(2 / 68))
    # the one-sample distribution at the effective size (the large-window path) says 0
    assert ks_pvalue(1.0, 67, 1) == 0.0


def test_three_against_three_fully_separated():
    # 2 of the C(6, 3) = 20 equally likely splits of six rows separate them fully
    assert ks_small_window([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == (1.0, pytest.approx(0.1))


@pytest.mark.parametrize("rows", [5_000, 20_000])
def test_a_value_outside_or_inside_a_large_reference(rows):
    reference = np.arange(float(rows))
    assert ks_small_window(reference, [-1.0]) == (1.0, pytest.approx(2 / (rows + 1)))
    # 0.5 lies between the first two rows: one of the rows + 1 positions below it, the statistic
    # 1 - 1/rows, reached or passed only at the two lowest and the two highest positions
    statistic, pvalue = ks_small_window(reference, [0.5])
    assert statistic == pytest.approx(1 - 1 / rows)
    assert pvalue == pytest.approx(4 / (rows + 1))


def test_a_large_window_takes_the_default_test():
    rng = np.random.default_rng(4)
    reference, current = rng.normal(size=5_000), rng.normal(size=400)
    assert ks_small_window(reference, current) == ks(reference, current)
    assert ks_small_window(reference, current[:100]) == pytest.approx(
        tuple(stats.ks_2samp(reference, current[:100], method="exact"))
    )
