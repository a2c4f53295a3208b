"""Plotly conventions of the dashboard: one `show` for every chart, the country map."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

# Map outlines come from the dashboard's own server (streamlit/static/, server.enableStaticServing),
# not plotly's CDN: the dashboard works without internet access.
PLOT_CONFIG = {"displaylogo": False, "topojsonURL": "/app/static/"}


def show(fig: go.Figure, *, height: int = 360, key: str | None = None) -> None:
    """`key`: for charts of one page that can come out identical (Streamlit refuses a second element
    with the same auto-generated id), e.g. a log's one product beside the total."""
    fig.update_layout(height=height, margin={"t": 10, "b": 10, "l": 10, "r": 10})
    st.plotly_chart(fig, config=PLOT_CONFIG, key=key)


def hbar(frame: pd.DataFrame, value: str, label: str, *, title: str) -> go.Figure:
    """Horizontal bars, the largest on top."""
    fig = go.Figure(go.Bar(x=frame[value], y=frame[label], orientation="h"))
    fig.update_layout(yaxis={"autorange": "reversed", "title": None}, xaxis_title=title)
    return fig


# The map's choice of region (label: the longitude and latitude ranges it shows; None: the whole
# world, fitted to the countries with data). A region zooms in, so small neighbours (Europe's) can be
# read; it stays on the world outlines we serve (plotly's regional scopes would fetch other files).
MAP_REGIONS: dict[str, tuple[tuple[int, int], tuple[int, int]] | None] = {
    "World": None,
    "Europe": ((-12, 32), (35, 62)),
    "North America": ((-130, -55), (22, 62)),
}
MAP_HEIGHT = 560


def country_map(frame: pd.DataFrame, value: str, *, title: str, region: str = "World") -> go.Figure:
    if region not in MAP_REGIONS:
        raise ValueError(f"region must be one of {list(MAP_REGIONS)}, not {region!r}")
    fig = go.Figure(
        go.Choropleth(
            locations=frame["country"],
            locationmode="country names",
            z=frame[value],
            colorscale="Blues",
            colorbar_title=title,
        )
    )
    fig.update_geos(projection_type="natural earth", showcountries=True)
    if MAP_REGIONS[region] is None:
        fig.update_geos(fitbounds="locations")
    else:
        lon, lat = MAP_REGIONS[region]
        fig.update_geos(lonaxis_range=list(lon), lataxis_range=list(lat))
    return fig
