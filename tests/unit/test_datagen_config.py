"""Bad input gets a GeneratorError (a ValueError) that says what to fix, and writes nothing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from ecomm.datagen import GeneratorConfig, GeneratorError, generate_history, generate_next_day
from ecomm.datagen.config import DEFAULT_PERSONAS, Plan

AS_OF = date(2024, 6, 30)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"days": 59}, "days must be >= 60 (the regional campaign needs 8 weeks of pre-period), got 59"),
        ({"customers": 49}, "customers must be >= 50, got 49"),
        ({"products": 19}, "products must be >= 20, got 19"),
        ({"seed": -1}, "seed must be >= 0, got -1"),
        ({"days": 90.5}, "days must be an integer, got 90.5"),
        ({"customers": True}, "customers must be an integer, got True"),
        ({"as_of": "2024-06-30"}, "as_of must be a date, got '2024-06-30'"),
        ({"plan_days": 120}, "plan_days must be an integer between 60 and days (90), got 120"),
        ({"plan_days": 59}, "plan_days must be an integer between 60 and days (90), got 59"),
        ({"existing_share": 1.0}, "existing_share must be in (0, 1), got 1.0"),
        ({"consideration_size": 101}, "consideration_size must be in 5..100, got 101"),
        ({"regional_uplift": 3.0}, "regional_uplift must be in [1, 2], got 3.0"),
        ({"value_replications": 0}, "value_replications must be in 1..64, got 0"),
        (
            {"personas": (replace(DEFAULT_PERSONAS[0], share=0.0),) + DEFAULT_PERSONAS[1:]},
            f"persona shares must sum to 1, got {sum(p.share for p in DEFAULT_PERSONAS[1:])}",
        ),
        (
            {"personas": (replace(DEFAULT_PERSONAS[0], daytime_share=1.5),) + DEFAULT_PERSONAS[1:]},
            "persona loyal_high_value: daytime_share must be in [0, 1], got 1.5",
        ),
        (
            {"personas": (replace(DEFAULT_PERSONAS[0], channel_weights=(1.0,)),) + DEFAULT_PERSONAS[1:]},
            "persona loyal_high_value: channel_weights must be 6 non-negative weights, got (1.0,)",
        ),
        (
            {"as_of": date(2002, 6, 30)},
            "history would start on 2002-04-02; the warehouse calendar starts in 2000 and the base signs up "
            "over the 3 years before the start",
        ),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(tmp_path, changes, message):
    config = GeneratorConfig(**{"as_of": AS_OF, "days": 90, "customers": 200, "products": 40, **changes})
    with pytest.raises(GeneratorError, match=f"^{re.escape(message)}$"):
        generate_history(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_generator_error_is_a_value_error():
    assert issubclass(GeneratorError, ValueError)


def test_config_must_be_a_generator_config(tmp_path):
    with pytest.raises(GeneratorError, match="^config must be a GeneratorConfig, got dict$"):
        generate_history({"days": 90}, tmp_path)


def test_next_day_needs_an_existing_world(tmp_path):
    with pytest.raises(GeneratorError, match=r"^no generator state in .*_state: create the world first"):
        generate_next_day(tmp_path)


def test_output_with_foreign_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    config = GeneratorConfig(as_of=AS_OF, days=60, customers=60, products=25)
    with pytest.raises(GeneratorError, match=r"holds files that are not generator output \(notes.txt\)"):
        generate_history(config, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_smallest_world_is_generated_with_both_campaigns_inside_the_plan(tmp_path):
    config = GeneratorConfig(as_of=AS_OF, days=60, customers=50, products=20)
    plan = Plan.from_config(config)
    assert plan.regional_day - plan.start == 56  # 8 weeks of pre-period
    assert plan.targeted_day + plan.targeted_window_days - 1 <= config.as_of.toordinal()
    summary = generate_history(config, tmp_path)
    assert len(summary.dates) == 60
    assert summary.rows["campaigns"] == 2
    assert summary.rows["products"] >= 19  # the initial catalog, plus launches
    assert summary.rows["order_items"] > 0
