"""A model that fails while monitored is named with a one-line reason, and the task fails at the end
(ecomm.monitoring.models.failure_reason, raise_for_failures)."""

from __future__ import annotations

import datetime as dt

import pytest

from ecomm.monitoring.models import ModelDrift, MonitoringFailed, failure_reason, raise_for_failures

DAY = dt.date(2025, 3, 1)


def test_the_reason_is_the_errors_type_and_first_line():
    assert failure_reason(ValueError("no reference\ntraceback detail")) == "ValueError: no reference"
    assert (
        failure_reason(PermissionError(13, "Permission denied"))
        == "PermissionError: [Errno 13] Permission denied"
    )
    assert failure_reason(RuntimeError()) == "RuntimeError"
    assert failure_reason(KeyError("  ")) == "KeyError: '  '"


def test_only_failed_models_fail_the_caller_each_named():
    results = [
        ModelDrift("churn_model", "2", DAY, "failed", reason="report not written: OSError: disk full"),
        ModelDrift("purchase_model", "1", DAY, "monitored"),
        ModelDrift("clv_model", None, DAY, "no_champion"),
        ModelDrift("inputs", "0", DAY, "failed", reason="OperationalError: connection lost"),
    ]
    with pytest.raises(MonitoringFailed) as raised:
        raise_for_failures(results)
    assert str(raised.value) == (
        "2 of 4 failed: churn_model v2: report not written: OSError: disk full; "
        "inputs v0: OperationalError: connection lost"
    )
    raise_for_failures(results[1:3])  # skipped is not failed
    assert ModelDrift("churn_model", "2", DAY, "failed", reason="x").to_dict()["reason"] == "x"
