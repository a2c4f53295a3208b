"""DoWhy wrappers: recover the effect planted by DoWhy's own data generator, and refute an estimate."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ecomm.causal import dowhy_estimate, dowhy_refute, inverse_propensity_weighting, regression_adjustment

BETA = 2.0


@pytest.fixture(scope="module")
def linear_dataset():
    """dowhy.datasets.linear_dataset draws from numpy's global RNG; seed it, restore it afterwards.
    The true effect is beta: the generator's own "ate" entry re-draws outcome noise for each
    potential outcome, so it is beta plus noise (1.949 here)."""
    state = np.random.get_state()
    np.random.seed(0)
    try:
        with warnings.catch_warnings():
            # numpy 2.x: DoWhy converts size-1 arrays to scalars inside np.vectorize; its
            # sources also hold invalid escape sequences (compile-time warnings on import).
            warnings.simplefilter("ignore", DeprecationWarning)
            import dowhy.datasets

            data = dowhy.datasets.linear_dataset(
                beta=BETA,
                num_common_causes=3,
                num_samples=2000,
                treatment_is_binary=True,
                stddev_outcome_noise=1.0,
            )
    finally:
        np.random.set_state(state)
    return data


def test_dowhy_linear_dataset_effect_is_recovered(linear_dataset):
    df = linear_dataset["df"]
    treatment, outcome = linear_dataset["treatment_name"][0], linear_dataset["outcome_name"]
    causes = linear_dataset["common_causes_names"]
    assert df[treatment].dtype == bool

    linear = dowhy_estimate(df, treatment, outcome, causes, method="backdoor.linear_regression")
    weighting = dowhy_estimate(df, treatment, outcome, causes, method="backdoor.propensity_score_weighting")
    for est in (linear, weighting):
        assert est.estimand == "ATE"
        assert abs(est.estimate - BETA) / BETA < 0.15
        assert est.contains(BETA)
        assert est.n_treated + est.n_control == len(df)
    assert linear.method == "dowhy:backdoor.linear_regression"
    assert sorted(linear.details["backdoor_variables"]) == sorted(causes)
    # Our own estimators agree on the same external data.
    assert abs(regression_adjustment(df, treatment, outcome, causes).estimate - BETA) / BETA < 0.15
    ipw = inverse_propensity_weighting(df, treatment, outcome, causes, n_bootstrap=50)
    assert abs(ipw.estimate - BETA) / BETA < 0.15


def test_dowhy_estimate_is_reproducible_and_leaves_input_untouched(linear_dataset):
    df = linear_dataset["df"]
    before = df.copy()
    treatment, outcome = linear_dataset["treatment_name"][0], linear_dataset["outcome_name"]
    args = (df, treatment, outcome, linear_dataset["common_causes_names"])
    first, second = dowhy_estimate(*args, n_bootstrap=30), dowhy_estimate(*args, n_bootstrap=30)
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)
    pd.testing.assert_frame_equal(df, before)  # DoWhy adds propensity columns to its data: not ours


def confounded(n: int = 2000, seed: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(size=n)
    visits = rng.normal(size=n)
    channel = rng.choice(np.array(["email", "search", "social"]), size=n)
    treated = rng.binomial(1, 1 / (1 + np.exp(-(0.7 * age + 0.5 * visits + 0.4 * (channel == "email")))))
    spend = 3 + 1.5 * age + visits + 0.5 * (channel == "social") + 2.0 * treated + rng.normal(size=n)
    return pd.DataFrame({"age": age, "visits": visits, "channel": channel, "coupon": treated, "spend": spend})


def test_refuters_support_a_sound_estimate():
    df = confounded()
    table = dowhy_refute(
        df, "coupon", "spend", ["age", "visits", "channel"], num_simulations=20, random_state=3
    )
    assert table["refuter"].tolist() == [
        "placebo_treatment_refuter",
        "random_common_cause",
        "data_subset_refuter",
    ]
    assert list(table.columns) == ["refuter", "estimated_effect", "new_effect", "p_value", "num_simulations"]
    rows = table.set_index("refuter")
    estimate = rows.loc["placebo_treatment_refuter", "estimated_effect"]
    assert abs(estimate - 2.0) / 2.0 < 0.15
    assert abs(rows.loc["placebo_treatment_refuter", "new_effect"]) < 0.2 * abs(estimate)
    assert abs(rows.loc["random_common_cause", "new_effect"] - estimate) < 0.1 * abs(estimate)
    assert abs(rows.loc["data_subset_refuter", "new_effect"] - estimate) < 0.1 * abs(estimate)
    assert table["p_value"].between(0, 1).all()
    # The subset refuter draws a different subset per simulation (an int seed would repeat one).
    assert rows.loc["data_subset_refuter", "p_value"] > 0.0


def test_refute_rejects_unknown_refuter():
    with pytest.raises(ValueError, match="refuters must be a non-empty subset"):
        dowhy_refute(confounded(n=200), "coupon", "spend", ["age"], refuters=["bootstrap"])


def test_dowhy_estimate_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        dowhy_estimate(confounded(n=200), "coupon", "spend", ["age"], method="backdoor.magic")
