"""The live KPIs' queries on the real `stream` tables."""

from __future__ import annotations

from ecomm import db
from ecomm.stream import kpis


def test_an_empty_stream_has_no_day_and_zero_figures(warehouse):
    with db.connection(warehouse) as conn:
        figures = kpis.compute(conn)

    zero = {"orders": 0, "revenue": 0.0, "sessions": 0, "conversion": 0.0, "events": 0}
    assert figures == {
        "day": None,
        "today": zero,
        "last_minute": {**zero, "events_per_second": 0.0},
        "top_products": [],
        "top_categories": [],
        "recent_events": [],
    }
