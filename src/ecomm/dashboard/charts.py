"""Plotly conventions of the dashboard: one `show` for every chart, the country map."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

# Map outlines come from the dashboard's own server (streamlit/static/, server.enableStaticServing),
# not plotly's CDN: the dashboard works without internet access.
PLOT_CONFIG = {"displaylogo": False, "topojsonURL": "/app/static/"}


def show(fig: go.Figure, *, height: int = 360) -> None:
    fig.update_layout(height=height, margin={"t": 10, "b": 10, "l": 10, "r": 10})
    st.plotly_chart(fig, config=PLOT_CONFIG)


def hbar(frame: pd.DataFrame, value: str, label: str, *, title: str) -> go.Figure:
    """Horizontal bars, the largest on top."""
    fig = go.Figure(go.Bar(x=frame[value], y=frame[label], orientation="h"))
    fig.update_layout(yaxis={"autorange": "reversed", "title": None}, xaxis_title=title)
    return fig


def country_map(frame: pd.DataFrame, value: str, *, title: str) -> go.Figure:
    fig = go.Figure(
        go.Choropleth(
            locations=frame["country"],
            locationmode="country names",
            z=frame[value],
            colorscale="Blues",
            colorbar_title=title,
        )
    )
    fig.update_geos(projection_type="natural earth", showcountries=True, fitbounds="locations")
    return fig
