"""The raw-file contract and the shop's invariants, checked on one small generated world."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.entities import (
    ACQUISITION_CHANNELS,
    CAMPAIGN_TYPES,
    ENTITIES,
    EVENT_TYPES,
    GROUND_TRUTH_SUMMARY,
    MANIFEST_FILE,
    OPTIONAL_TRUTH_FILES,
    STATE_DIR,
    TRUTH_DIR,
    TRUTH_FILES,
)
from ecomm.warehouse.columns import DATE_COLUMNS

CONFIG = GeneratorConfig(seed=11, as_of=date(2024, 6, 30), days=150, customers=1500, products=200)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
MONEY = re.compile(r"^\d+\.\d{2}$")
MONEY_COLUMNS = {"list_price", "unit_cost", "unit_price", "discount", "revenue", "discount_pct"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_history(CONFIG, out)
    return out


@pytest.fixture(scope="module")
def raw(world) -> dict[str, pd.DataFrame]:
    """Every entity over all batches, as text (empty cell = ''), with the batch date."""
    frames: dict[str, list[pd.DataFrame]] = {e.name: [] for e in ENTITIES}
    for batch in sorted(p for p in world.iterdir() if DATE.match(p.name)):
        for e in ENTITIES:
            df = pd.read_csv(batch / e.file_name, dtype=str, keep_default_na=False)
            frames[e.name].append(df.assign(batch=batch.name))
    return {name: pd.concat(dfs, ignore_index=True) for name, dfs in frames.items()}


def cents(series: pd.Series) -> pd.Series:
    return series.map(lambda v: int(Decimal(v) * 100))


def test_one_directory_per_business_date_with_every_file_and_exact_header(world):
    batches = sorted(p.name for p in world.iterdir() if DATE.match(p.name))
    expected = [(CONFIG.start + timedelta(days=i)).isoformat() for i in range(CONFIG.days)]
    assert batches == expected
    for name in batches:
        assert sorted(p.name for p in (world / name).iterdir()) == sorted(
            [MANIFEST_FILE] + [e.file_name for e in ENTITIES]
        )
        for e in ENTITIES:
            with open(world / name / e.file_name, newline="", encoding="utf-8") as fh:
                assert tuple(next(csv.reader(fh))) == e.columns
    written = sorted(f"{n}.csv" for n in TRUTH_FILES if n not in OPTIONAL_TRUTH_FILES)  # no planted drift
    assert sorted(p.name for p in (world / TRUTH_DIR).iterdir()) == written
    for name, columns in TRUTH_FILES.items():
        if name in OPTIONAL_TRUTH_FILES:
            continue
        with open(world / TRUTH_DIR / f"{name}.csv", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == columns
    assert (world / GROUND_TRUTH_SUMMARY).is_file()
    assert (world / STATE_DIR / "meta.json").is_file()
    assert not [p.name for p in world.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_cells_are_well_formed(raw):
    for name, df in raw.items():
        for col in df.columns.drop("batch"):
            values = df[col]
            assert not values.isin(["nan", "NaN", "None", "null", "NULL", "<NA>"]).any(), (name, col)
            filled = values[values != ""]
            if col in DATE_COLUMNS:
                assert filled.str.match(DATE).all(), (name, col)
            if col.endswith("_ts"):
                assert filled.str.match(TIMESTAMP).all(), (name, col)
            if col in MONEY_COLUMNS:
                assert filled.str.match(MONEY).all(), (name, col)
    assert set(raw["campaign_exposure"].treated) == {"true", "false"}
    assert set(raw["order_items"].status) == {"completed", "cancelled"}
    assert set(raw["web_events"].event_type) == set(EVENT_TYPES)
    assert set(raw["campaigns"].campaign_type) == set(CAMPAIGN_TYPES) - {
        "sitewide"
    }  # no Black Friday in Feb-Jun
    assert set(raw["customers"].acquisition_channel) <= set(ACQUISITION_CHANNELS)
    assert set(raw["reviews"].rating) == {"1", "2", "3", "4", "5"}
    ages = raw["customers"].age.astype(int)
    assert ages.min() >= 18 and ages.max() <= 80


def test_keys_are_unique_across_all_batches(raw):
    for e in ENTITIES:
        assert not raw[e.name].duplicated(list(e.key)).any(), e.name
    assert raw["customers"].email.is_unique
    assert raw["campaigns"].campaign_name.is_unique
    sessions = raw["web_events"].groupby("session_id").batch.nunique()
    assert (sessions == 1).all()  # a session never spans two batches


def test_money_adds_up_to_the_cent(raw):
    lines = raw["order_items"]
    gross = lines.quantity.astype(int) * cents(lines.unit_price)
    discount = cents(lines.discount)
    assert (cents(lines.revenue) == gross - discount).all()
    assert ((discount >= 0) & (discount <= gross)).all()
    assert (discount > 0).any()
    products = raw["products"]
    assert (cents(products.unit_cost) < cents(products.list_price)).all()


def test_rows_fall_on_their_batch_date(raw):
    for name, col in (("order_items", "order_ts"), ("web_events", "event_ts")):
        assert (raw[name][col].str[:10] == raw[name].batch).all(), name
    for name, col in (
        ("campaign_exposure", "exposure_date"),
        ("returns", "return_date"),
        ("reviews", "review_date"),
    ):
        assert (raw[name][col] == raw[name].batch).all(), name
    first = CONFIG.start.isoformat()
    customers, products = raw["customers"], raw["products"]
    assert (
        customers.signup_date[customers.batch != first] == customers.batch[customers.batch != first]
    ).all()
    assert (customers.signup_date[customers.batch == first] <= first).all()
    assert (products.launch_date <= products.batch).all()


def test_cancelled_lines_have_no_delivery_and_completed_ones_do(raw):
    lines = raw["order_items"]
    cancelled = lines.status == "cancelled"
    assert (lines.delivery_days[cancelled] == "").all()
    assert (lines.delivery_days[~cancelled] != "").all()
    assert (lines.groupby("order_id").status.nunique() == 1).all()  # whole orders are cancelled
    assert 0.02 <= lines.drop_duplicates("order_id").status.eq("cancelled").mean() <= 0.04


def test_every_reference_resolves_to_the_same_or_an_earlier_batch(raw):
    def first_batch(df: pd.DataFrame, key: str) -> pd.Series:
        return df.set_index(key).batch

    customer_batch = first_batch(raw["customers"], "customer_id")
    product_batch = first_batch(raw["products"], "product_id")
    campaign_batch = first_batch(raw["campaigns"], "campaign_id")
    refs = [
        ("order_items", "customer_id", customer_batch),
        ("order_items", "product_id", product_batch),
        ("campaign_exposure", "customer_id", customer_batch),
        ("campaign_exposure", "campaign_id", campaign_batch),
        ("web_events", "customer_id", customer_batch),
        ("reviews", "customer_id", customer_batch),
        ("reviews", "product_id", product_batch),
    ]
    for name, col, parent in refs:
        df = raw[name]
        df = df[df[col] != ""]
        assert df[col].isin(parent.index).all(), (name, col)
        assert (parent.loc[df[col]].to_numpy() <= df.batch.to_numpy()).all(), (name, col)
    events = raw["web_events"]
    viewed = events[events.product_id != ""]
    assert (product_batch.loc[viewed.product_id].to_numpy() <= viewed.batch.to_numpy()).all()
    lines = raw["order_items"]
    with_campaign = lines[lines.campaign_id != ""]
    assert (campaign_batch.loc[with_campaign.campaign_id].to_numpy() <= with_campaign.batch.to_numpy()).all()


def test_no_order_before_signup_and_returns_and_reviews_follow_their_order(raw):
    lines = raw["order_items"]
    signup = raw["customers"].set_index("customer_id").signup_date
    assert (lines.order_ts.str[:10].to_numpy() >= signup.loc[lines.customer_id].to_numpy()).all()

    returned = raw["returns"].merge(lines, on=["order_id", "line_no"], how="left", suffixes=("", "_order"))
    assert returned.status.eq("completed").all()  # every return matches a completed line
    order_day = pd.to_datetime(returned.order_ts.str[:10])
    delay = (pd.to_datetime(returned.return_date) - order_day).dt.days
    assert delay.between(3, 30).all()
    assert (delay > returned.delivery_days.astype(int)).all()

    reviews = raw["reviews"].merge(
        lines, on=["order_id", "customer_id", "product_id"], how="left", suffixes=("", "_order")
    )
    assert reviews.status.eq("completed").all()
    assert (pd.to_datetime(reviews.review_date) > pd.to_datetime(reviews.order_ts.str[:10])).all()


def test_campaign_exposures_match_their_design(raw):
    campaigns = raw["campaigns"].set_index("campaign_type")
    exposure = raw["campaign_exposure"]
    regional = exposure[exposure.campaign_id == campaigns.loc["regional", "campaign_id"]]
    countries = set(campaigns.loc["regional", "target_countries"].split(";"))
    customers = raw["customers"].set_index("customer_id")
    in_target = customers.country.loc[regional.customer_id].isin(countries).to_numpy()
    assert ((regional.treated == "true").to_numpy() == in_target).all()
    launch = campaigns.loc["regional", "start_date"]
    assert len(regional) == (customers.signup_date <= launch).sum()  # everyone existing at launch

    targeted = exposure[exposure.campaign_id == campaigns.loc["targeted", "campaign_id"]]
    start = campaigns.loc["targeted", "start_date"]
    lines = raw["order_items"]
    before = lines[(lines.status == "completed") & (lines.order_ts.str[:10] < start)]
    assert set(targeted.customer_id) == set(before.customer_id)  # eligible = ordered before exposure
    window = lines[
        (lines.order_ts.str[:10] >= start)
        & (lines.order_ts.str[:10] <= campaigns.loc["targeted", "end_date"])
    ]
    tagged = window[window.campaign_id == campaigns.loc["targeted", "campaign_id"]]
    treated = set(targeted.customer_id[targeted.treated == "true"])
    assert set(tagged.customer_id) <= treated
    assert set(window.customer_id[window.customer_id.isin(treated)]) == set(tagged.customer_id)
    assert (lines.campaign_id[lines.order_ts.str[:10] > campaigns.loc["targeted", "end_date"]] == "").all()


def test_events_per_order_and_sessions_are_realistic(raw):
    orders = raw["order_items"].order_id.nunique()
    events = raw["web_events"]
    assert 7 <= len(events) / orders <= 10
    purchases = events[events.event_type == "purchase"]
    assert len(purchases) == len(raw["order_items"])  # one purchase event per order line
    assert events.event_id.astype(int).is_monotonic_increasing
    assert (raw["order_items"].order_id.astype(int).diff().dropna() >= 0).all()  # ids follow time
