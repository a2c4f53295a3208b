"""Demand shape over the calendar: weekday, season, public holidays, Black Friday."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import numpy as np

from ecomm.datagen.pools import COUNTRIES

# Mon..Sun: people shop more at the weekend.
WEEKDAY_FACTOR = np.array([0.93, 0.94, 0.96, 0.98, 1.02, 1.10, 1.07])
# Mid-month levels, interpolated per day: summer dip, November/December peak.
MONTH_FACTOR = np.array([0.90, 0.87, 0.94, 0.96, 0.98, 0.93, 0.87, 0.89, 0.97, 1.02, 1.22, 1.36])
HOLIDAY_BOOST = 1.3  # a public holiday in the customer's country


def annual_factor(day: date) -> float:
    """Smooth yearly seasonality: linear between the middles of adjacent months (cyclic)."""
    pos = day.month - 1 + (day.day - 1) / 30.5 - 0.5  # months since mid-January
    lo = int(np.floor(pos))
    frac = pos - lo
    return float(MONTH_FACTOR[lo % 12] * (1 - frac) + MONTH_FACTOR[(lo + 1) % 12] * frac)


def black_friday(year: int) -> date:
    """The day after US Thanksgiving (fourth Thursday of November)."""
    first = date(year, 11, 1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
    return thursday + timedelta(days=1)


class DemandCalendar:
    """Per-country demand multipliers for a date (holiday tables are built per year, lazily)."""

    def __init__(self) -> None:
        self._holidays: dict[int, list[set[int]]] = {}
        self._cache: dict[int, np.ndarray] = {}

    def _holiday_sets(self, year: int) -> list[set[int]]:
        if year not in self._holidays:
            self._holidays[year] = [
                {d.toordinal() for d in holidays.country_holidays(c.holiday_code, years=year)}
                for c in COUNTRIES
            ]
        return self._holidays[year]

    def is_holiday(self, ordinal: int) -> np.ndarray:
        sets = self._holiday_sets(date.fromordinal(ordinal).year)
        return np.array([ordinal in s for s in sets])

    def factors(self, ordinal: int) -> np.ndarray:
        """weekday x season x holiday, one value per country (index as in COUNTRIES)."""
        if ordinal not in self._cache:
            day = date.fromordinal(ordinal)
            base = WEEKDAY_FACTOR[day.weekday()] * annual_factor(day)
            self._cache[ordinal] = base * np.where(self.is_holiday(ordinal), HOLIDAY_BOOST, 1.0)
        return self._cache[ordinal]
