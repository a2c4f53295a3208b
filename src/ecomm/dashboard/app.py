"""The multipage app: settings, the warehouse of this run, the sidebar filters, the navigation."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ecomm.dashboard import filters, layout, queries
from ecomm.dashboard.pages import PAGES
from ecomm.settings import Settings


def main(views: Path) -> None:
    st.set_page_config(page_title="ecomm dashboard", page_icon="🛒", layout="wide")
    navigation = st.navigation(
        [
            st.Page(views / f"{name}.py", title=title, icon=icon, default=i == 0)
            for i, (name, title, icon) in enumerate(PAGES)
        ]
    )
    warehouse = layout.prepare(Settings())
    if warehouse is not None and not warehouse.empty:
        options = queries.choices(warehouse)
        filters.sidebar(warehouse.first_day, warehouse.last_day, options["countries"], options["categories"])
    navigation.run()
