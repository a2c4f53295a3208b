"""The Streamlit dashboard through streamlit.testing's AppTest, on the session's trained world (a loaded
warehouse, 900 customers, champion churn, recommender and segment models in a real MLflow store, the
segments stored): every page runs, the figures equal the same figures computed directly in SQL, the
filters change them, and an empty warehouse, a registry without champions or a copy of the world with
its segments deleted (`unsegmented_world`) gets a friendly message naming the command.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ecomm import db
from ecomm.dashboard.churn import contributions, current_scores
from ecomm.dashboard.models import champion, load_model
from ecomm.dashboard.source import _engine
from ecomm.entities import RETURN_WINDOW_DAYS
from ecomm.features import columns as C
from ecomm.ml import registry
from ecomm.ml.purchase.scoring import score_with_champion as score_purchase

from support.causal_world import clone_database, drop_database
from support.env import use_settings_env

APP = Path(__file__).resolve().parents[2] / "streamlit" / "app.py"
PAGES = (
    "overview",
    "sales",
    "customers",
    "segments",
    "churn_risk",
    "recommendations",
    "demand",
    "campaigns",
    "models",
    "monitoring",
)
OVERVIEW_APPLIES = (
    "every figure honours the dates, countries and categories; deltas compare with the same number of "
    "days just before"
)
TITLES = (
    "Overview",
    "Sales",
    "Customers",
    "Segments",
    "Churn risk",
    "Recommendations",
    "Demand & stock",
    "Campaigns",
    "Models",
    "Monitoring",
)


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture
def open_app(monkeypatch):
    """An AppTest of the dashboard whose Settings (read from the environment) equal `settings`."""

    def open_(settings, page: str = "overview", *, whole_history: bool = False) -> AppTest:
        use_settings_env(monkeypatch, settings)
        app = AppTest.from_file(str(APP), default_timeout=300).run()
        if whole_history:  # the date filter from the first to the last loaded day
            apply_filters(app, dates=span(settings))
        if page != "overview":
            app.switch_page(f"views/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return open_


def apply_filters(app: AppTest, dates=None, countries=None, categories=None) -> AppTest:
    """Edit the sidebar's filters and press Apply (the filters are a form: edits wait for it)."""
    if dates is not None:
        app.date_input(key="filter_dates").set_value(dates)
    if countries is not None:
        app.multiselect(key="filter_countries").set_value(countries)
    if categories is not None:
        app.multiselect(key="filter_categories").set_value(categories)
    app.button(key="FormSubmitter:filters-Apply").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def rows(settings, sql: str, params: dict | None = None) -> list[tuple]:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def one(settings, sql: str, params: dict | None = None):
    return rows(settings, sql, params)[0][0]


def span(settings) -> tuple[dt.date, dt.date]:
    return rows(settings, "SELECT min(order_date), max(order_date) FROM warehouse.fact_order_items")[0]


@contextlib.contextmanager
def emptied(settings, table: str):
    """`table` empty for the block; its rows (and a fresh dashboard cache) are back after it."""
    import streamlit as st

    kept = f"{table}_kept"
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {kept} AS SELECT * FROM {table}")
        cur.execute(f"TRUNCATE {table}")
        conn.commit()
        st.cache_data.clear()
        try:
            yield
        finally:
            cur.execute(f"INSERT INTO {table} SELECT * FROM {kept}")
            cur.execute(f"DROP TABLE {kept}")
            conn.commit()
            st.cache_data.clear()


def charts(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def array(value) -> list:
    """A plotly JSON array: a list, or numpy data plotly encoded as base64 ("bdata")."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:  # "rows, columns"
            flat = flat.reshape([int(n) for n in str(value["shape"]).split(",")])
        return flat.tolist()
    return value


def heatmap_cells(heatmap: dict) -> dict[tuple[str, str], float]:
    """(row label, column label) -> value of each filled cell of a plotly heatmap."""
    return {
        (y, x): v
        for y, row in zip(heatmap["y"], array(heatmap["z"]), strict=True)
        for x, v in zip(heatmap["x"], row, strict=True)
        if v is not None and not math.isnan(v)
    }


def metrics(app: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in app.metric}


def scope(countries=(), categories=()) -> str:
    """The filters as SQL, written independently of the dashboard's queries."""
    out = ""
    if countries:
        out += " AND c.country IN (" + ", ".join(f"'{x}'" for x in countries) + ")"
    if categories:
        out += " AND p.category IN (" + ", ".join(f"'{x}'" for x in categories) + ")"
    return out


def matured_end(settings) -> dt.date:
    """The last order date whose returns have all arrived: the return window before the last load."""
    return span(settings)[1] - dt.timedelta(days=RETURN_WINDOW_DAYS)


def expected_kpis(settings, start, end, countries=(), categories=()) -> dict[str, str]:
    """The Overview's five KPIs as displayed, from the mart (revenue) and per-order SQL (the rest);
    the returns rate over the orders old enough for their returns to have arrived."""
    mart_scope = (
        scope(countries, categories).replace("c.country", "country").replace("p.category", "category")
    )
    revenue = one(
        settings,
        f"SELECT coalesce(sum(net_revenue), 0) FROM marts.daily_sales "
        f"WHERE order_date BETWEEN %(s)s AND %(e)s {mart_scope}",
        {"s": start, "e": end},
    )
    lines = f"""FROM warehouse.fact_order_items f JOIN warehouse.dim_customer c USING (customer_id)
                JOIN warehouse.dim_product p USING (product_id)
                WHERE f.order_date BETWEEN %(s)s AND %(e)s {scope(countries, categories)}"""
    orders, completed = rows(
        settings,
        f"""SELECT count(*) FILTER (WHERE live), count(*) FILTER (WHERE done) FROM (
                SELECT f.order_id, bool_or(f.status <> 'cancelled') AS live, bool_or(f.status = 'completed') AS done
                {lines} GROUP BY f.order_id) o""",
        {"s": start, "e": end},
    )[0]
    customers = one(
        settings,
        f"SELECT count(*) FROM (SELECT f.customer_id {lines} AND f.status <> 'cancelled' GROUP BY 1) x",
        {"s": start, "e": end},
    )
    returned, kept = rows(
        settings,
        f"SELECT count(*) FILTER (WHERE f.status = 'returned'), count(*) FILTER (WHERE f.status <> 'cancelled') "
        f"{lines} AND f.order_date <= %(matured)s",
        {"s": start, "e": end, "matured": matured_end(settings)},
    )[0]
    return {
        "Net revenue": float(revenue),
        "Orders": orders,
        "Average order value": float(revenue) / completed,
        "Active customers": customers,
        "Returns rate": returned / kept if kept else None,  # None: no order of the range has matured
    }


def shown(values: dict[str, float]) -> dict[str, str]:
    return {
        "Net revenue": f"${values['Net revenue']:,.0f}",
        "Orders": f"{values['Orders']:,}",
        "Average order value": f"${values['Average order value']:,.2f}",
        "Active customers": f"{values['Active customers']:,}",
        "Returns rate": "–" if values["Returns rate"] is None else f"{values['Returns rate']:.1%}",
    }


def deltas(now: dict[str, float], before: dict[str, float]) -> dict[str, str]:
    out = {k: f"{(now[k] - before[k]) / before[k]:+.1%}" for k in now if k != "Returns rate"}
    out["Returns rate"] = f"{(now['Returns rate'] - before['Returns rate']) * 100:+.1f} pp"
    return out


# ----------------------------------------------------------------------------------- every page
@pytest.mark.parametrize("page,title", list(zip(PAGES, TITLES, strict=True)))
def test_every_page_renders_with_the_time_of_the_last_load(trained_world, open_app, page, title):
    app = open_app(trained_world, page)
    finished, batches = rows(
        trained_world,
        "SELECT max(finished_at), count(DISTINCT batch_date) FROM audit.load_runs WHERE status = 'loaded'",
    )[0]
    first, last = span(trained_world)
    assert [t.value for t in app.title] == [title]
    assert app.caption[0].value.startswith(
        f"Data last loaded {finished.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC ({batches:,} business dates, "
        f"{first:%d %b %Y} – {last:%d %b %Y})"
    )
    assert not app.error and not app.warning


# ------------------------------------------------------------------------------------ overview
def test_kpis_equal_the_same_figures_in_sql_with_deltas(trained_world, open_app):
    app = open_app(trained_world)
    first, last = span(trained_world)
    start = last - dt.timedelta(days=89)  # the default range: the last 90 days
    previous = (start - dt.timedelta(days=90), start - dt.timedelta(days=1))
    assert previous[0] >= first
    now = expected_kpis(trained_world, start, last)
    before = expected_kpis(trained_world, *previous)
    expected = shown(now)
    expected_deltas = deltas(now, before)
    assert metrics(app) == {k: (expected[k], expected_deltas[k]) for k in expected}
    matured = matured_end(trained_world)
    assert start < matured < last
    assert app.caption[2].value == (
        f"Returns arrive up to {RETURN_WINDOW_DAYS} days after the order: the returns rate and its delta "
        f"count orders up to {matured:%d %b %Y}; net revenue of later orders (shaded) will still fall as "
        "their returns arrive."
    )
    trend = charts(app)[0]["layout"]
    assert [(s["x0"][:10], s["x1"][:10]) for s in trend["shapes"]] == [
        (f"{matured + dt.timedelta(days=1)}", f"{last}")
    ]
    assert trend["yaxis"]["rangemode"] == "tozero"
    # the real-time path's line: API tests that share this world may have posted events before
    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT max(t) FROM (SELECT max(order_ts) AS t FROM stream.order_items"
            " UNION ALL SELECT max(event_ts) FROM stream.web_events) AS latest"
        )
        newest = cur.fetchone()[0]
    line = app.caption[-1].value
    if newest is None:
        assert line == (
            "Live stream: no events streamed (`make up` and Compose run `ecomm stream --follow` as their "
            "stream service; or run `ecomm stream`)."
        )
    else:
        assert (
            line.startswith("Live stream: lag ") and f"(newest event {newest:%Y-%m-%d %H:%M:%S})" in line
        ), line


def test_returns_arrive_within_the_return_window(loaded_world):
    """The window the dashboard waits for is the one the data has: every return within it, the
    latest at its end."""
    assert (
        one(
            loaded_world,
            "SELECT max(return_date - order_date) FROM warehouse.fact_order_items WHERE status = 'returned'",
        )
        == RETURN_WINDOW_DAYS
    )


@pytest.mark.parametrize("days", [1, 10, RETURN_WINDOW_DAYS])
def test_a_range_of_recent_orders_has_no_returns_rate_yet(loaded_world, open_app, days):
    app = open_app(loaded_world)
    last = span(loaded_world)[1]
    start = last - dt.timedelta(days=days - 1)
    apply_filters(app, dates=(start, last))
    assert not app.exception
    values = metrics(app)
    assert values["Returns rate"] == ("–", "not yet matured")
    # the previous period's rate is matured, but there is nothing to compare it with
    assert values["Orders"][0] == f"{expected_kpis(loaded_world, start, last)['Orders']:,}"
    assert app.caption[2].value == (
        f"Returns arrive up to {RETURN_WINDOW_DAYS} days after the order: no order of the range is "
        f"{RETURN_WINDOW_DAYS} days old yet, so its returns rate is not yet matured (orders up to "
        f"{matured_end(loaded_world):%d %b %Y} are); its net revenue will still fall as returns arrive."
    )


def test_a_matured_range_compares_matured_returns(loaded_world, open_app):
    app = open_app(loaded_world)
    end = matured_end(loaded_world)
    start = end - dt.timedelta(days=59)
    apply_filters(app, dates=(start, end))
    now = expected_kpis(loaded_world, start, end)
    before = expected_kpis(loaded_world, start - dt.timedelta(days=60), start - dt.timedelta(days=1))
    assert metrics(app)["Returns rate"] == (shown(now)["Returns rate"], deltas(now, before)["Returns rate"])
    assert app.caption[2].value == (
        f"Returns arrive up to {RETURN_WINDOW_DAYS} days after the order: every order of the range is old "
        "enough for its returns to have arrived."
    )
    assert "shapes" not in charts(app)[0]["layout"]


def test_the_filters_change_every_figure(trained_world, open_app):
    app = open_app(trained_world)
    unfiltered = metrics(app)
    first, last = span(trained_world)
    start = last - dt.timedelta(days=29)
    country, category = "Germany", "Electronics"
    apply_filters(app, dates=(start, last), countries=[country], categories=[category])
    assert not app.exception
    expected = shown(expected_kpis(trained_world, start, last, [country], [category]))
    assert {k: v for k, (v, _) in metrics(app).items()} == expected
    assert expected != {k: v for k, (v, _) in unfiltered.items()}
    by_category = charts(app)[1]["data"][0]
    assert by_category["y"] == [category]

    # the same filters on another page: the sales map and the top products
    app.switch_page("views/sales.py").run()
    sales_map = next(c for c in charts(app) if c["data"][0]["type"] == "choropleth")["data"][0]
    assert sales_map["locations"] == [country]
    assert array(sales_map["z"])[0] == pytest.approx(
        float(
            one(
                trained_world,
                "SELECT sum(net_revenue) FROM marts.daily_sales WHERE order_date BETWEEN %s AND %s "
                "AND country = %s AND category = %s",
                (start, last, country, category),
            )
        )
    )
    top = app.dataframe[0].value
    assert set(top["category"]) == {category}
    assert top["product_id"].tolist() == [
        r[0]
        for r in rows(
            trained_world,
            """SELECT f.product_id FROM warehouse.fact_order_items f
               JOIN warehouse.dim_customer c USING (customer_id) JOIN warehouse.dim_product p USING (product_id)
               WHERE f.order_date BETWEEN %s AND %s AND c.country = %s AND p.category = %s
               GROUP BY 1 ORDER BY sum(f.revenue) FILTER (WHERE f.status = 'completed') DESC NULLS LAST, 1
               LIMIT 10""",
            (start, last, country, category),
        )
    ]


def test_filter_edits_wait_for_apply(loaded_world, open_app):
    """The filters are one form: an edit changes nothing until Apply (a typed date then needs no blur
    and no rerun that would swallow the next click)."""
    app = open_app(loaded_world)
    before = metrics(app)
    widgets = [
        app.date_input(key="filter_dates"),
        app.multiselect(key="filter_countries"),
        app.multiselect(key="filter_categories"),
    ]
    assert [w.form_id for w in widgets] == ["filters"] * 3
    last = span(loaded_world)[1]
    start = last - dt.timedelta(days=44)
    app.date_input(key="filter_dates").set_value((start, last))
    app.multiselect(key="filter_countries").set_value(["Italy"])
    app.run()  # another widget's rerun: the form's edits are not sent
    assert metrics(app) == before
    apply_filters(app, dates=(start, last), countries=["Italy"])
    assert app.caption[0].value.endswith(
        f"Filters: {start:%d %b %Y} – {last:%d %b %Y} · Italy · all categories — {OVERVIEW_APPLIES}."
    )
    assert {k: v for k, (v, _) in metrics(app).items()} == shown(
        expected_kpis(loaded_world, start, last, ["Italy"])
    )


def test_sales_revenue_starts_at_zero_and_the_map_zooms_to_a_region(loaded_world, open_app):
    app = open_app(loaded_world, "sales")
    over_time, _, country_map, _, _ = charts(app)
    assert over_time["layout"]["yaxis"]["rangemode"] == "tozero"
    assert country_map["data"][0]["type"] == "choropleth"
    assert country_map["layout"]["height"] == 560
    assert country_map["layout"]["geo"]["fitbounds"] == "locations"
    countries = country_map["data"][0]["locations"]
    regions = app.get("button_group")[1]
    assert regions.label == "Map" and regions.value == "World"
    regions.set_value("Europe").run()
    zoomed = charts(app)[2]
    geo = zoomed["layout"]["geo"]
    assert (geo["lonaxis"]["range"], geo["lataxis"]["range"]) == ([-12, 32], [35, 62])
    assert "fitbounds" not in geo and "scope" not in geo  # the world outlines we serve, zoomed
    assert zoomed["data"][0]["locations"] == countries
    assert zoomed["layout"]["height"] == 560


# ------------------------------------------------------------------------------------ customers
def test_a_one_month_range_follows_the_cohorts_of_the_months_before(loaded_world, open_app):
    last = span(loaded_world)[1]
    end = last.replace(day=1) - dt.timedelta(days=1)  # the last whole month
    start = end.replace(day=1)
    app = open_app(loaded_world, "customers")
    apply_filters(app, dates=(start, end))
    heatmap = charts(app)[0]["data"][0]
    months = rows(
        loaded_world,
        """SELECT DISTINCT cohort_month FROM marts.cohort_retention
           WHERE cohort_month BETWEEN %s::date - interval '5 months' AND %s ORDER BY 1""",
        (start, start),
    )
    assert heatmap["y"] == [f"{m:%b %Y}" for (m,) in months] and len(months) == 6
    sizes = dict(
        rows(
            loaded_world,
            "SELECT cohort_month, sum(active_customers) FROM marts.cohort_retention "
            "WHERE months_since_first_order = 0 GROUP BY 1",
        )
    )
    expected = {
        (f"{c:%b %Y}", str(m)): float(a / sizes[c])
        for c, m, a in rows(
            loaded_world,
            """SELECT cohort_month, months_since_first_order, sum(active_customers)
               FROM marts.cohort_retention
               WHERE cohort_month >= %s::date - interval '5 months'
                 AND cohort_month + make_interval(months => months_since_first_order) <= %s
               GROUP BY 1, 2""",
            (start, end),
        )
    }
    assert heatmap_cells(heatmap) == pytest.approx(expected)
    assert app.caption[1].value.endswith(
        f"The range covers fewer than 6 months: the cohorts from {months[0][0]:%b %Y} are shown."
    )


def test_cohort_activity_read_from_the_mart_equals_the_order_lines(trained_world):
    from ecomm.dashboard import queries as Q
    from ecomm.dashboard.filters import Filters
    from ecomm.dashboard.source import open_warehouse

    wh = open_warehouse(trained_world)
    first, last = span(trained_world)
    month_end = last.replace(day=1) - dt.timedelta(days=1)
    country = one(
        trained_world, "SELECT country FROM warehouse.dim_customer GROUP BY 1 ORDER BY count(*) DESC"
    )
    for flt in (
        Filters(last - dt.timedelta(days=89), last),  # the default range
        Filters(first, last, countries=(country,)),
        Filters(first, month_end),  # an earlier month's end: whole months too
    ):
        mart = Q.cohort_activity_from_mart(wh, flt)
        assert len(mart) > 10
        pd.testing.assert_frame_equal(mart, Q.cohort_activity_from_lines(wh, flt))
    # a range ending mid-month, or a category filter: only the order lines can answer
    assert Q.cohort_activity(wh, Filters(first, month_end - dt.timedelta(days=3))).equals(
        Q.cohort_activity_from_lines(wh, Filters(first, month_end - dt.timedelta(days=3)))
    )


def test_cohort_retention_without_category_filter_is_the_mart(trained_world, open_app):
    app = open_app(trained_world, "customers", whole_history=True)
    heatmap = charts(app)[0]["data"][0]
    sizes = dict(
        rows(
            trained_world,
            "SELECT cohort_month, sum(active_customers) FROM marts.cohort_retention "
            "WHERE months_since_first_order = 0 GROUP BY 1",
        )
    )
    actives = rows(
        trained_world,
        "SELECT cohort_month, months_since_first_order, sum(active_customers) FROM marts.cohort_retention GROUP BY 1, 2",
    )
    expected = {(f"{c:%b %Y}", str(m)): float(a / sizes[c]) for c, m, a in actives}
    assert heatmap_cells(heatmap) == pytest.approx(expected)
    segments = next(c for c in charts(app) if c["data"][0].get("orientation") == "h")["data"][0]
    assert sum(array(segments["x"])) == one(
        trained_world,
        "SELECT count(DISTINCT customer_id) FROM warehouse.fact_order_items WHERE status <> 'cancelled'",
    )


# -------------------------------------------------------------------------------------- segments
@pytest.fixture(scope="module")
def unsegmented_world(trained_world):
    """A copy of the trained world's warehouse with its stored segments deleted (as before the first
    `ecomm train segments`): the page's empty state. The shared world keeps its segments for every
    other test."""
    # a copy needs no session on its source: close this process's idle dashboard connections to it
    _engine(db.database_url(trained_world, start=False).render_as_string(hide_password=False)).dispose()
    copy = clone_database(trained_world, trained_world.warehouse_db)
    try:
        with db.connection(copy) as conn, conn.cursor() as cur:
            cur.execute("TRUNCATE marts.customer_segments, marts.segment_profiles")
            conn.commit()
        yield copy
    finally:
        drop_database(copy)


def segment_months(settings) -> list[dt.date]:
    return [
        r[0] for r in rows(settings, "SELECT DISTINCT as_of_date FROM marts.customer_segments ORDER BY 1")
    ]


def segment_labels(settings) -> dict[int, str]:
    return dict(
        rows(settings, "SELECT segment_id, segment_id || ' · ' || segment_name FROM marts.segment_profiles")
    )


def test_segments_page_without_segments_names_the_command(unsegmented_world, open_app):
    assert one(unsegmented_world, "SELECT count(*) FROM marts.customer_segments") == 0
    app = open_app(unsegmented_world, "segments")
    assert [i.value for i in app.info] == [
        "No segments yet: run `ecomm train segments` (it stores every customer's segment at each month "
        "start in `marts.customer_segments`)."
    ]
    assert not app.metric and not app.get("plotly_chart") and not app.warning


def test_segments_page_sizes_and_profiles_are_the_stored_segments(trained_world, open_app):
    app = open_app(trained_world, "segments")
    latest = segment_months(trained_world)[-1]
    labels = segment_labels(trained_world)
    counts = dict(
        rows(
            trained_world,
            "SELECT segment_id, count(*) FROM marts.customer_segments WHERE as_of_date = %s GROUP BY 1",
            (latest,),
        )
    )
    total = sum(counts.values())
    assert metrics(app)["Customers segmented"][0] == f"{total:,}"
    assert metrics(app)["Segments"][0] == str(len(counts))
    bars = next(c for c in charts(app) if c["data"][0].get("orientation") == "h")["data"][0]
    assert dict(zip(bars["y"], array(bars["x"]), strict=True)) == {labels[i]: n for i, n in counts.items()}
    assert sum(array(bars["x"])) == total
    assert bars["text"] == [f"{counts[i] / total:.1%}" for i in sorted(counts)]

    profile = app.dataframe[0].value
    stored = rows(
        trained_world,
        """SELECT p.segment_id, f ->> 'feature', (f ->> 'mean')::float8, (f ->> 'overall_mean')::float8
           FROM marts.segment_profiles p, jsonb_array_elements(p.profile) f ORDER BY 1""",
    )
    assert len(profile) == len(stored) > 0
    assert profile["segment"].tolist() == [labels[i] for i, *_ in stored]
    assert profile["segment mean"].tolist() == [m for *_, m, _ in stored]
    assert profile["everyone's mean"].tolist() == [o for *_, o in stored]


def test_segments_page_value_equals_the_order_lines(trained_world, open_app):
    app = open_app(trained_world, "segments")
    latest = segment_months(trained_world)[-1]
    last = span(trained_world)[1]
    members = pd.DataFrame(
        rows(
            trained_world,
            "SELECT customer_id, segment_id FROM marts.customer_segments WHERE as_of_date = %s",
            (latest,),
        ),
        columns=["customer_id", "segment_id"],
    )
    lines = pd.DataFrame(
        rows(
            trained_world,
            "SELECT customer_id, order_id, revenue::float8 FROM warehouse.fact_order_items "
            "WHERE status = 'completed' AND order_date BETWEEN %s AND %s",
            (last - dt.timedelta(days=89), last),
        ),
        columns=["customer_id", "order_id", "revenue"],
    ).merge(members, on="customer_id")
    by = lines.groupby("segment_id")
    expected = pd.DataFrame(
        {
            "customers": members.groupby("segment_id").size(),
            "orders": by["order_id"].nunique(),
            "revenue": by["revenue"].sum(),
        }
    ).fillna(0)
    table = app.dataframe[1].value
    assert table["customers"].tolist() == expected["customers"].tolist()
    assert table["customers"].sum() == len(members)
    assert table["orders"].tolist() == expected["orders"].astype(int).tolist()
    assert table["revenue ($)"].tolist() == pytest.approx(expected["revenue"].tolist())
    assert table["avg order value ($)"].tolist() == pytest.approx(
        (expected["revenue"] / expected["orders"]).tolist(),
        nan_ok=True,  # a segment without orders
    )
    assert table["revenue per customer ($)"].tolist() == pytest.approx(
        (expected["revenue"] / expected["customers"]).tolist()
    )
    bars = [c["data"][0] for c in charts(app) if c["data"][0].get("orientation") == "h"][1]
    assert array(bars["x"]) == pytest.approx((expected["revenue"] / expected["customers"]).tolist())


def transitions_sql(settings, before, after) -> dict[tuple[str, str], int]:
    labels = segment_labels(settings)
    moved = rows(
        settings,
        """SELECT b.segment_id, a.segment_id, count(*)
           FROM marts.customer_segments b JOIN marts.customer_segments a USING (customer_id)
           WHERE b.as_of_date = %s AND a.as_of_date = %s GROUP BY 1, 2""",
        (before, after),
    )
    return {(labels[b], labels[a]): n for b, a, n in moved}


def test_segments_page_movement_counts_the_customers_of_both_months(trained_world, open_app):
    app = open_app(trained_world, "segments")
    months = segment_months(trained_world)
    assert len(months) > 2  # so the month selector shows
    heatmap = next(c for c in charts(app) if c["data"][0]["type"] == "heatmap")["data"][0]
    expected = transitions_sql(trained_world, months[-2], months[-1])
    cells = {k: v for k, v in heatmap_cells(heatmap).items() if v}
    assert cells == expected
    assert sum(cells.values()) == one(
        trained_world,
        "SELECT count(*) FROM (SELECT customer_id FROM marts.customer_segments WHERE as_of_date = %s "
        "INTERSECT SELECT customer_id FROM marts.customer_segments WHERE as_of_date = %s) both_months",
        (months[-2], months[-1]),
    )
    assert metrics(app)["Segmented both months"][0] == f"{sum(cells.values()):,}"

    app.selectbox(key="segments_month").set_value(months[1]).run()
    assert not app.exception, [e.value for e in app.exception]
    heatmap = next(c for c in charts(app) if c["data"][0]["type"] == "heatmap")["data"][0]
    assert {k: v for k, v in heatmap_cells(heatmap).items() if v} == transitions_sql(
        trained_world, months[0], months[1]
    )


def test_segments_page_narrows_to_the_chosen_countries(trained_world, open_app):
    app = open_app(trained_world, "segments")
    country = one(
        trained_world, "SELECT country FROM warehouse.dim_customer GROUP BY 1 ORDER BY count(*) DESC"
    )
    apply_filters(app, countries=[country])
    latest = segment_months(trained_world)[-1]
    expected = one(
        trained_world,
        "SELECT count(*) FROM marts.customer_segments s JOIN warehouse.dim_customer c USING (customer_id) "
        "WHERE s.as_of_date = %s AND c.country = %s",
        (latest, country),
    )
    assert (
        0 < expected < one(trained_world, "SELECT count(DISTINCT customer_id) FROM marts.customer_segments")
    )
    assert metrics(app)["Customers segmented"][0] == f"{expected:,}"
    assert app.dataframe[1].value["customers"].sum() == expected


def test_customer_value_shows_the_stored_values_by_customer_and_segment(trained_world, open_app):
    app = open_app(trained_world, "customers")
    as_of, version = rows(
        trained_world, "SELECT DISTINCT as_of_date, model_version FROM marts.customer_value"
    )[0]
    top = app.dataframe[0].value
    expected_top = rows(
        trained_world,
        """SELECT v.customer_id, v.expected_value FROM marts.customer_value v
           ORDER BY v.expected_value DESC, v.customer_id LIMIT 20""",
    )
    assert top["customer_id"].tolist() == [c for c, _ in expected_top]
    assert top["expected_value"].tolist() == pytest.approx([v for _, v in expected_top])
    by_segment = charts(app)[-1]["data"][0]
    expected_segments = rows(
        trained_world,
        """SELECT coalesce(p.segment_name, 'no segment stored'), sum(v.expected_value)
           FROM marts.customer_value v
           LEFT JOIN marts.customer_segments s ON s.customer_id = v.customer_id AND s.as_of_date = v.as_of_date
           LEFT JOIN marts.segment_profiles p ON p.model_version = s.model_version AND p.segment_id = s.segment_id
           GROUP BY 1 ORDER BY 2 DESC, 1""",
    )
    assert by_segment["y"] == [name for name, _ in expected_segments]
    assert "no segment stored" not in by_segment["y"]  # both models scored the same month start
    assert array(by_segment["x"]) == pytest.approx([total for _, total in expected_segments])
    assert app.caption[-1].value.startswith(
        f"clv_model v{version} (BG/NBD + Gamma-Gamma): expected revenue in the 365 days from {as_of:%d %b %Y}"
    )
    country = top["country"].iloc[0]
    apply_filters(app, countries=[country])
    assert set(app.dataframe[0].value["country"]) == {country}


def test_customer_value_without_stored_values_names_the_command(trained_world, open_app):
    import streamlit as st

    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE marts.customer_value_kept AS SELECT * FROM marts.customer_value")
        cur.execute("TRUNCATE marts.customer_value")
        conn.commit()
        st.cache_data.clear()  # the page's queries are cached per load, and nothing was loaded
        try:
            app = open_app(trained_world, "customers")
        finally:
            cur.execute("INSERT INTO marts.customer_value SELECT * FROM marts.customer_value_kept")
            cur.execute("DROP TABLE marts.customer_value_kept")
            conn.commit()
            st.cache_data.clear()
    assert [i.value for i in app.info] == [
        "No customer values are stored yet: `ecomm train clv` fits the lifetime-value model and stores "
        "every buyer's expected value in marts.customer_value."
    ]
    assert not app.dataframe and not app.error


# ------------------------------------------------------------------------------------ churn risk
def test_churn_page_scores_the_customers_in_scope_with_honest_reasons(trained_world, open_app):
    app = open_app(trained_world, "churn_risk")
    first, last = span(trained_world)
    start = last - dt.timedelta(days=89)
    # scored: every customer with a completed order before today; in scope: an order not cancelled in
    # the range
    scored_in_scope = one(
        trained_world,
        """SELECT count(DISTINCT customer_id) FROM warehouse.fact_order_items
           WHERE status <> 'cancelled' AND order_date BETWEEN %s AND %s
             AND customer_id IN (SELECT customer_id FROM warehouse.fact_order_items
                                 WHERE warehouse.is_completed_line(status, return_date))""",
        (start, last),
    )
    values = metrics(app)
    assert values["Customers scored"][0] == f"{scored_in_scope:,}"
    table = app.dataframe[0].value
    assert len(table) == 50
    assert table["churn probability"].is_monotonic_decreasing
    assert table["what raises the risk most"].str.len().gt(0).all()
    # the reasons show whole: a wide column, rows tall enough that Streamlit wraps text (above 4rem)
    frame = app.dataframe[0].proto
    assert frame.row_height > 64
    columns = json.loads(frame.columns)
    assert columns.pop("_index") == {"hidden": True}
    widths = {name: config["width"] for name, config in columns.items()}
    assert widths["what raises the risk most"] == 300
    assert len(widths) == 9 and sum(widths.values()) <= 940  # the main column beside the sidebar
    assert [b.label for b in app.get("download_button")] == ["Download CSV"]

    # the reasons explain exactly the score shown: contributions + bias = the log-odds
    model = champion(trained_world, registry.CHURN_MODEL)
    full = load_model(model).unwrap_python_model()
    with db.connection(trained_world) as conn:
        from ecomm.features.churn import churn_features

        features = churn_features(conn, last + dt.timedelta(days=1))
    top = features[features[C.CUSTOMER_ID].isin(table["customer"])].set_index(C.CUSTOMER_ID)
    top = top.loc[table["customer"]].reset_index()
    logits = contributions(model, top).sum(axis=1)
    direct = full.full_pipeline.predict_proba(top[full.full_columns])[:, 1]
    assert (1 / (1 + (-logits).map(math.exp))).to_numpy() == pytest.approx(direct, abs=1e-5)
    assert table["churn probability"].to_numpy() == pytest.approx(direct, abs=1e-6)


def test_churn_page_scores_first_when_the_stored_scores_are_stale(trained_world, open_app):
    model = champion(trained_world, registry.CHURN_MODEL)
    with db.connection(trained_world) as conn, conn.cursor() as cur:  # another version's scores
        cur.execute("UPDATE marts.churn_scores SET model_version = 'elsewhere'")
        conn.commit()
    current_scores.clear()  # a dashboard process that has not looked yet (a load or promotion would
    # give new cache keys; this out-of-band change does not)

    app = open_app(trained_world, "churn_risk")

    versions = rows(trained_world, "SELECT DISTINCT model_version, model_source FROM marts.churn_scores")
    assert versions == [(model.version, model.download_uri)]
    caption = next(c.value for c in app.caption if c.value.startswith("Champion `churn_model`"))
    assert caption.startswith(f"Champion `churn_model` v{model.version} ") and "scores stored " in caption
    assert len(app.dataframe[0].value) == 50


def test_churn_page_shows_the_stored_purchase_propensity_beside_churn(trained_world, open_app):
    score_purchase(trained_world)  # `ecomm predict purchase`: nothing to do when stored already
    app = open_app(trained_world, "churn_risk")
    _, last = span(trained_world)
    both = dict(
        rows(
            trained_world,
            """SELECT c.customer_id, p.purchase_probability
               FROM marts.churn_scores c JOIN marts.purchase_scores p USING (customer_id)
               WHERE p.cutoff_date = c.cutoff_date AND EXISTS (
                   SELECT 1 FROM warehouse.fact_order_items f WHERE f.customer_id = c.customer_id
                     AND f.status <> 'cancelled' AND f.order_date BETWEEN %s AND %s)""",
            (last - dt.timedelta(days=89), last),
        )
    )
    table = app.dataframe[0].value
    expected = [both[c] for c in table["customer"]]  # every listed buyer has a purchase score
    assert table["purchase probability (30 days)"].tolist() == pytest.approx(expected, abs=1e-12)
    scatter = charts(app)[1]["data"][0]
    ids = array(scatter["customdata"])
    assert sorted(ids) == sorted(both)
    assert array(scatter["y"]) == pytest.approx([both[c] for c in ids], abs=1e-12)
    caption = next(c.value for c in app.caption if c.value.startswith("`purchase_model` v1, scores stored"))
    assert f"{len(both):,} customers in the filters scored by both models." in caption


@pytest.mark.parametrize(
    "change",
    ["TRUNCATE marts.purchase_scores", "UPDATE marts.purchase_scores SET cutoff_date = cutoff_date - 1"],
    ids=["none stored", "another day's"],
)
def test_churn_page_without_purchase_scores_of_the_day_says_how_to_store_them(
    trained_world, open_app, change
):
    score_purchase(trained_world)
    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(change)
        conn.commit()
    app = open_app(trained_world, "churn_risk")
    _, last = span(trained_world)
    assert [i.value for i in app.info] == [
        f"No purchase scores of {last + dt.timedelta(days=1):%d %b %Y} are stored: train the purchase model "
        "with `ecomm train purchase`, then store its scores with `ecomm predict purchase`."
    ]
    assert len(charts(app)) == 1  # the churn histogram, no scatter
    table = app.dataframe[0].value
    assert len(table) == 50 and table["purchase probability (30 days)"].isna().all()
    score_purchase(trained_world, force=True)  # the other tests' shared world as it was


def test_churn_page_filters_narrow_the_customers(trained_world, open_app):
    app = open_app(trained_world, "churn_risk")
    first, last = span(trained_world)
    apply_filters(app, countries=["France"])
    assert not app.exception
    assert set(app.dataframe[0].value["country"]) == {"France"}
    in_scope = one(
        trained_world,
        """SELECT count(DISTINCT f.customer_id) FROM warehouse.fact_order_items f
           JOIN warehouse.dim_customer c USING (customer_id)
           WHERE c.country = 'France' AND f.status <> 'cancelled' AND f.order_date BETWEEN %s AND %s""",
        (last - dt.timedelta(days=89), last),
    )
    assert metrics(app)["Customers scored"][0] == f"{in_scope:,}"


def test_without_a_champion_the_model_pages_name_the_training_command(loaded_world, open_app):
    empty_registry = loaded_world.model_copy(update={"mlflow_db": f"mlflow_empty_{uuid.uuid4().hex[:8]}"})
    try:
        churn = open_app(empty_registry, "churn_risk")
        assert "`ecomm train churn`" in churn.info[0].value
        assert not churn.dataframe
        recommendations = open_app(empty_registry, "recommendations")
        assert "`ecomm train recommender`" in recommendations.info[0].value
        models = open_app(empty_registry, "models")
        assert [i.value for i in models.info] == [
            f"No version registered yet: train one with `ecomm train {command}`."
            for command in ("churn", "recommender", "segments", "purchase", "clv", "forecast")
        ]
    finally:
        db.drop_database(loaded_world, empty_registry.mlflow_db)


# ------------------------------------------------------------------------------- recommendations
def test_recommendations_are_the_champions_for_the_picked_customer(trained_world, open_app):
    app = open_app(trained_world, "recommendations")
    first, last = span(trained_world)
    top_customer = one(
        trained_world,
        """SELECT customer_id FROM warehouse.fact_order_items WHERE order_date BETWEEN %s AND %s
           GROUP BY 1 ORDER BY coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0) DESC, 1 LIMIT 1""",
        (last - dt.timedelta(days=89), last),
    )
    assert app.selectbox(key="rec_customer").value == top_customer
    history = app.dataframe[0].value
    assert len(history) == one(
        trained_world,
        "SELECT count(*) FROM warehouse.fact_order_items WHERE customer_id = %s",
        (top_customer,),
    )
    model = load_model(champion(trained_world, registry.RECOMMENDER_MODEL))
    country = one(
        trained_world, "SELECT country FROM warehouse.dim_customer WHERE customer_id = %s", (top_customer,)
    )
    served = model.predict(pd.DataFrame({"customer_id": [top_customer], "k": [10], "country": [country]}))
    recommended = app.dataframe[1].value
    assert recommended["product_id"].tolist() == served["product_id"].tolist()
    assert recommended["source"].iloc[0] == "personal (re-ranked)"
    assert set(recommended["source"]) <= {
        "personal (re-ranked)",
        "personal (re-ranked), new product (no interactions yet)",
    }


def test_a_customer_unknown_to_the_model_gets_the_labelled_cold_start(trained_world, open_app):
    app = open_app(trained_world, "recommendations", whole_history=True)
    app.radio(key="rec_newest").set_value(True).run()
    newest = one(
        trained_world,
        "SELECT customer_id FROM warehouse.dim_customer ORDER BY signup_date DESC, customer_id DESC LIMIT 1",
    )
    assert app.selectbox(key="rec_customer").value == newest
    assert app.info[-1].value.startswith(
        f"Cold start: customer #{newest} is unknown to `recommender_model` v1"
    )
    assert set(app.dataframe[-1].value["source"]) == {"cold start: popular in their country"}


# ------------------------------------------------------------------------------------ campaigns
def test_campaigns_page_counts_exposures_and_asks_for_the_causal_report(trained_world, open_app):
    app = open_app(trained_world, "campaigns", whole_history=True)
    assert len(app.dataframe[0].value) == one(trained_world, "SELECT count(*) FROM warehouse.dim_campaign")
    exposure = charts(app)[0]["data"]
    expected = rows(
        trained_world,
        """SELECT k.campaign_name, count(*) FILTER (WHERE e.treated), count(*) FILTER (WHERE NOT e.treated)
           FROM warehouse.fact_campaign_exposure e JOIN warehouse.dim_campaign k USING (campaign_id)
           GROUP BY k.campaign_id, 1 ORDER BY k.campaign_id""",
    )
    counts = zip(exposure[0]["x"], array(exposure[0]["y"]), array(exposure[1]["y"]), strict=True)
    assert [(n, int(t), int(c)) for n, t, c in counts] == [tuple(r) for r in expected]
    assert app.info[-1].value == (
        "No causal estimate has been computed yet. Run `ecomm causal report` to estimate each campaign's effect."
    )


def test_campaigns_live_in_the_range_show_their_exposures(loaded_world, open_app):
    """A campaign assigns its customers on its first day: a range that starts after that day, while
    the campaign is still running, shows its exposures."""
    first, last = span(loaded_world)
    # the day after every campaign but the ones running to the last day has ended
    start = one(
        loaded_world, "SELECT max(end_date) + 1 FROM warehouse.dim_campaign WHERE end_date < %s", (last,)
    )
    assert (
        one(
            loaded_world,
            "SELECT count(*) FROM warehouse.fact_campaign_exposure WHERE exposure_date BETWEEN %s AND %s",
            (start, last),
        )
        == 0
    )  # no exposure is dated in the range, yet a campaign runs through it
    app = open_app(loaded_world, "campaigns")
    apply_filters(app, dates=(start, last), countries=["Germany", "France"])
    assert not app.exception
    exposure = charts(app)[0]["data"]
    expected = rows(
        loaded_world,
        """SELECT k.campaign_name, count(*) FILTER (WHERE e.treated), count(*) FILTER (WHERE NOT e.treated)
           FROM warehouse.fact_campaign_exposure e JOIN warehouse.dim_campaign k USING (campaign_id)
           JOIN warehouse.dim_customer c USING (customer_id)
           WHERE NOT (k.end_date < %s OR k.start_date > %s) AND c.country IN ('Germany', 'France')
           GROUP BY k.campaign_id, 1 ORDER BY k.campaign_id""",
        (start, last),
    )
    assert len(expected) == 1
    counts = zip(exposure[0]["x"], array(exposure[0]["y"]), array(exposure[1]["y"]), strict=True)
    assert [(n, int(t), int(c)) for n, t, c in counts] == [tuple(r) for r in expected]


def test_a_range_before_every_campaign_says_none_is_live(loaded_world, open_app):
    first, _ = span(loaded_world)
    before = one(loaded_world, "SELECT min(start_date) FROM warehouse.dim_campaign") - dt.timedelta(days=1)
    app = open_app(loaded_world, "campaigns")
    apply_filters(app, dates=(first, before))
    assert app.info[0].value == (
        "No campaign with exposed customers in the chosen countries is live during the range (the "
        "campaigns' dates are in the table above)."
    )


# ---------------------------------------------------------------------------------- demand & stock
def stored_points(settings, level: str, series_id: str) -> list[float]:
    found = rows(
        settings,
        """SELECT point FROM marts.demand_forecast WHERE series_level = %(l)s AND series_id = %(s)s
           AND forecast_date = (SELECT max(forecast_date) FROM marts.demand_forecast) ORDER BY target_date""",
        {"l": level, "s": series_id},
    )
    return [p for (p,) in found]


def test_demand_page_shows_actuals_and_the_stored_forecasts_with_their_bands(trained_world, open_app):
    app = open_app(trained_world, "demand")
    (forecast_date,) = rows(trained_world, "SELECT max(forecast_date) FROM marts.demand_forecast")[0]
    total, product = charts(app)
    names = [trace["name"] for trace in total["data"]]
    assert names == ["95% interval", "80% interval", "actual units", "forecast"]
    assert array(total["data"][3]["y"]) == pytest.approx(stored_points(trained_world, "total", "total"))
    # the actual units of the 56 days up to the forecast date, as the forecasts count them
    actual = rows(
        trained_world,
        """SELECT sum(quantity) FROM warehouse.fact_order_items WHERE status <> 'cancelled'
           AND order_date BETWEEN %(d)s::date - 55 AND %(d)s""",
        {"d": forecast_date},
    )[0][0]
    assert sum(array(total["data"][2]["y"])) == actual and len(array(total["data"][2]["y"])) == 56
    # the product chart: the best seller over the forecast first
    best = rows(
        trained_world,
        """SELECT series_id FROM marts.demand_forecast WHERE series_level = 'product'
           AND forecast_date = %(d)s GROUP BY 1 ORDER BY sum(point) DESC, series_id::bigint LIMIT 1""",
        {"d": forecast_date},
    )[0][0]
    assert app.selectbox(key="demand_product").value == int(best)
    assert array(product["data"][3]["y"]) == pytest.approx(stored_points(trained_world, "product", best))
    category = app.selectbox(key="demand_category").options[1]
    app.selectbox(key="demand_category").set_value(category).run()
    points = array(charts(app)[0]["data"][3]["y"])
    assert points == pytest.approx(stored_points(trained_world, "category", category))
    assert not app.exception and not app.error and not app.warning


def test_demand_page_shows_the_backtest_beside_seasonal_naive_and_the_oracle_and_stock_running_out(
    trained_world, open_app
):
    app = open_app(trained_world, "demand")
    backtests, stock = app.dataframe[:3], app.dataframe[3]
    # the trained world's forecast model: seasonal naive alone, on the three levels
    for table in backtests:
        got = table.value
        assert got["model"].astype(str).tolist() == ["seasonal_naive", "oracle"] * 4
        assert got["horizon"].tolist() == [1, 1, 7, 7, 14, 14, 30, 30]
        assert (got.loc[got["model"] == "seasonal_naive", "mase_vs_naive"] == 1.0).all()
    cover = stock.value
    stored = pd.DataFrame(
        rows(
            trained_world,
            """SELECT s.product_id, s.reorder_point, f.point FROM marts.product_stock s
               JOIN marts.demand_forecast f ON f.series_level = 'product' AND f.series_id = s.product_id::text
               AND f.forecast_date = s.forecast_date ORDER BY 1, f.target_date""",
        ),
        columns=["product_id", "reorder_point", "point"],
    )
    runs_out = {}
    for product_id, part in stored.groupby("product_id"):
        reached = np.flatnonzero(part["point"].cumsum().to_numpy() >= part["reorder_point"].iloc[0])
        runs_out[product_id] = reached[0] + 1 if len(reached) else math.inf
    soonest = sorted(runs_out.values())[: len(cover)]
    assert cover["days_of_cover"].fillna(math.inf).tolist() == soonest
    assert len(cover) == min(15, len(runs_out))


def test_demand_page_without_forecasts_names_the_command(trained_world, open_app):
    with emptied(trained_world, "marts.demand_forecast"):
        app = open_app(trained_world, "demand")
    assert [i.value for i in app.info] == [
        "No demand forecast is stored yet: `ecomm train forecast` backtests the models, registers "
        "`demand_forecast_model` and stores every product's, category's and the total's forecasts in "
        "marts.demand_forecast (the demand_forecast DAG refreshes them after each load)."
    ]
    assert not app.dataframe and not app.error and not app.exception


# -------------------------------------------------------------------------------- monitoring
def test_monitoring_page_shows_each_models_drift_over_time(trained_world, open_app):
    import streamlit as st
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id  # the button's file id

    from ecomm.monitoring.models import monitor_served_models
    from ecomm.monitoring.quality import measure_served_models
    from ecomm.monitoring.report import latest_reports

    from support.trained_world import WORLD_AS_OF

    for day in (WORLD_AS_OF - dt.timedelta(days=7), WORLD_AS_OF):
        monitor_served_models(trained_world, day)
        measure_served_models(trained_world, day)
    st.cache_data.clear()
    app = open_app(trained_world, "monitoring")
    latest_runs, features = app.dataframe[0].value, app.dataframe[1].value
    expected = rows(
        trained_world,
        """SELECT model_name, model_version, business_date, count(*), count(*) FILTER (WHERE drifted)
           FROM marts.model_monitoring m WHERE model_name <> 'inputs' AND business_date = (SELECT
           max(business_date) FROM marts.model_monitoring n WHERE n.model_name = m.model_name)
           GROUP BY 1, 2, 3 ORDER BY 1""",
    )
    got = latest_runs[["model_name", "model_version", "business_date", "features", "drifted"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == expected
    assert app.selectbox(key="monitoring_model").value == registry.CHURN_MODEL
    # each monitored model's latest HTML report, offered as a download of the file's own bytes
    reports = latest_reports(trained_world.drift_reports_dir)
    assert [r.model for r in reports] == sorted(r[0] for r in expected)
    assert [(b.key, b.label, b.proto.url) for b in app.get("download_button")] == [
        (
            f"drift_report_{r.model}",
            f"{r.model} v1, {WORLD_AS_OF:%d %b %Y}",
            f"/mock/media/{_calculate_file_id(r.path.read_bytes(), 'text/html', r.path.name)}.html",
        )
        for r in reports
    ]
    stored = rows(
        trained_world,
        """SELECT feature, business_date, psi FROM marts.model_monitoring
           WHERE model_name = 'churn_model' AND model_version = 1 ORDER BY feature, business_date""",
    )
    chart, inputs_chart, quality_chart = charts(app)  # model drift, recent inputs, realised quality
    traced = [(t["name"], d, y) for t in chart["data"] for d, y in zip(t["x"], array(t["y"]), strict=True)]
    assert [(name, str(day), psi) for name, day, psi in stored] == [(n, d[:10], y) for n, d, y in traced]
    # the recent-inputs view ran beside the models on both dates (its own rows, model version 0)
    assert sorted({t["name"] for t in inputs_chart["data"]}) == [
        r[0]
        for r in rows(
            trained_world,
            "SELECT DISTINCT feature FROM marts.model_monitoring WHERE model_name = 'inputs' ORDER BY 1",
        )
    ]
    last = rows(
        trained_world,
        """SELECT feature, psi, drifted FROM marts.model_monitoring WHERE model_name = 'churn_model'
           AND model_version = 1 AND business_date = %(d)s ORDER BY psi DESC""",
        {"d": WORLD_AS_OF},
    )
    assert [tuple(r) for r in features[["feature", "psi", "drifted"]].itertuples(index=False)] == last

    # realised quality: each champion's ROC-AUC by the date its labels matured, the truth's as stars
    quality = rows(
        trained_world,
        """SELECT model_name, model_version, business_date, value, truth_value, cutoff_date
           FROM marts.model_quality ORDER BY model_name, model_version, business_date""",
    )
    expected_traces = []
    for model in sorted({r[0] for r in quality}):
        mine = [r for r in quality if r[0] == model]
        expected_traces.append((f"{model} v1", [(str(r[2]), r[3]) for r in mine]))
        if any(r[4] is not None for r in mine):
            expected_traces.append(
                (f"{model} v1: planted truth", [(str(r[2]), r[4]) for r in mine if r[4] is not None])
            )
    assert [
        (t["name"], [(d[:10], y) for d, y in zip(t["x"], array(t["y"]), strict=True)])
        for t in quality_chart["data"]
    ] == expected_traces
    latest_quality = app.dataframe[3].value
    assert [
        tuple(r) for r in latest_quality[["model_name", "business_date", "value"]].itertuples(index=False)
    ] == [(r[0], r[2], r[3]) for r in quality if r[2] == WORLD_AS_OF]
    assert not app.exception and not app.error and not app.warning


def test_monitoring_page_without_rows_names_the_task(trained_world, open_app):
    with emptied(trained_world, "marts.model_monitoring"):
        app = open_app(trained_world, "monitoring")
    assert [i.value for i in app.info] == [
        "No model has been monitored yet: the model_monitoring DAG's `model_drift` task compares each "
        "served model (churn_model, purchase_model, clv_model, segment_model, recommender_model, "
        "demand_forecast_model) with its training reference every day and writes marts.model_monitoring."
    ]
    assert not app.dataframe and not app.error and not app.exception


# ------------------------------------------------------------------------------------ models
def test_models_page_shows_champion_and_challenger_with_their_metrics(trained_world, open_app):
    app = open_app(trained_world, "models")
    values = [(m.label, m.value) for m in app.metric]
    # every registered model: churn, recommender, segments, purchase, lifetime value, demand forecast
    assert values == [("champion", "v1"), ("challenger", "v1"), ("versions", "1")] * 6
    assert [s.value for s in app.subheader] == [f"`{name}`" for name in registry.MODEL_NAMES]
    churn_table = app.dataframe[0].value
    assert churn_table["version"].tolist() == [1]
    assert churn_table["aliases"].tolist() == ["champion, challenger"]


# ------------------------------------------------------------------------------- empty warehouse
@pytest.mark.parametrize("page", PAGES)
def test_an_empty_warehouse_gets_the_command_that_fills_it(warehouse, open_app, page):
    app = open_app(warehouse, page)
    assert [i.value for i in app.info] == [
        "The warehouse is empty: no business date has been loaded yet. Fill it with `make up` (simulates "
        "and loads a year of history) or `ecomm pipeline run --date YYYY-MM-DD`."
    ]
    assert not app.metric and not app.get("plotly_chart")
