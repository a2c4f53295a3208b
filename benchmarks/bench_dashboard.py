"""Dashboard pages in a real browser: the time for each page to finish rendering (script done, every
chart drawn) after a click in the sidebar, with cold caches (Streamlit's "Clear caches": query
results, the connection pool, the loaded models) and warm; and opened by URL (a full page load, warm).
The floor: a bare two-page Streamlit app served, clicked and opened the same way.

The warehouse is the load benchmark's (`bench_ours`, ~1M orders) when it holds data, reused as is;
another name builds its own world of --customers (generated and loaded once, then reused). Champions
are trained into `<warehouse>_mlflow` when missing (their training time is reported, not timed as a page),
and the churn champion's scores are stored as the ML DAG stores them after a load (timed, reported).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

# The browser driver is test tooling (tests/support/browser.py), imported as the tests import it:
# not as `tests.support`, because some wheels (mlforecast 1.1.0, adagio) install a top-level `tests`
# package into site-packages that shadows this repository's folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ecomm.dashboard.pages import PAGES
from ecomm.ml.churn.scoring import score_with_champion
from ecomm.platform.supervisor import free_port

from benchmarks.common import WORK
from benchmarks.worlds import ensure_serving_world
from support import browser  # noqa: E402

HELLO = """import streamlit as st


def hello():
    st.title("Hello")
    st.write("A bare Streamlit page: the floor.")


def again():
    st.title("Again")
    st.write("Another bare page.")


st.navigation([st.Page(hello, title="Hello", default=True), st.Page(again, title="Again")]).run()
"""
TARGETS = {"warm_s": 2.0, "cold_s": 5.0}  # issue 6: per page, with 1M orders


def run(
    warehouse_db: str, customers: int, products: int, days: int, *, repeats: int = 3, trials: int = 2
) -> dict:
    settings, setup = ensure_serving_world(warehouse_db, customers, products, days, trials=trials)
    # What the ML DAG does after each load: the churn champion scores today's customers into
    # marts.churn_scores, which the Churn risk page reads (timed: it is the cost a load adds).
    scoring = score_with_champion(settings, force=True)
    setup["churn_scoring"] = {"customers": scoring.customers, "seconds": round(scoring.seconds, 1)}

    hello = WORK / "dashboard-hello" / "hello.py"
    hello.parent.mkdir(parents=True, exist_ok=True)
    hello.write_text(HELLO)
    dash = settings.model_copy(update={"streamlit_port": free_port()})
    floor = settings.model_copy(update={"streamlit_port": free_port()})
    logs = WORK / "dashboard-logs"
    with (
        browser.serving(dash, logs / "dashboard.log", toolbar="developer") as url,
        browser.serving(floor, logs / "hello.log", script=hello) as hello_url,
        browser.open_browser() as page,
    ):
        urls = {name: url + ("/" if i == 0 else f"/{name}") for i, (name, _, _) in enumerate(PAGES)}
        titles = [title for _, title, _ in PAGES]
        # First visits import the libraries and load the models once per process: reported, not a page time.
        first = {PAGES[0][0]: browser.render(page, urls[PAGES[0][0]], titles[0])}
        first |= {name: browser.navigate(page, title) for name, title, _ in PAGES[1:]}
        pages = {}
        for i, (name, title, _) in enumerate(PAGES):
            elsewhere = titles[i - 1]  # the page before (for the first: the last)
            browser.navigate(page, elsewhere)
            browser.clear_caches(page)
            cold = browser.navigate(page, title)
            warm = []
            for _ in range(repeats):
                browser.navigate(page, elsewhere)
                warm.append(browser.navigate(page, title))
            opened = [browser.render(page, urls[name], title) for _ in range(repeats)]
            assert browser.errors(page) == [], (name, browser.errors(page))
            pages[name] = {
                "first_visit_s": round(first[name], 2),
                "cold_s": round(cold, 2),
                "warm_s": round(statistics.median(warm), 2),
                "warm_runs_s": [round(w, 2) for w in warm],
                "open_warm_s": round(statistics.median(opened), 2),
            }
        browser.render(page, hello_url, "Hello")
        floor_clicks, floor_opens = [], []
        for _ in range(repeats):
            browser.navigate(page, "Again")
            floor_clicks.append(browser.navigate(page, "Hello"))
            floor_opens.append(browser.render(page, hello_url, "Hello"))
    floor_click, floor_open = statistics.median(floor_clicks), statistics.median(floor_opens)
    for figures in pages.values():
        figures["warm_to_floor"] = round(figures["warm_s"] / floor_click, 1)
        figures["cold_to_floor"] = round(figures["cold_s"] / floor_click, 1)
        figures["open_warm_to_floor"] = round(figures["open_warm_s"] / floor_open, 1)
    return {
        "warehouse": setup,
        "floor_bare_page_click_s": round(floor_click, 2),
        "floor_bare_page_open_s": round(floor_open, 2),
        "pages": pages,
        "max_warm_s": max(p["warm_s"] for p in pages.values()),
        "max_cold_s": max(p["cold_s"] for p in pages.values()),
        "targets": {
            key: {"target": target, "met": all(p[key] <= target for p in pages.values())}
            for key, target in TARGETS.items()
        },
    }
