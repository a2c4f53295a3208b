"""model_monitoring's retraining decision (monitoring.retrain.decide): the first day of a drift
episode of either detector retrains, with the reason; a continuing episode or no drift does not."""

from __future__ import annotations

from ecomm.monitoring.retrain import decide


def orders(retrain: bool, drifted: list[str], reason: str) -> dict:
    return {"retrain": retrain, "drifted": drifted, "reason": reason}


QUIET = orders(False, [], "no drift: order_value PSI 0.050 KS p=0.6")


def test_nothing_drifted_does_not_retrain_and_says_both():
    assert decide(QUIET, [], []) == (
        False,
        "recent orders no drift: order_value PSI 0.050 KS p=0.6; recent inputs: no drift",
        [],
    )


def test_the_first_day_of_recent_inputs_drift_retrains():
    retrain, reason, drifted = decide(QUIET, ["new_customer_channel", "new_customer_age"], [])
    assert retrain
    assert reason == "recent inputs drifted: new_customer_channel, new_customer_age"
    assert drifted == ["new_customer_channel", "new_customer_age"]


def test_continuing_recent_inputs_drift_does_not_retrain_again():
    retrain, reason, drifted = decide(QUIET, ["late_delivery"], ["late_delivery"])
    assert (retrain, drifted) == (False, [])
    assert reason.endswith("recent inputs drift continues (late_delivery; also drifted the day before)")


def test_the_order_triggers_first_day_retrains_and_both_reasons_are_given():
    first = orders(True, ["order_value"], "drift: order_value - order_value PSI 0.400 KS p=1e-05")
    assert decide(first, [], []) == (
        True,
        "recent orders drift: order_value - order_value PSI 0.400 KS p=1e-05",
        ["order_value"],
    )
    retrain, reason, drifted = decide(first, ["price_index[Electronics]"], [])
    assert retrain and drifted == ["order_value", "price_index[Electronics]"]
    assert reason.endswith("; recent inputs drifted: price_index[Electronics]")


def test_a_continuing_order_drift_is_not_a_trigger():
    continuing = orders(False, ["order_value"], "drift continues (order_value; also drifted on 2024-09-09)")
    assert decide(continuing, [], [])[:2] == (
        False,
        "recent orders drift continues (order_value; also drifted on 2024-09-09); recent inputs: no drift",
    )
