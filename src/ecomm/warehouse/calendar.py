"""The date spine behind warehouse.dim_date."""

from __future__ import annotations

from datetime import date, timedelta

import holidays

SPINE_START = date(2000, 1, 1)
SPINE_END = date(2050, 12, 31)


def date_spine_rows(start: date = SPINE_START, end: date = SPINE_END) -> list[tuple]:
    """One tuple per day, in dim_date column order (holidays: the shop's home market, US)."""
    us_holidays = holidays.country_holidays("US", years=range(start.year, end.year + 1))
    rows = []
    day = start
    while day <= end:
        iso = day.isocalendar()
        rows.append(
            (
                day,
                day.year,
                (day.month - 1) // 3 + 1,
                day.month,
                day.strftime("%B"),
                day.day,
                iso.year,
                iso.week,
                iso.weekday,
                day.strftime("%A"),
                iso.weekday >= 6,
                us_holidays.get(day),
            )
        )
        day += timedelta(days=1)
    return rows
