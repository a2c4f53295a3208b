"""Lifetime value in `ecomm evaluate`: on the evaluation holdout (the latest month start with a whole
holdout loaded after it, as at training), the BG/NBD + Gamma-Gamma model refitted on the histories
before the cutoff (what the targets judge: it has not seen the holdout), the registered champion and
challenger (fitted on all history up to their as-of date, so they have seen the holdout: shown, not
judged), the historical-average baseline and, on the simulated shop, the planted 12-month value
(truth.customer_value, read for evaluation only).

Targets (issue 15): Spearman with the planted value >= 0.8 x the planted value's own Spearman with
the realised value; top-decile capture of realised value >= 1.3 x the baseline's; predicted total
within 10% of the realised.
"""

from __future__ import annotations

from ecomm import db
from ecomm.features import columns as C
from ecomm.features.churn import warehouse_span
from ecomm.features.clv import REALISED_VALUE, clv_features, realised
from ecomm.ml import registry
from ecomm.ml.clv import evaluate as ev
from ecomm.ml.clv.train import (
    ClvConfig,
    evaluation_plan,
    fit_clv,
    holdout_frame,
    holdout_prediction,
    planted_value,
)
from ecomm.ml.comparison import Comparison, Target, entries
from ecomm.ml.serving import ClvPyfunc
from ecomm.settings import Settings

CLV_METRICS = ("spearman_realised", "spearman_truth", "top_decile_capture", "total_ratio")
REFIT = "BG/NBD + Gamma-Gamma fitted before the cutoff"
BASELINE, TRUTH = "historical average", "planted value"


def compare_clv(settings: Settings, client) -> Comparison:
    import mlflow

    versions = entries(client, registry.CLV_MODEL)
    if not versions:
        return Comparison(
            registry.CLV_MODEL, "", CLV_METRICS, message="not registered: run `ecomm train clv`"
        )
    with db.connection(settings) as conn:
        span = warehouse_span(conn)
        cutoff, days, _ = evaluation_plan(span.first_day, span.last_day, ClvConfig.from_settings(settings))
        holdout = holdout_frame(clv_features(conn, cutoff, span.first_day), realised(conn, cutoff, days))
        truth = planted_value(conn, cutoff, days)
    value = holdout[REALISED_VALUE]
    true_value = holdout[C.CUSTOMER_ID].map(truth).fillna(0.0) if truth is not None else None

    def row(predicted) -> dict[str, float]:
        out = ev.measures(predicted, value)
        if true_value is not None:
            out["spearman_truth"] = ev.spearman(predicted, true_value)
        return out

    info = {"horizon_days": days}
    rows = {REFIT: row(holdout_prediction(ClvPyfunc(fit_clv(holdout), info), holdout, days))}
    for label, version in versions.items():
        pyfunc = mlflow.pyfunc.load_model(
            registry.model_uri(registry.CLV_MODEL, version)
        ).unwrap_python_model()
        rows[f"{label} (has seen the holdout)"] = row(holdout_prediction(pyfunc, holdout, days))
    rows[BASELINE] = row(ev.baseline_value(holdout["spent"], holdout["observed_days"], days))
    if true_value is not None:
        rows[TRUTH] = row(true_value)
    return Comparison(
        registry.CLV_MODEL,
        f"buyers before {cutoff} ({len(holdout)}), their value in the {days} days after it",
        CLV_METRICS,
        rows,
        registry.aliases(client, registry.CLV_MODEL),
    )


def clv_targets(comp: Comparison) -> list[Target]:
    refit, base, truth = comp.rows.get(REFIT), comp.rows.get(BASELINE), comp.rows.get(TRUTH)
    out = []
    name = "CLV Spearman with planted value / planted value's own"
    if refit and truth and "spearman_truth" in refit:
        ratio = refit["spearman_truth"] / truth["spearman_realised"]
        detail = f"{refit['spearman_truth']:.4f} / {truth['spearman_realised']:.4f}"
        out.append(Target(name, ratio, ">= 0.8", ratio >= 0.8, detail))
    else:
        out.append(Target(name, None, ">= 0.8", None, "no model or no planted value"))
    name = "CLV top-decile capture / historical average's"
    if refit and base and base["top_decile_capture"] > 0:
        ratio = refit["top_decile_capture"] / base["top_decile_capture"]
        detail = f"{refit['top_decile_capture']:.4f} / {base['top_decile_capture']:.4f}"
        out.append(Target(name, ratio, ">= 1.3", ratio >= 1.3, detail))
    else:
        out.append(Target(name, None, ">= 1.3", None, "no model"))
    name = "CLV predicted total / realised total"
    if refit:
        ratio = refit["total_ratio"]
        out.append(Target(name, ratio, "0.9 .. 1.1", abs(ratio - 1) <= 0.1, "refit before the cutoff"))
    else:
        out.append(Target(name, None, "0.9 .. 1.1", None, "no model"))
    return out
