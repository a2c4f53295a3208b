"""`ecomm evaluate` on the shared trained world, where all five models have a champion: the segments,
purchase and lifetime-value comparisons agree with what their training runs measured on the same
rows, and every target of the three is measured.

The training runs are the reference: segments' silhouette and persona ARI of the champion (the same
month start, the same version), purchase's ROC-AUCs of the served family, the recency rule and the
truth at the same evaluation cutoff, and the lifetime-value refit's metrics on the same holdout.
"""

from __future__ import annotations

import math

import pytest

from ecomm.ml import registry, tracking
from ecomm.ml.clv.report import BASELINE, REFIT
from ecomm.ml.clv.report import TRUTH as CLV_TRUTH
from ecomm.ml.purchase.train import RECENCY_RULE
from ecomm.ml.purchase.train import TRUTH as PURCHASE_TRUTH
from ecomm.ml.report import evaluate
from ecomm.ml.segment.report import RFM_BASELINE


@pytest.fixture(scope="module")
def evaluation(trained_world):
    return evaluate(trained_world)


@pytest.fixture(scope="module")
def champion_runs(trained_world):
    client = tracking.configure(trained_world)
    return {
        name: client.get_run(client.get_model_version(name, "1").run_id).data.metrics
        for name in registry.MODEL_NAMES
    }


def comparison(evaluation, name):
    [comp] = [c for c in evaluation.comparisons if c.model == name]
    return comp


def test_every_registered_model_is_compared(evaluation):
    assert [c.model for c in evaluation.comparisons] == list(registry.MODEL_NAMES)
    assert all(c.versions == {"champion": "1", "challenger": "1"} for c in evaluation.comparisons)


def test_the_segments_comparison_repeats_the_training_run(evaluation, champion_runs):
    comp = comparison(evaluation, registry.SEGMENT_MODEL)
    run = champion_runs[registry.SEGMENT_MODEL]
    row = comp.rows["champion v1 = challenger"]
    assert row["silhouette"] == pytest.approx(run["silhouette"], abs=1e-9)
    assert row["persona_ari"] == pytest.approx(run["persona_ari"], abs=1e-12)
    assert comp.rows[RFM_BASELINE]["persona_ari"] == pytest.approx(run["persona_rfm_ari"], abs=1e-12)
    targets = {t.name: t for t in evaluation.targets if t.name.startswith("segments")}
    assert targets["segments ARI vs planted personas"].observed == row["persona_ari"]
    ratio = targets["segments ARI / RFM cells' ARI"]
    assert ratio.observed == pytest.approx(run["persona_ari"] / run["persona_rfm_ari"])
    assert ratio.met == (ratio.observed >= 2)
    stability = targets["segments K-Means stability (ARI between restarts)"]
    assert stability.observed == run["restart_stability"]


def test_the_purchase_comparison_repeats_the_training_run(evaluation, champion_runs):
    comp = comparison(evaluation, registry.PURCHASE_MODEL)
    run = champion_runs[registry.PURCHASE_MODEL]
    assert comp.rows["champion v1 = challenger"]["roc_auc"] == pytest.approx(run["served_roc_auc"], abs=1e-12)
    assert comp.rows[RECENCY_RULE]["roc_auc"] == pytest.approx(run["recency_rule_roc_auc"], abs=1e-12)
    assert comp.rows[PURCHASE_TRUTH]["roc_auc"] == pytest.approx(run["truth_roc_auc"], abs=1e-12)
    assert comp.rows["majority class"]["accuracy"] == pytest.approx(run["majority_accuracy"], abs=1e-12)
    [to_truth] = [t for t in evaluation.targets if t.name == "purchase ROC-AUC / planted truth's ROC-AUC"]
    assert to_truth.observed == pytest.approx(run["auc_to_truth"], abs=1e-12)
    assert to_truth.met == (to_truth.observed >= 0.95)


def test_the_lifetime_value_comparison_repeats_the_training_run(evaluation, champion_runs):
    """The world's 210 days hold a 90-day holdout only; the planted value is over 365 days, so there is
    no truth row and the Spearman-with-truth target is said to be unmeasured."""
    comp = comparison(evaluation, registry.CLV_MODEL)
    run = champion_runs[registry.CLV_MODEL]
    refit, baseline = comp.rows[REFIT], comp.rows[BASELINE]
    assert CLV_TRUTH not in comp.rows and "spearman_truth" not in run
    for metric in ("spearman_realised", "top_decile_capture", "total_ratio"):
        assert refit[metric] == pytest.approx(run[metric], abs=1e-9), metric
    assert baseline["spearman_realised"] == pytest.approx(run["baseline_spearman_realised"], abs=1e-9)
    targets = {t.name: t for t in evaluation.targets if t.name.startswith("CLV")}
    total = targets["CLV predicted total / realised total"]
    assert total.observed == refit["total_ratio"] and total.met == (abs(total.observed - 1) <= 0.1)
    capture = targets["CLV top-decile capture / historical average's"]
    assert capture.observed == pytest.approx(run["capture_over_baseline"], abs=1e-9)
    to_truth = targets["CLV Spearman with planted value / planted value's own"]
    assert (to_truth.observed, to_truth.met, to_truth.detail) == (None, None, "no model or no planted value")


def test_the_forecast_comparison_is_the_champions_training_backtest(evaluation, trained_world):
    """The shared world's forecast model is seasonal naive only (one backtest origin): its rows equal
    seasonal naive's, so both MASE-over-naive targets are measured at exactly 1 and missed."""
    from ecomm.ml.forecast.report import backtest_table

    comp = comparison(evaluation, registry.DEMAND_FORECAST_MODEL)
    client = tracking.configure(trained_world)
    run_id = client.get_model_version(registry.DEMAND_FORECAST_MODEL, "1").run_id
    # each level's model was chosen on validation origins before the reported one (train.choose_method)
    assert comp.holdout.endswith("; models chosen on 7/7/7 earlier validation origins, not these")
    assert list(comp.rows) == [
        f"{level}: {entry}"
        for level in ("category", "product")
        for entry in ("champion v1 (seasonal_naive)", "seasonal naive", "oracle (planted expected demand)")
    ]
    for level in ("category", "product"):
        table = backtest_table(client, run_id, level)
        logged = table[(table["horizon"] == 14)].set_index("model")
        for entry, model in (("champion v1 (seasonal_naive)", "seasonal_naive"), ("oracle", "oracle")):
            row = next(r for k, r in comp.rows.items() if k.startswith(f"{level}: {entry}"))
            assert row["mase"] == logged.loc[model, "mase"]
            assert row["mase_vs_oracle"] == logged.loc[model, "mase_vs_oracle"]
        assert comp.rows[f"{level}: seasonal naive"]["mase_vs_naive"] == 1.0
    targets = {t.name: t for t in evaluation.targets if t.name.startswith("forecast")}
    assert [
        (t.observed, t.met)
        for t in (targets[f"forecast {lv} MASE / seasonal naive's (h14)"] for lv in ("category", "product"))
    ] == [(1.0, False), (1.0, False)]
    to_oracle = targets["forecast category MASE / oracle's (h14)"]
    assert to_oracle.observed == comp.rows["category: champion v1 (seasonal_naive)"]["mase_vs_oracle"]
    assert to_oracle.met == (to_oracle.observed <= 1.15)
    coverage = targets["forecast product 80% interval coverage (h14)"]
    assert coverage.observed == comp.rows["product: champion v1 (seasonal_naive)"]["coverage_80"]
    assert coverage.met == (0.77 <= coverage.observed <= 0.83)
    stock = targets["forecast stock policy: service level, less stock than naive"]
    # one backtest origin: the replay (from one origin's reorder points to the next's) has no days
    assert math.isnan(client.get_run(run_id).data.metrics["stock_service_level"])
    assert (stock.observed, stock.met) == (None, None)
    assert stock.detail == "no stock replay in the champion's run (needs 2 origins)"
    assert len(targets) == 8
