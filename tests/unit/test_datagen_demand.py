"""The demand truth: exact rank probabilities, the line draw's presence probabilities, and expected
demand that the realised order lines scatter around by no more than their own noise."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.datagen.demand import RANKS, presence, rank_cdfs, set_rank_cdfs
from ecomm.datagen.process import MAX_LINES, active_rows
from ecomm.datagen.state import load_state
from ecomm.entities import TRUTH_DIR

CONFIG = GeneratorConfig(seed=11, as_of=date(2024, 6, 30), days=150, customers=1500, products=200)


def enumerated_rank_cdfs(w: np.ndarray) -> np.ndarray:
    """P(rank <= k) by summing the Plackett-Luce probability of every ordered top-RANKS prefix."""
    probs = np.zeros((len(w), RANKS))
    for prefix in itertools.permutations(range(len(w)), RANKS):
        p, left = 1.0, list(range(len(w)))
        for item in prefix:
            p *= w[item] / w[left].sum()  # not 1 - the picked weights: that cancels for tiny weights
            left.remove(item)
        for rank, item in enumerate(prefix):
            probs[item, rank] += p
    return probs.cumsum(axis=1)


@pytest.mark.parametrize("concentration", [0.3, 2.0, 8.0])
def test_rank_probabilities_match_enumeration_even_for_concentrated_weights(concentration):
    rng = np.random.default_rng(3)
    w = np.exp(concentration * rng.normal(size=(2, 7)))
    w /= w.sum(axis=1, keepdims=True)
    got = rank_cdfs(w)
    for row in range(2):
        assert np.abs(got[row] - enumerated_rank_cdfs(w[row])).max() < 1e-6
    # every rank is taken by exactly one item
    assert np.allclose(got.sum(axis=1), np.arange(1, RANKS + 1), atol=1e-6)


def test_presence_matches_a_simulation_of_the_order_steps_line_draw():
    """Gumbel-top-k picks, each slot explored to a uniform product, duplicates dropped (process.py)."""
    rng = np.random.default_rng(5)
    m, n_products, explore, draws = 6, 9, 0.3, 400_000
    w = np.exp(1.5 * rng.normal(size=m))
    w /= w.sum()
    line_probs = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    extra, floor = presence(rank_cdfs(w[None, :]), line_probs[None, :], np.array([explore]), n_products)

    keys = np.log(w) - np.log(-np.log(rng.random((draws, m))))
    picks = np.argsort(-keys, axis=1)[:, :MAX_LINES]  # set item k is product k
    explored = rng.random((draws, MAX_LINES)) < explore
    product = np.where(explored, rng.integers(0, n_products, (draws, MAX_LINES)), picks)
    used = np.arange(MAX_LINES)[None, :] < rng.choice(MAX_LINES, draws, p=line_probs)[:, None] + 1
    present = np.stack([((product == j) & used).any(axis=1) for j in range(n_products)], axis=1)
    simulated = present.mean(axis=0)
    expected = np.r_[floor + extra[0], np.full(n_products - m, floor)]
    se = np.sqrt(expected * (1 - expected) / draws)
    assert np.all(np.abs(simulated - expected) < 4.5 * se)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("demand-world")
    generate_history(CONFIG, out)
    truth = pd.read_csv(out / TRUTH_DIR / "product_demand.csv", parse_dates=["business_date"])
    batches = sorted(p for p in out.iterdir() if p.name[:2] == "20")
    lines = pd.concat(pd.read_csv(b / "order_items.csv").assign(business_date=b.name) for b in batches)
    lines = lines[lines.status == "completed"].assign(business_date=lambda d: pd.to_datetime(d.business_date))
    products = pd.concat(p for b in batches if len(p := pd.read_csv(b / "products.csv")))
    return truth, lines, products


def test_one_row_per_product_in_the_catalogue_and_date(world):
    truth, _, products = world
    days = pd.date_range(CONFIG.start, CONFIG.as_of)
    assert truth.business_date.drop_duplicates().tolist() == days.tolist()
    assert not truth.duplicated(["product_id", "business_date"]).any()
    # a product has a row from the first date on which it is in the catalogue
    first = truth.groupby("product_id").business_date.min()
    launched = products.set_index("product_id").launch_date.map(pd.Timestamp)
    assert (first == launched.clip(lower=pd.Timestamp(CONFIG.start))).all()
    assert (truth.expected_units > 0).all() and (truth.expected_revenue > 0).all()


def martingale_z(realised: pd.Series, expected: pd.Series) -> float:
    """Sum of the daily differences over its own standard error.

    The truth is the expectation given the state at the start of each day, so the daily differences
    are martingale differences: uncorrelated, and the variance of their sum is estimated by the sum
    of their squares. Under the truth z is close to standard normal; |z| < 4 fails by chance with
    probability < 1e-4.
    """
    d = realised.reindex(expected.index, fill_value=0) - expected
    return float(d.sum() / np.sqrt((d**2).sum()))


def test_expected_units_and_revenue_sum_to_the_realised_ones_within_their_noise(world):
    truth, lines, _ = world
    expected = truth.groupby("business_date")[["expected_units", "expected_revenue"]].sum()
    realised = lines.groupby("business_date")[["quantity", "revenue"]].sum()
    assert abs(martingale_z(realised.quantity, expected.expected_units)) < 4
    assert abs(martingale_z(realised.revenue, expected.expected_revenue)) < 4
    # 150 days of a 1,500-customer shop: a few thousand units, totals within a few percent
    assert realised.quantity.sum() == pytest.approx(expected.expected_units.sum(), rel=0.05)


def test_products_sell_in_proportion_to_their_expected_demand(world):
    """Eight groups of products from the least to the most demanded: each group's daily sums agree."""
    truth, lines, _ = world
    total = truth.groupby("product_id").expected_units.sum()
    group = pd.qcut(total.rank(method="first"), 8, labels=False)
    for g in range(8):
        ids = group.index[group == g]
        expected = truth[truth.product_id.isin(ids)].groupby("business_date").expected_units.sum()
        realised = lines[lines.product_id.isin(ids)].groupby("business_date").quantity.sum()
        assert abs(martingale_z(realised, expected)) < 4, g


def test_demand_follows_the_weekly_calendar(world):
    truth, _, _ = world
    by_weekday = truth.groupby(truth.business_date.dt.dayofweek).expected_units.sum()
    assert by_weekday.max() / by_weekday.min() > 1.05
    assert truth.business_date.max() - truth.business_date.min() == timedelta(days=CONFIG.days - 1)


def test_a_loaded_world_keeps_its_rank_cache_and_it_equals_a_fresh_computation(tmp_path):
    generate_history(
        GeneratorConfig(seed=2, as_of=date(2024, 3, 31), days=60, customers=300, products=60), tmp_path
    )
    world = load_state(tmp_path)
    rows = active_rows(world, world.main, world.last_day + 1)
    g = world.main.cols.gidx[rows]
    calls = []
    summarise = world.rank_cache.summarise
    world.rank_cache.summarise = lambda w, stale: calls.append(len(stale)) or summarise(w, stale)
    cached = world.rank_cache.of(world, g)
    assert calls == []  # nothing recomputed after loading
    assert np.array_equal(cached, set_rank_cdfs(world, g).astype(np.float32))
