"""settings_env writes every setting as the environment variable Settings reads back: a date too
(ECOMM_DRIFT_START), which JSON would quote and Settings refuse."""

from __future__ import annotations

import datetime as dt

from ecomm.orchestration.config import settings_env
from ecomm.settings import Settings


def test_a_date_setting_round_trips_through_the_environment(monkeypatch):
    planted = Settings(
        _env_file=None, drift_kind="delivery_delay", drift_start=dt.date(2025, 3, 15), drift_magnitude=0.3
    )
    env = settings_env(planted)
    assert env["ECOMM_DRIFT_START"] == "2025-03-15"
    assert env["ECOMM_DRIFT_END"] is None
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    read = Settings(_env_file=None)
    assert (read.drift_kind, read.drift_start, read.drift_end, read.drift_magnitude) == (
        "delivery_delay",
        dt.date(2025, 3, 15),
        None,
        0.3,
    )
