"""The causal estimators on IHDP (Hill 2011, response surface B): error and interval coverage.

A public semi-synthetic benchmark with a heterogeneous effect: the covariates of the Infant Health and
Development Program (747 children, 139 treated), outcomes simulated with a known individual effect.
econml ships the covariates in its wheel (econml/data/ihdp/sim.csv) and draws the outcomes
(econml.data.dgps.ihdp_surface_B); nothing is downloaded. Each seed is one replication.

For each estimator and estimand: mean absolute error against the replication's own truth (the mean
individual effect over all children for the ATE, over the treated for the ATT), the share of
replications whose 95% interval covers it, and the mean interval width. `dml_constant_effect` is
LinearDML with no effect modifiers (a single p(1 - p)-weighted effect), what fit_dml used to report
as the ATE; it is fitted here through econml with fit_dml's own nuisance models.

python -m benchmarks.bench_causal_ihdp [--seeds 10]   -> benchmarks/results/causal_ihdp.json
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, write_result

# econml's order of the covariates in ihdp_surface_B's X (after its intercept column).
IHDP_COVARIATES = (
    "bw",
    "b.head",
    "preterm",
    "birth.o",
    "nnhealth",
    "momage",
    "sex",
    "twin",
    "b.marr",
    "mom.lths",
    "mom.hs",
    "mom.scoll",
    "cig",
    "first",
    "booze",
    "drugs",
    "work.dur",
    "prenatal",
    "site1",
    "site2",
    "site3",
    "site4",
    "site5",
    "site6",
    "site7",
)
TREATMENT, OUTCOME = "treat", "y"


def replication(seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    from econml.data.dgps import ihdp_surface_B

    y, t, x, effect = ihdp_surface_B(random_state=seed)
    frame = pd.DataFrame(x[:, 1:], columns=list(IHDP_COVARIATES))  # column 0 is econml's intercept
    frame[TREATMENT], frame[OUTCOME] = t.astype(int), y
    return frame, {"ATE": float(effect.mean()), "ATT": float(effect[t == 1].mean())}


def constant_effect(frame: pd.DataFrame) -> tuple[float, float, float]:
    """(estimate, ci_low, ci_high) of LinearDML with one constant effect, fit_dml's nuisances."""
    from econml.dml import LinearDML

    from ecomm.causal.dml import _nuisance_models

    model_y, model_t = _nuisance_models(100, 0)
    model = LinearDML(model_y=model_y, model_t=model_t, discrete_treatment=True, cv=3, random_state=0)
    model.fit(frame[OUTCOME], frame[TREATMENT], X=None, W=frame[list(IHDP_COVARIATES)])
    inference = model.ate_inference()
    low, high = inference.conf_int_mean()
    return tuple(float(np.ravel(v)[0]) for v in (inference.mean_point, low, high))


def estimates(frame: pd.DataFrame) -> tuple[list[dict], int]:
    """Every estimate of one replication as rows; and how many leverage-1 warnings the regression gave."""
    from ecomm.causal import fit_dml, regression_adjustment

    covariates = list(IHDP_COVARIATES)
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        regression = regression_adjustment(frame, TREATMENT, OUTCOME, covariates)
    leverage_warnings = sum("leverage 1" in str(w.message) for w in caught)
    found = [regression]
    for model in ("linear", "forest"):
        fitted = fit_dml(frame, TREATMENT, OUTCOME, covariates, model=model)
        found += [fitted.ate(), fitted.att()]
    for est in found:
        rows.append(
            {
                "method": est.method,
                "estimand": est.estimand,
                "estimate": est.estimate,
                "low": est.ci_low,
                "high": est.ci_high,
            }
        )
    point, low, high = constant_effect(frame)
    rows.append(
        {"method": "dml_constant_effect", "estimand": "ATE", "estimate": point, "low": low, "high": high}
    )
    return rows, leverage_warnings


def run(seeds: int) -> dict:
    rows, leverage_warnings = [], 0
    start = time.perf_counter()
    for seed in range(seeds):
        frame, truth = replication(seed)
        found, warned = estimates(frame)
        leverage_warnings += warned
        rows += [{**r, "seed": seed, "truth": truth[r["estimand"]]} for r in found]
    table = pd.DataFrame(rows)
    table["abs_error"] = (table["estimate"] - table["truth"]).abs()
    table["covers"] = (table["low"] <= table["truth"]) & (table["truth"] <= table["high"])
    table["width"] = table["high"] - table["low"]
    summary = (
        table.groupby(["method", "estimand"], sort=False)
        .agg(mae=("abs_error", "mean"), coverage=("covers", "mean"), mean_ci_width=("width", "mean"))
        .round(3)
        .reset_index()
    )
    return {
        "dataset": "IHDP response surface B (econml.data.dgps.ihdp_surface_B), one replication per seed",
        "seeds": seeds,
        "n_rows": int(len(frame)),
        "n_treated": int(frame[TREATMENT].sum()),
        "regression_leverage_one_warnings": leverage_warnings,
        "seconds": round(time.perf_counter() - start, 1),
        "summary": summary.to_dict(orient="records"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    result = run(args.seeds)
    print(pd.DataFrame(result["summary"]).to_string(index=False))
    print(f"regression leverage-1 warnings: {result['regression_leverage_one_warnings']} of {args.seeds}")
    print(f"wrote {write_result('causal_ihdp', result, RESULTS)}")


if __name__ == "__main__":
    main()
