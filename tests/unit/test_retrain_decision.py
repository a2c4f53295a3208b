"""model_monitoring's retraining decision (monitoring.retrain.decide): the day a drift episode of
either detector reaches the days required (1: its first day) retrains, with the reason; a continuing
episode, a shorter one or no drift does not."""

from __future__ import annotations

import pytest

from ecomm.monitoring.retrain import decide


def orders(retrain: bool, drifted: list[str], reason: str) -> dict:
    return {"retrain": retrain, "drifted": drifted, "reason": reason}


QUIET = orders(False, [], "no drift: order_value PSI 0.050 KS p=0.6")


def test_nothing_drifted_does_not_retrain_and_says_both():
    assert decide(QUIET, [[], []], 1) == (
        False,
        "recent orders no drift: order_value PSI 0.050 KS p=0.6; recent inputs: no drift",
        [],
    )


def test_the_first_day_of_recent_inputs_drift_retrains():
    retrain, reason, drifted = decide(QUIET, [[], ["new_customer_channel", "new_customer_age"]], 1)
    assert retrain
    assert reason == "recent inputs drifted: new_customer_channel, new_customer_age"
    assert drifted == ["new_customer_channel", "new_customer_age"]


def test_continuing_recent_inputs_drift_does_not_retrain_again():
    retrain, reason, drifted = decide(QUIET, [["late_delivery"], ["late_delivery"]], 1)
    assert (retrain, drifted) == (False, [])
    assert reason.endswith(
        "recent inputs drift continues (late_delivery; drifted on each of the 2 days to D)"
    )


def test_the_order_triggers_first_day_retrains_and_both_reasons_are_given():
    first = orders(True, ["order_value"], "drift: order_value - order_value PSI 0.400 KS p=1e-05")
    assert decide(first, [[], []], 1) == (
        True,
        "recent orders drift: order_value - order_value PSI 0.400 KS p=1e-05",
        ["order_value"],
    )
    retrain, reason, drifted = decide(first, [[], ["price_index[Electronics]"]], 1)
    assert retrain and drifted == ["order_value", "price_index[Electronics]"]
    assert reason.endswith("; recent inputs drifted: price_index[Electronics]")


def test_a_continuing_order_drift_is_not_a_trigger():
    continuing = orders(False, ["order_value"], "drift continues (order_value; also drifted on 2024-09-09)")
    assert decide(continuing, [[], []], 1)[:2] == (
        False,
        "recent orders drift continues (order_value; also drifted on 2024-09-09); recent inputs: no drift",
    )


def test_two_days_required_the_second_drifted_day_retrains_once():
    late = ["late_delivery"]
    retrain, reason, _ = decide(QUIET, [[], [], late], 2)
    assert not retrain
    assert reason.endswith("recent inputs drifted on 1 consecutive day(s) (late_delivery), 2 needed")
    assert decide(QUIET, [[], late, late], 2) == (
        True,
        "recent inputs drifted (each of the last 2 days): late_delivery",
        late,
    )
    assert not decide(QUIET, [late, late, late], 2)[0]
    assert not decide(QUIET, [late, [], late], 2)[0]  # a gap: a new episode's first day


def test_the_flags_must_cover_the_days_required():
    with pytest.raises(ValueError, match="2 days of recent-input flags for 2 \\+ 1 days"):
        decide(QUIET, [[], []], 2)
