"""Personas, purchase truth and value truth: present, as configured, and consistent with the simulated
future (the world covers a whole value horizon after its first snapshots, so every check compares a
truth with what the same world then realised)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.datagen.config import DEFAULT_PERSONAS
from ecomm.entities import TRUTH_DIR

# 400 days: the snapshots of 2023-12-01 and 2024-01-01 have their whole 365-day value horizon inside
CONFIG = GeneratorConfig(seed=17, as_of=date(2024, 12, 31), days=400, customers=2000, products=150)
NAMES = [p.name for p in DEFAULT_PERSONAS]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("personas")
    generate_history(CONFIG, out)
    return out


@pytest.fixture(scope="module")
def truth(world) -> dict[str, pd.DataFrame]:
    names = ("customer_persona", "customer_traits", "customer_churn", "customer_purchase", "customer_value")
    return {name: pd.read_csv(world / TRUTH_DIR / f"{name}.csv") for name in names}


@pytest.fixture(scope="module")
def orders(world) -> pd.DataFrame:
    """Completed orders (not cancelled): customer, date, revenue, lines, discounted?"""
    parts = [pd.read_csv(p / "order_items.csv") for p in sorted(world.glob("20*"))]
    lines = pd.concat([p for p in parts if len(p)], ignore_index=True)
    lines = lines[lines.status == "completed"]
    lines["order_date"] = pd.to_datetime(lines.order_ts).dt.normalize()
    return (
        lines.groupby("order_id")
        .agg(
            customer_id=("customer_id", "first"),
            order_date=("order_date", "first"),
            revenue=("revenue", "sum"),
            lines=("line_no", "size"),
            discounted=("discount", lambda d: bool((d > 0).any())),
        )
        .reset_index()
    )


@pytest.fixture(scope="module")
def sessions(world) -> pd.Series:
    parts = [
        pd.read_csv(p / "web_events.csv", usecols=["session_id", "customer_id"]) for p in world.glob("20*")
    ]
    events = pd.concat(parts, ignore_index=True)
    return events.drop_duplicates("session_id").groupby("customer_id").size()


def auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    pos = label.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_every_customer_has_a_persona_with_shares_near_the_config(truth):
    personas = truth["customer_persona"]
    assert len(personas) == len(truth["customer_traits"])
    assert personas.customer_id.is_unique
    share = personas.persona.value_counts(normalize=True)
    assert sorted(share.index) == sorted(NAMES)
    n = len(personas)
    for p in DEFAULT_PERSONAS:  # binomial: 4 standard errors
        assert abs(share[p.name] - p.share) < 4 * np.sqrt(p.share * (1 - p.share) / n), p.name


def test_persona_traits_follow_their_configured_distributions(truth):
    frame = truth["customer_persona"].merge(truth["customer_traits"], on="customer_id")
    by = frame.groupby("persona")
    config = {p.name: p for p in DEFAULT_PERSONAS}
    base = config["new_explorer"]
    for name, p in config.items():
        # persona multipliers on lognormal draws: medians in the configured ratio (channel and age
        # mixes differ by persona, hence the 25% tolerance)
        ratio = by.activity_rate.median()[name] / by.activity_rate.median()[base.name]
        assert ratio == pytest.approx(p.activity / base.activity, rel=0.25), name
        ratio = by.price_sensitivity.median()[name] / by.price_sensitivity.median()[base.name]
        assert ratio == pytest.approx(p.price_sensitivity / base.price_sensitivity, rel=0.25), name
        assert (frame.browse_ratio[frame.persona == name] == p.browse_ratio).all()
        assert frame.exploration[frame.persona == name].to_numpy() == pytest.approx(
            CONFIG.exploration * p.exploration
        )
    assert by.churn_frailty.mean().idxmin() == "loyal_high_value"
    assert by.churn_frailty.mean().idxmax() == "new_explorer"


def test_personas_differ_in_observable_behaviour(truth, orders, sessions):
    personas = truth["customer_persona"].set_index("customer_id").persona
    per_customer = orders.groupby("customer_id").agg(
        n=("order_id", "size"),
        revenue=("revenue", "sum"),
        lines=("lines", "mean"),
        disc=("discounted", "mean"),
    )
    per_customer["line_value"] = per_customer.revenue / (per_customer.lines * per_customer.n)
    per_customer["sessions_per_order"] = sessions.reindex(per_customer.index, fill_value=0) / per_customer.n
    by = per_customer.join(personas).groupby("persona").mean()
    assert by.n.idxmax() == "loyal_high_value" and by.n.idxmin() in (
        "window_shopper",
        "occasional_gift_buyer",
    )
    assert by.lines.idxmax() == "loyal_high_value" and by.lines.idxmin() == "occasional_gift_buyer"
    assert by.disc.idxmax() == "bargain_hunter"
    assert by.line_value.idxmin() == "bargain_hunter" and by.line_value.idxmax() == "loyal_high_value"
    assert by.sessions_per_order.idxmax() == "window_shopper"


def test_purchase_truth_is_a_probability_below_the_ninety_day_one(truth):
    purchase, churn = truth["customer_purchase"], truth["customer_churn"]
    assert purchase.purchase_probability.between(0, 1).all()
    assert (purchase.horizon_days == 30).all()
    assert sorted(purchase.snapshot_date.unique()) == [f"{y}-{m:02d}-01" for y, m in _months(2023, 12, 13)]
    both = purchase.merge(churn, on=["customer_id", "snapshot_date"])
    assert len(both) == len(purchase)
    # an order within 30 days is an order within 90: P(order in 30) <= 1 - P(no order in 90)
    assert (both.purchase_probability <= 1 - both.churn_probability + 1e-12).all()
    churned = both.churn_probability == 1.0
    assert churned.sum() > 100 and (both.purchase_probability[churned] == 0).all()


def _months(year: int, month: int, count: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(count):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _realised(orders: pd.DataFrame, snapshot: str, days: int) -> pd.DataFrame:
    start = pd.Timestamp(snapshot)
    window = orders[(orders.order_date >= start) & (orders.order_date < start + pd.Timedelta(days=days))]
    return window.groupby("customer_id").agg(orders=("order_id", "size"), revenue=("revenue", "sum"))


@pytest.mark.parametrize("snapshot", ["2024-01-01", "2024-06-01", "2024-11-01"])
def test_purchase_truth_matches_the_simulated_next_thirty_days(truth, orders, snapshot):
    p = truth["customer_purchase"]
    p = p[p.snapshot_date == snapshot].set_index("customer_id").purchase_probability
    bought = p.index.isin(_realised(orders, snapshot, 30).index)
    # the realised share is a sum of independent Bernoulli(p_i): 4 standard errors
    standard_error = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(bought.mean() - p.mean()) < 4 * standard_error
    assert auc(p.to_numpy(), bought) > 0.8


@pytest.mark.parametrize("snapshot", ["2023-12-01", "2024-01-01"])
def test_value_truth_matches_the_simulated_next_year(truth, orders, snapshot):
    v = truth["customer_value"]
    v = v[v.snapshot_date == snapshot].set_index("customer_id")
    assert (v.expected_revenue >= 0).all() and (v.horizon_days == 365).all()
    realised = _realised(orders, snapshot, 365).revenue.reindex(v.index, fill_value=0.0)
    expected = v.expected_revenue
    # realised revenue = expected + independent noise per customer: the realised spread bounds the
    # standard error of the mean; the truth's own Monte Carlo noise averages out the same way
    standard_error = realised.std() / np.sqrt(len(v))
    assert abs(realised.mean() - expected.mean()) < 4 * standard_error
    assert realised.mean() > 20  # a real amount, not two zeros
    assert expected.corr(realised, method="spearman") > 0.5
    churned = truth["customer_churn"]
    churned = churned[(churned.snapshot_date == snapshot) & (churned.churn_probability == 1.0)].customer_id
    assert (expected.loc[churned] == 0).all()
