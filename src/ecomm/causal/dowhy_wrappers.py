"""DoWhy model -> identify -> estimate -> refute, behind two plain functions.

Quirks of DoWhy handled here (see the individual comments):
- estimation writes propensity/weight columns into the DataFrame it was given, and later steps
  reuse them, so every step gets its own clean copy;
- its bootstrap draws from numpy's *global* RNG, and its subset refuter given an int seed draws the
  same subset in every simulation; so we seed the global RNG for the call only (restoring it
  afterwards) and hand the refuters RandomState objects.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ecomm.causal._checks import (
    binary_treatment,
    check_alpha,
    check_trim,
    column_list,
    require_columns,
    require_distinct_roles,
    require_frame,
    require_no_missing,
    require_numeric,
)
from ecomm.causal._lazy import quiet_import
from ecomm.causal.results import Estimate

DOWHY_METHODS = ("backdoor.propensity_score_weighting", "backdoor.linear_regression")
REFUTERS = ("placebo_treatment_refuter", "random_common_cause", "data_subset_refuter")
_TARGET_UNITS = {"ATE": "ate", "ATT": "att"}


@contextlib.contextmanager
def _quiet_and_seeded(seed: int) -> Iterator[None]:
    """Silence DoWhy's informational logging and a harmless library warning, seed numpy's global RNG
    (which DoWhy's bootstrap uses) and limit BLAS to one thread, for the duration of the call only."""
    logger = logging.getLogger("dowhy")
    level = logger.level
    state = np.random.get_state()
    logger.setLevel(logging.ERROR)
    np.random.seed(seed)
    try:
        # DoWhy's bootstrap and refuters re-fit small models many times: single-threaded BLAS is
        # faster for them than contended threads.
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            # DoWhy reads statsmodels params positionally (a pandas FutureWarning); harmless.
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"dowhy\.")
            yield
    finally:
        np.random.set_state(state)
        logger.setLevel(level)


def _graph(treatment: str, outcome: str, common_causes: Sequence[str]) -> nx.DiGraph:
    """Backdoor DAG: every common cause -> treatment and -> outcome, treatment -> outcome."""
    graph = nx.DiGraph()
    graph.add_edge(treatment, outcome)
    for cause in common_causes:
        graph.add_edge(cause, treatment)
        graph.add_edge(cause, outcome)
    return graph


@dataclass(frozen=True)
class _Fitted:
    clean: pd.DataFrame  # the untouched analysis data, for refuters to copy
    identified: Any  # dowhy IdentifiedEstimand
    estimate: Any  # dowhy CausalEstimate


def _fit(
    df, treatment, outcome, common_causes, method, estimand, ps_clip, n_bootstrap, alpha, intervals
) -> _Fitted:
    CausalModel = quiet_import("dowhy").CausalModel

    require_frame(df)
    common_causes = column_list(common_causes, "common_causes")
    used = [treatment, outcome, *common_causes]
    require_columns(df, used, "treatment/outcome/common_causes")
    require_distinct_roles(treatment=treatment, outcome=outcome, common_causes=common_causes)
    require_no_missing(df, used)
    if method not in DOWHY_METHODS:
        raise ValueError(f"method must be one of {DOWHY_METHODS}, got {method!r}")
    if estimand not in _TARGET_UNITS:
        raise ValueError(f"estimand must be one of {tuple(_TARGET_UNITS)}, got {estimand!r}")
    check_alpha(alpha)
    ps_clip = check_trim(ps_clip) or (0.0, 1.0)
    t = binary_treatment(df, treatment)
    require_numeric(df, outcome, "outcome")

    clean = df[used].reset_index(drop=True).assign(**{treatment: t})
    params: dict[str, Any] = {"confidence_level": 1 - alpha, "num_simulations": n_bootstrap}
    if method == "backdoor.propensity_score_weighting":
        params.update(
            # Hajek weights and a scaled logistic model, matching inverse_propensity_weighting; DoWhy
            # clips (not drops) scores to ps_clip.
            weighting_scheme="ips_normalized_weight",
            min_ps_score=ps_clip[0],
            max_ps_score=ps_clip[1],
            propensity_score_model=make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        )
    model = CausalModel(
        data=clean.copy(),
        treatment=treatment,
        outcome=outcome,
        graph=_graph(treatment, outcome, common_causes),
    )
    identified = model.identify_effect(proceed_when_unidentifiable=True)
    estimate = model.estimate_effect(
        identified,
        method_name=method,
        target_units=_TARGET_UNITS[estimand],
        confidence_intervals=intervals,
        method_params=params,
    )
    return _Fitted(clean, identified, estimate)


def dowhy_estimate(
    df,
    treatment: str,
    outcome: str,
    common_causes: Sequence[str],
    method: str = "backdoor.propensity_score_weighting",
    *,
    estimand: str = "ATE",
    ps_clip: tuple[float, float] | None = (0.01, 0.99),
    n_bootstrap: int = 100,
    alpha: float = 0.05,
    random_state: int = 0,
) -> Estimate:
    """Estimate the effect with DoWhy's backdoor adjustment on the graph common_causes -> {treatment,
    outcome}, treatment -> outcome.

    Intervals: analytic for linear_regression; for propensity_score_weighting DoWhy's bootstrap
    (n_bootstrap resamples, seeded) - note DoWhy re-uses the first-stage propensity scores in it,
    so it ignores their estimation error. std_error is DoWhy's own (the same bootstrap, or the
    regression's analytic one)."""
    with _quiet_and_seeded(random_state):
        fitted = _fit(
            df, treatment, outcome, common_causes, method, estimand, ps_clip, n_bootstrap, alpha, True
        )
        value = float(np.ravel(fitted.estimate.value)[0])
        low, high = np.ravel(fitted.estimate.get_confidence_intervals())[:2]
        std_error = float(np.ravel(fitted.estimate.get_standard_error())[0])
    t = fitted.clean[treatment].to_numpy()
    return Estimate(
        method=f"dowhy:{method}",
        estimand=estimand,
        estimate=value,
        ci_low=low,
        ci_high=high,
        std_error=std_error,
        n_treated=int(t.sum()),
        n_control=int(len(t) - t.sum()),
        alpha=alpha,
        details={
            "backdoor_variables": list(fitted.identified.get_backdoor_variables()),
            "realized_estimand": str(fitted.estimate.realized_estimand_expr),
        },
    )


def dowhy_refute(
    df,
    treatment: str,
    outcome: str,
    common_causes: Sequence[str],
    method: str = "backdoor.propensity_score_weighting",
    *,
    refuters: Sequence[str] = REFUTERS,
    estimand: str = "ATE",
    ps_clip: tuple[float, float] | None = (0.01, 0.99),
    num_simulations: int = 20,
    subset_fraction: float = 0.8,
    random_state: int = 0,
) -> pd.DataFrame:
    """Estimate as dowhy_estimate does, then challenge the estimate with DoWhy refuters:

    - placebo_treatment_refuter: the treatment is permuted; new_effect should be near 0;
    - random_common_cause: an independent random covariate is added; new_effect should stay put;
    - data_subset_refuter: re-estimated on random `subset_fraction` subsets; should stay put.

    Returns one row per refuter: refuter, estimated_effect, new_effect (mean over the simulations),
    p_value (DoWhy's test of the original estimate against the simulated ones; with < 100
    simulations DoWhy uses a one-sided normal approximation), num_simulations."""
    unknown = [r for r in refuters if r not in REFUTERS]
    if unknown or not refuters:
        raise ValueError(f"refuters must be a non-empty subset of {REFUTERS}, got {list(refuters)}")
    if not isinstance(num_simulations, (int, np.integer)) or not 2 <= num_simulations <= 1000:
        raise ValueError(f"num_simulations must be an integer in [2, 1000], got {num_simulations!r}")
    if not 0 < subset_fraction < 1:
        raise ValueError(f"subset_fraction must be in (0, 1), got {subset_fraction!r}")
    refuter_module = quiet_import("dowhy.causal_refuters")
    placebo_type = quiet_import("dowhy.causal_refuters.placebo_treatment_refuter").PlaceboType.PERMUTE

    rows = []
    with _quiet_and_seeded(random_state):
        fitted = _fit(df, treatment, outcome, common_causes, method, estimand, ps_clip, 2, 0.05, False)
        common = {
            "target_estimand": fitted.identified,
            "estimate": fitted.estimate,
            "num_simulations": num_simulations,
            "n_jobs": 1,
        }
        for offset, name in enumerate(refuters):
            # A RandomState object (not an int): with an int the subset refuter draws the same
            # subset in every simulation.
            rng = np.random.RandomState(random_state + offset)
            data = fitted.clean.copy()
            if name == "placebo_treatment_refuter":
                result = refuter_module.refute_placebo_treatment(
                    data=data,
                    treatment_names=[treatment],
                    placebo_type=placebo_type,
                    random_state=rng,
                    **common,
                )
            elif name == "random_common_cause":
                result = refuter_module.refute_random_common_cause(data=data, random_state=rng, **common)
            else:
                result = refuter_module.refute_data_subset(
                    data=data, subset_fraction=subset_fraction, random_state=rng, **common
                )
            p_value = (result.refutation_result or {}).get("p_value")
            rows.append(
                {
                    "refuter": name,
                    "estimated_effect": float(np.ravel(result.estimated_effect)[0]),
                    "new_effect": float(np.ravel(result.new_effect)[0]),
                    "p_value": np.nan if p_value is None else float(np.ravel(p_value)[0]),
                    "num_simulations": num_simulations,
                }
            )
    return pd.DataFrame(rows)
