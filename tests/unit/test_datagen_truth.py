"""The planted ground truth is present, exact, and what the files show (computed from the CSVs)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.entities import ENTITIES, GROUND_TRUTH_SUMMARY, TRUTH_DIR

CONFIG = GeneratorConfig(seed=5, as_of=date(2024, 6, 30), days=240, customers=2500, products=200)
CUTOFF = date(2024, 4, 1)  # a snapshot date with 5 months of history before and 90 days of label after
HORIZON = 90


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("truth")
    generate_history(CONFIG, out)
    return out


@pytest.fixture(scope="module")
def data(world) -> dict[str, pd.DataFrame]:
    frames = {}
    for e in ENTITIES:
        parts = [pd.read_csv(p / e.file_name) for p in sorted(world.glob("20*")) if p.is_dir()]
        frames[e.name] = pd.concat([p for p in parts if len(p)], ignore_index=True)
    lines = frames["order_items"]
    lines["order_date"] = pd.to_datetime(lines.order_ts).dt.normalize()
    for name in TRUTH_DIR_FILES:
        frames[name] = pd.read_csv(world / TRUTH_DIR / f"{name}.csv")
    frames["summary"] = json.loads((world / GROUND_TRUTH_SUMMARY).read_text())
    return frames


TRUTH_DIR_FILES = ("customer_traits", "customer_churn", "customer_preference", "campaign_effect")


def completed_orders(data) -> pd.DataFrame:
    lines = data["order_items"]
    done = lines[lines.status == "completed"]
    return (
        done.groupby("order_id")
        .agg(
            customer_id=("customer_id", "first"),
            order_date=("order_date", "first"),
            revenue=("revenue", "sum"),
        )
        .reset_index()
    )


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by ranks (ties get average ranks)."""
    ranks = pd.Series(score).rank().to_numpy()
    pos = label.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@pytest.fixture(scope="module")
def churn_frame(data) -> pd.DataFrame:
    """Customers with >= 1 completed order before CUTOFF: recency, truth probability, realised label."""
    orders = completed_orders(data)
    cut = pd.Timestamp(CUTOFF)
    before = orders[orders.order_date < cut].groupby("customer_id")
    after = orders[(orders.order_date >= cut) & (orders.order_date < cut + pd.Timedelta(days=HORIZON))]
    frame = pd.DataFrame(
        {
            "recency": (cut - before.order_date.max()).dt.days,
            "recent_orders": orders[
                (orders.order_date < cut) & (orders.order_date >= cut - pd.Timedelta(days=60))
            ]
            .groupby("customer_id")
            .size(),
        }
    ).fillna({"recent_orders": 0})
    frame = frame[frame.recency.notna()]
    truth = data["customer_churn"]
    truth = truth[truth.snapshot_date == CUTOFF.isoformat()].set_index("customer_id").churn_probability
    frame["truth"] = truth.reindex(frame.index)
    frame["label"] = ~frame.index.isin(after.customer_id)
    return frame


def test_truth_churn_probability_is_calibrated_and_beats_recency(churn_frame):
    f = churn_frame
    assert f.truth.notna().all()
    assert 0.2 <= f.label.mean() <= 0.45  # the base rate grows with the history (more lapsed customers)
    assert abs(f.truth.mean() - f.label.mean()) < 0.03
    recency_auc = auc(f.recency.to_numpy(), f.label.to_numpy())
    truth_auc = auc(f.truth.to_numpy(), f.label.to_numpy())
    assert 0.65 <= recency_auc <= 0.85
    assert truth_auc >= recency_auc + 0.05


def test_likely_churners_were_less_active_recently(churn_frame):
    f = churn_frame
    high = f.truth >= f.truth.quantile(0.75)
    low = f.truth <= f.truth.quantile(0.25)
    assert f.recent_orders[high].mean() < 0.5 * f.recent_orders[low].mean()
    assert f.recency[high].mean() > 2 * f.recency[low].mean()


def test_churn_is_absorbing_and_churned_customers_have_probability_one(data):
    traits = data["customer_traits"]
    churned = traits.dropna(subset=["churned_on"]).set_index("customer_id").churned_on
    orders = completed_orders(data)
    mine = orders[orders.customer_id.isin(churned.index)]
    assert (mine.order_date < pd.to_datetime(churned.loc[mine.customer_id]).to_numpy()).all()
    churn = data["customer_churn"]
    at_cutoff = churn[churn.snapshot_date == CUTOFF.isoformat()].set_index("customer_id").churn_probability
    dead = churned[churned < CUTOFF.isoformat()].index.intersection(at_cutoff.index)
    assert len(dead) > 100
    assert (at_cutoff.loc[dead] == 1.0).all()
    snapshots = sorted(churn.snapshot_date.unique())
    assert snapshots == [
        "2023-12-01",
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
        "2024-05-01",
        "2024-06-01",
        "2024-06-30",
    ]


def test_targeted_assignment_is_confounded_and_naive_comparison_is_biased(data):
    campaigns = data["campaigns"].set_index("campaign_type")
    cid, start = (
        campaigns.loc["targeted", "campaign_id"],
        pd.Timestamp(campaigns.loc["targeted", "start_date"]),
    )
    window = int((pd.Timestamp(campaigns.loc["targeted", "end_date"]) - start).days) + 1
    exposure = data["campaign_exposure"]
    exposure = exposure[exposure.campaign_id == cid].set_index("customer_id")
    orders = completed_orders(data)
    pre = orders[orders.order_date < start].groupby("customer_id")
    covariates = pd.DataFrame({"recency": (start - pre.order_date.max()).dt.days, "spend": pre.revenue.sum()})
    covariates = covariates.loc[exposure.index]
    treated = exposure.treated.astype(bool)
    assert 0.3 <= treated.mean() <= 0.7
    assert covariates.recency[treated].mean() > 1.5 * covariates.recency[~treated].mean()
    long_recency = covariates.recency > covariates.recency.median()
    assert treated[long_recency].mean() > treated[~long_recency].mean() + 0.25

    in_window = orders[(orders.order_date >= start) & (orders.order_date < start + pd.Timedelta(days=window))]
    outcome = in_window.groupby("customer_id").size().reindex(exposure.index, fill_value=0)
    naive = outcome[treated].mean() - outcome[~treated].mean()
    effects = data["campaign_effect"].set_index(["campaign_id", "estimand", "segment"]).true_effect
    ate, att = effects.loc[(cid, "ATE", "all_eligible")], effects.loc[(cid, "ATT", "treated")]
    assert ate > 0.15 and att > 0.15
    assert abs(naive - ate) > 0.5 * ate

    # exact for the realised sample: realised outcomes are the "if treated"/"if untreated" arms
    means = data["summary"]["campaigns"]["winback_email"]["mean_outcome"]
    # confounding itself: without the campaign the treated would have ordered less than the controls
    assert means["treated"]["if_untreated"] < means["control"]["if_untreated"] - 0.1
    assert outcome[treated].mean() == pytest.approx(means["treated"]["realised"], abs=1e-12)
    assert means["treated"]["realised"] == pytest.approx(means["treated"]["if_treated"], abs=1e-12)
    assert outcome[~treated].mean() == pytest.approx(means["control"]["if_untreated"], abs=1e-12)
    assert att == pytest.approx(means["treated"]["if_treated"] - means["treated"]["if_untreated"], abs=1e-12)


def test_targeted_effect_is_heterogeneous_by_readable_segments(data):
    effects = data["campaign_effect"]
    cate = effects[(effects.campaign_id == 1) & (effects.estimand == "CATE")].set_index("segment")
    assert list(cate.index) == ["age_18_34", "age_35_54", "age_55_plus", "full_price", "deal_seeker"]
    assert cate.true_effect["age_18_34"] > cate.true_effect["age_55_plus"]
    assert cate.true_effect["deal_seeker"] > cate.true_effect["full_price"]
    assert (cate.outcome == "completed_orders_28d").all() and (cate.window_days == 28).all()
    ages = cate.loc[["age_18_34", "age_35_54", "age_55_plus"]]
    ate = effects[(effects.campaign_id == 1) & (effects.estimand == "ATE")].iloc[0]
    assert ages.n_customers.sum() == ate.n_customers
    assert (ages.true_effect * ages.n_customers).sum() / ate.n_customers == pytest.approx(ate.true_effect)


def test_regional_launch_has_a_pre_period_and_a_positive_effect(data):
    campaign = data["campaigns"].set_index("campaign_type").loc["regional"]
    launch = date.fromisoformat(campaign.start_date)
    assert launch - CONFIG.start >= timedelta(weeks=8)
    effects = data["campaign_effect"]
    rows = effects[effects.campaign_id == campaign.campaign_id]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row.estimand == "ATT"
    assert row.segment == "treated_countries" and row.outcome == "completed_orders_per_week"
    assert row.window_days == (CONFIG.as_of - launch).days + 1
    assert row.true_effect > 0
    summary = data["summary"]["campaigns"]["express_shipping"]
    assert summary["pre_period_days"] == (launch - CONFIG.start).days
    means = summary["treated_mean_orders_per_week"]
    assert means["realised"] - means["without_launch"] == pytest.approx(row.true_effect)


def test_purchases_and_ratings_follow_true_preferences(data):
    prefs = data["customer_preference"]
    assert (
        prefs.groupby("customer_id").true_rank.apply(lambda r: list(r) == list(range(1, len(r) + 1)))
    ).all()
    assert (prefs.groupby("customer_id").true_score.diff().dropna() <= 0).all()
    lines = data["order_items"].merge(prefs, on=["customer_id", "product_id"], how="left")
    considered = lines.true_rank.notna().mean()
    assert 0.85 <= considered <= 0.95  # ~10% exploration of random products
    reviews = data["reviews"].merge(prefs, on=["customer_id", "product_id"], how="left")
    assert (
        reviews.rating[reviews.true_rank <= 5].mean() > reviews.rating[reviews.true_rank.isna()].mean() + 0.5
    )
