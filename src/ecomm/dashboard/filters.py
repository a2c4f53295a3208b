"""The sidebar filters every page honours: a date range, countries and product categories.

The widgets live in the entry script (they render on every run, so their values survive page
switches); pages read them with `current()`. An empty country or category selection means all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

DATES_KEY, COUNTRIES_KEY, CATEGORIES_KEY = "filter_dates", "filter_countries", "filter_categories"
FORM_KEY, APPLY_LABEL = "filters", "Apply"
DEFAULT_DAYS = 90  # the default range: the last quarter of the data, so there is a previous period


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date  # inclusive
    countries: tuple[str, ...] = ()  # () = all
    categories: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Filters:
        """The period of the same length just before this one, same countries and categories."""
        end = self.start - dt.timedelta(days=1)
        return Filters(end - dt.timedelta(days=self.days - 1), end, self.countries, self.categories)

    def params(self) -> dict:
        """Query parameters of `scope_sql`."""
        return {
            "start": self.start,
            "end": self.end,
            "countries": list(self.countries),
            "categories": list(self.categories),
        }

    def describe(self) -> str:
        countries = ", ".join(self.countries) or "all countries"
        categories = ", ".join(self.categories) or "all categories"
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y} · {countries} · {categories}"


def known(column: str) -> str:
    """The column with NULL (an attribute an imported log did not give) shown and filtered as
    'unknown', as the marts label it."""
    return f"coalesce({column}, 'unknown')"


def customer_name(alias: str) -> str:
    """A customer's name, or 'customer <id>' when the source gave none (an imported log)."""
    return f"coalesce({alias}.first_name || ' ' || {alias}.last_name, 'customer ' || {alias}.customer_id)"


def scope_sql(date_col: str | None, country_col: str | None, category_col: str | None) -> str:
    """A WHERE condition on the filter parameters (empty arrays = no restriction; a None column: that
    filter does not apply)."""
    parts = [f"{date_col} BETWEEN %(start)s AND %(end)s"] if date_col else []
    if country_col:
        parts.append(
            f"(cardinality(%(countries)s::text[]) = 0 OR {known(country_col)} = ANY(%(countries)s::text[]))"
        )
    if category_col:
        parts.append(
            f"(cardinality(%(categories)s::text[]) = 0 OR {known(category_col)} = ANY(%(categories)s::text[]))"
        )
    return " AND ".join(parts) or "TRUE"


def default_range(first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    return max(first_day, last_day - dt.timedelta(days=DEFAULT_DAYS - 1)), last_day


def sidebar(first_day: dt.date, last_day: dt.date, countries: list[str], categories: list[str]) -> None:
    """The filter widgets (values in session state under the keys above), in a form: edits apply
    together on Apply. Outside a form a typed date applies on blur, and the rerun it starts swallows
    the click that caused the blur."""
    st.sidebar.header("Filters")
    with st.sidebar.form(FORM_KEY, border=False):
        st.date_input(
            "Dates",
            value=default_range(first_day, last_day),
            min_value=first_day,
            max_value=last_day,
            key=DATES_KEY,
            help="Order dates (inclusive). KPI deltas compare with the same number of days just before.",
        )
        st.multiselect("Countries", countries, key=COUNTRIES_KEY, placeholder="All countries")
        st.multiselect("Categories", categories, key=CATEGORIES_KEY, placeholder="All categories")
        st.form_submit_button(APPLY_LABEL, type="primary")


def current(first_day: dt.date, last_day: dt.date) -> Filters:
    """The filters as set in the sidebar (defaults before the widgets have run)."""
    dates = st.session_state.get(DATES_KEY) or default_range(first_day, last_day)
    if isinstance(dates, dt.date):
        dates = (dates,)
    start = dates[0]
    end = dates[1] if len(dates) > 1 else start  # a range being picked: its first day so far
    return Filters(
        start=start,
        end=end,
        countries=tuple(st.session_state.get(COUNTRIES_KEY) or ()),
        categories=tuple(st.session_state.get(CATEGORIES_KEY) or ()),
    )
