"""What every page shares: its header with the time of the last load, the friendly messages when
there is nothing to show, number formats."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from ecomm.dashboard import filters as F
from ecomm.dashboard import interactions, models
from ecomm.dashboard.source import FILL_COMMANDS, Warehouse, WarehouseUnavailable, open_warehouse
from ecomm.settings import Settings

# Set by the entry script on each run, read by the page it runs (session state: one per browser tab).
SETTINGS_KEY, WAREHOUSE_KEY = "_settings", "_warehouse"


@dataclass(frozen=True)
class PageContext:
    settings: Settings
    warehouse: Warehouse
    filters: F.Filters


def prepare(settings: Settings) -> Warehouse | None:
    """Open the warehouse for this run (None, the reason kept for the page, when it cannot be read)."""
    st.session_state[SETTINGS_KEY] = settings
    try:
        warehouse = open_warehouse(settings)
    except WarehouseUnavailable as exc:
        st.session_state[WAREHOUSE_KEY] = str(exc)
        return None
    st.session_state[WAREHOUSE_KEY] = warehouse
    return warehouse


def show(page) -> None:
    """Run a page module: its TITLE, the last load and the filters (its APPLIES says which it honours
    and how), then its `render(context)`; instead a friendly message when the warehouse is unreachable
    or empty, or when the page shows orders (its NEEDS_ORDERS) and the warehouse holds an imported
    rating or event log."""
    st.title(page.TITLE)
    warehouse = st.session_state.get(WAREHOUSE_KEY)
    if not isinstance(warehouse, Warehouse):
        st.warning(f"The warehouse cannot be read: {warehouse or 'not opened'}", icon="🔌")
        return
    if warehouse.empty:
        st.info(
            f"The warehouse is empty: no business date has been loaded yet. Fill it with {FILL_COMMANDS}."
        )
        return
    flt = F.current(warehouse.first_day, warehouse.last_day)
    st.caption(f"{last_loaded(warehouse)}  \nFilters: {flt.describe()} — {page.APPLIES}.")
    if getattr(page, "NEEDS_ORDERS", False) and not warehouse.has_orders:
        st.info(interactions.no_orders(warehouse))
        return
    page.render(PageContext(st.session_state[SETTINGS_KEY], warehouse, flt))


def last_loaded(warehouse: Warehouse) -> str:
    when = (
        warehouse.loaded_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if warehouse.loaded_at else "?"
    )
    return (
        f"Data last loaded {when} ({warehouse.batches:,} business dates, "
        f"{warehouse.first_day:%d %b %Y} – {warehouse.last_day:%d %b %Y})"
    )


def money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.0f}"


def money_cents(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def registry_down(exc: Exception) -> None:
    st.warning(f"{exc}. Is the platform running? Start it with `make up`.")


def champion_or_explain(settings: Settings, name: str, train_command: str) -> models.Champion | None:
    """The champion of model `name`; None, after a message naming what to run, when there is none."""
    try:
        champion = models.champion(settings, name)
    except models.RegistryUnavailable as exc:
        registry_down(exc)
        return None
    if champion is None:
        st.info(
            f"No `{name}` is registered as champion yet, so there is nothing to show. Train one with "
            f"`{train_command}` (`make up` does it on first start)."
        )
    return champion
