"""The dashboard as users see it: the platform's `streamlit run` command served on a free port against
the session's trained world, opened in headless Debian chromium (Playwright; no browser download).
Every page renders with no Streamlit exception or error, a screenshot of each lands in
tests/artifacts/dashboard/, the map's outlines come from our server, the Segments page draws its
charts of the world's stored segments and the churn CSV downloads.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ecomm.dashboard.pages import PAGES
from ecomm.platform.supervisor import free_port

from support import browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"


@pytest.fixture(scope="module")
def dashboard(trained_world, tmp_path_factory):
    settings = trained_world.model_copy(update={"streamlit_port": free_port()})
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    with browser.serving(settings, log) as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with browser.open_browser() as opened:
        yield opened


def url_of(base: str, name: str) -> str:
    return base + ("/" if name == PAGES[0][0] else f"/{name}")  # the default page lives at the root


@pytest.mark.parametrize("name,title", [(name, title) for name, title, _ in PAGES])
def test_every_page_renders_without_an_error(dashboard, page, name, title):
    requested: list[str] = []

    def record(request) -> None:
        requested.append(request.url)

    page.on("request", record)
    try:
        browser.render(page, url_of(dashboard, name), title)
    finally:
        page.remove_listener("request", record)
    assert browser.errors(page) == []
    assert page.locator('[data-testid="stMain"] h1').first.inner_text() == title
    assert page.get_by_text("Data last loaded").count() == 1
    browser.screenshot(page, ARTIFACTS / f"{name}.png")
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
    # nothing is fetched from elsewhere (scripts, fonts and the map's outlines come from our server)
    assert [u for u in requested if not u.startswith((dashboard, "data:", "blob:"))] == []


def test_a_typed_date_and_one_click_on_apply_change_the_filters(dashboard, page, trained_world):
    """A date typed into the sidebar applies with the one click on Apply: no blur-triggered rerun
    swallows the click."""
    from ecomm import db

    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(order_date) FROM warehouse.fact_order_items")
        last = cur.fetchone()[0]
    start = last.replace(day=1)
    browser.render(page, url_of(dashboard, "overview"), "Overview")
    sidebar = page.get_by_test_id("stSidebar")
    for part, value in (("year", f"{start:%Y}"), ("month", f"{start:%m}"), ("day", f"{start:%d}")):
        sidebar.get_by_role("spinbutton", name=f"{part}, Dates start date").click()
        page.keyboard.type(value)
    page.keyboard.press("Escape")  # close the calendar the typing opened over the sidebar
    sidebar.get_by_role("button", name="Apply").click()  # the one click: it also blurs the date
    page.get_by_text(f"Filters: {start:%d %b %Y} – {last:%d %b %Y} · all countries").wait_for(timeout=60_000)
    page.wait_for_function(browser.RENDERED_JS, arg="Overview", timeout=60_000, polling=50)
    assert browser.errors(page) == []
    assert page.get_by_text("not yet matured", exact=True).count() == 1  # a month of recent orders
    browser.screenshot(page, ARTIFACTS / "overview_recent_month.png")


def test_the_sales_map_draws_every_country_with_sales(dashboard, page, trained_world):
    from ecomm import db

    browser.render(page, url_of(dashboard, "sales"), "Sales")
    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT count(DISTINCT country) FROM marts.daily_sales
               WHERE order_date > (SELECT max(order_date) - 90 FROM marts.daily_sales)"""
        )
        countries = cur.fetchone()[0]
    assert page.locator(".choroplethlocation").count() == countries


def test_the_segments_page_draws_sizes_value_and_movement(dashboard, page, trained_world):
    """The Segments page on the shared world's stored segments: its four sections, the customers
    segmented at the latest month start, and its three charts drawn (sizes and revenue per customer
    as one bar per segment, the movement heatmap)."""
    from ecomm import db

    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT as_of_date, count(*), count(DISTINCT segment_id) FROM marts.customer_segments
               WHERE as_of_date = (SELECT max(as_of_date) FROM marts.customer_segments) GROUP BY 1"""
        )
        latest, customers, segments = cur.fetchone()
    browser.render(page, url_of(dashboard, "segments"), "Segments")
    assert browser.errors(page) == []
    main = page.get_by_test_id("stMain")
    sections = main.locator("h3").all_inner_texts()
    assert [s.split(" (")[0] for s in sections] == [
        f"Sizes on {latest:%d %b %Y}",
        "Profiles",
        "Value by segment",
        "Movement between segments",
    ]
    assert main.get_by_test_id("stMetricValue").first.inner_text() == f"{customers:,}"
    charts = main.get_by_test_id("stPlotlyChart")
    assert charts.count() == 3
    assert [charts.nth(i).locator(".barlayer .point").count() for i in range(3)] == [segments, segments, 0]
    assert charts.nth(2).locator(".heatmaplayer image").count() == 1
    assert main.get_by_test_id("stDataFrame").count() == 2  # profiles, value


def test_the_churn_table_downloads_as_csv(dashboard, page, trained_world):
    from ecomm.ml.purchase.scoring import score_with_champion as score_purchase

    score_purchase(trained_world)  # the purchase column and the scatter show stored scores
    browser.render(page, url_of(dashboard, "churn_risk"), "Churn risk")
    # every column, the reasons too, fits the table's width: nothing is cut off or scrolled to
    scroller = page.get_by_test_id("stDataFrame").locator(".dvn-scroller").first
    assert scroller.evaluate("e => e.scrollWidth - e.clientWidth") <= 0
    browser.screenshot(page, ARTIFACTS / "churn_risk_with_purchase.png")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    saved = download.value
    assert saved.suggested_filename.startswith("churn_risk_") and saved.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(saved.path()).read_text())))
    assert len(rows) == 50
    assert list(rows[0]) == [
        "customer",
        "name",
        "country",
        "churn probability",
        "purchase probability (30 days)",
        "days since last order",
        "orders",
        "spent ($)",
        "what raises the risk most",
    ]
    assert all(0 <= float(r["purchase probability (30 days)"]) <= 1 for r in rows)  # every buyer is active
    probabilities = [float(r["churn probability"]) for r in rows]
    assert probabilities == sorted(probabilities, reverse=True)
