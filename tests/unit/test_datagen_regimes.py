"""Planted drift (issue 19): each regime change is present from its start date, absent before it, and
a world without one is the default world (test_datagen_determinism checks its files byte for byte)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.datagen.config import REGIME_MAGNITUDE, GeneratorError, RegimeChange, planted_regimes
from ecomm.entities import GROUND_TRUTH_SUMMARY, TRUTH_DIR
from ecomm.settings import Settings

BASE = dict(seed=7, customers=600, products=80, days=90, as_of=date(2024, 3, 31))
START = date(2024, 2, 15)
KINDS = {
    "young": RegimeChange("young_deal_channel", START, 1.0),
    "price": RegimeChange("category_price_rise", START, 0.25, category="Electronics"),
    "delay": RegimeChange("delivery_delay", START, 0.3),
}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("regimes")
    out = {"none": root / "none"}
    generate_history(GeneratorConfig(**BASE), out["none"])
    for name, regime in KINDS.items():
        out[name] = root / name
        generate_history(GeneratorConfig(**BASE, regimes=(regime,)), out[name])
    return out


def batches(world: Path, entity: str) -> pd.DataFrame:
    frames = [
        pd.read_csv(p / f"{entity}.csv").assign(batch=date.fromisoformat(p.name))
        for p in sorted(world.glob("20*"))
        if (p / f"{entity}.csv").stat().st_size > 200  # more than the header
    ]
    return pd.concat(frames, ignore_index=True)


def before_start_identical(a: Path, b: Path) -> None:
    same = {
        date.fromisoformat(day.name): all(
            (day / f.name).read_bytes() == (b / day.name / f.name).read_bytes() for f in day.iterdir()
        )
        for day in sorted(a.glob("20*"))
    }
    assert all(ok for day, ok in same.items() if day < START)
    assert not all(ok for day, ok in same.items() if day >= START)


def test_without_a_regime_there_is_no_regime_truth(worlds):
    assert not (worlds["none"] / TRUTH_DIR / "regime_change.csv").exists()
    assert "regime_changes" not in json.loads((worlds["none"] / GROUND_TRUTH_SUMMARY).read_text())
    assert "regimes" not in GeneratorConfig(**BASE).to_json()


@pytest.mark.parametrize("name", list(KINDS))
def test_a_regime_changes_nothing_before_its_start_and_is_recorded_in_the_truth(worlds, name):
    before_start_identical(worlds["none"], worlds[name])
    truth = pd.read_csv(worlds[name] / TRUTH_DIR / "regime_change.csv", keep_default_na=False)
    regime = KINDS[name]
    assert truth.to_dict("records") == [
        {
            "regime_id": 1,
            "kind": regime.kind,
            "start_date": "2024-02-15",
            "end_date": "",  # for good
            "magnitude": regime.magnitude,
            "category": regime.category or "",
            "description": REGIME_MAGNITUDE[regime.kind][0],
        }
    ]
    summary = json.loads((worlds[name] / GROUND_TRUTH_SUMMARY).read_text())
    assert summary["regime_changes"] == [regime.to_json()]
    assert GeneratorConfig.from_json(summary["config"]).regimes == (regime,)


def test_young_deal_channel_brings_younger_social_signups_after_the_start(worlds):
    def new_customers(world):
        c = batches(world, "customers")
        return c[c.batch < START], c[c.batch >= START]

    before, after = new_customers(worlds["none"])
    young_before, young_after = new_customers(worlds["young"])
    assert young_before.equals(before)
    assert len(young_after) == 169 and len(after) == 86  # the usual signups plus about as many again
    assert round(after.age.mean(), 1) == 41.6
    assert round(young_after.age.mean(), 1) == 34.5
    assert round((after.acquisition_channel == "social").mean(), 2) == 0.23
    assert round((young_after.acquisition_channel == "social").mean(), 2) == 0.61


def test_category_price_rise_raises_prices_and_lowers_demand_from_the_start(worlds):
    products = batches(worlds["none"], "products")[["product_id", "category", "list_price"]]

    def price_ratio(world):
        lines = batches(world, "order_items").merge(products, on="product_id")
        lines = lines[lines.category == "Electronics"]
        ratio = lines.unit_price / lines.list_price
        return round(ratio[lines.batch < START].mean(), 2), round(ratio[lines.batch >= START].mean(), 2)

    assert price_ratio(worlds["none"]) == (1.0, 1.01)  # the unit price's jitter around the list price
    assert price_ratio(worlds["price"]) == (1.0, 1.25)

    def electronics_units(world):
        d = pd.read_csv(worlds[world] / TRUTH_DIR / "product_demand.csv").merge(products, on="product_id")
        d = d[d.category == "Electronics"]
        after = d.business_date >= START.isoformat()
        return d[~after].expected_units.sum(), d[after].expected_units.sum()

    (base_before, base_after), (price_before, price_after) = (
        electronics_units("none"),
        electronics_units("price"),
    )
    assert price_before == base_before
    assert price_after < 0.95 * base_after


def test_delivery_delay_makes_late_deliveries_common_from_the_start(worlds):
    def late_share(world):
        orders = batches(world, "order_items").drop_duplicates("order_id").dropna(subset=["delivery_days"])
        late = orders.delivery_days >= 6  # a late delivery takes 6..12 days, an on-time one 1..5
        return round(late[orders.batch < START].mean(), 2), round(late[orders.batch >= START].mean(), 2)

    assert late_share(worlds["none"]) == (0.07, 0.09)
    assert late_share(worlds["delay"]) == (0.07, 0.38)


@pytest.mark.parametrize(
    ("regime", "message"),
    [
        (RegimeChange("meteor", START, 1.0), "regime kind must be one of"),
        (RegimeChange("category_price_rise", START, 0.2, category="Cars"), "needs a category"),
        (RegimeChange("delivery_delay", START, 1.5), "magnitude is a probability"),
        (RegimeChange("young_deal_channel", date(2024, 1, 2), 1.0), "there would be no before"),
        (RegimeChange("young_deal_channel", START, 1.0, end=date(2024, 2, 1)), "is before its start"),
    ],
)
def test_bad_regimes_are_refused_with_the_reason(regime, message):
    with pytest.raises(GeneratorError, match=message):
        GeneratorConfig(**BASE, regimes=(regime,)).validate()


def test_the_settings_plant_one_regime_with_the_kind_s_default_magnitude(monkeypatch):
    monkeypatch.setenv("ECOMM_DRIFT_KIND", "category_price_rise")
    monkeypatch.setenv("ECOMM_DRIFT_START", "2024-02-15")
    assert planted_regimes(Settings(_env_file=None)) == (
        RegimeChange("category_price_rise", START, 0.25, category="Electronics"),
    )
    monkeypatch.setenv("ECOMM_DRIFT_KIND", "delivery_delay")
    monkeypatch.setenv("ECOMM_DRIFT_END", "2024-03-01")
    monkeypatch.setenv("ECOMM_DRIFT_MAGNITUDE", "0.5")
    assert planted_regimes(Settings(_env_file=None)) == (
        RegimeChange("delivery_delay", START, 0.5, end=date(2024, 3, 1)),
    )
    monkeypatch.setenv("ECOMM_DRIFT_KIND", "none")
    assert planted_regimes(Settings(_env_file=None)) == ()
    monkeypatch.setenv("ECOMM_DRIFT_KIND", "young_deal_channel")
    monkeypatch.delenv("ECOMM_DRIFT_START")
    with pytest.raises(GeneratorError, match="needs ECOMM_DRIFT_START"):
        planted_regimes(Settings(_env_file=None))
