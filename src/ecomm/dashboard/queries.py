"""The dashboard's SQL: parameterised queries over the marts and the star schema, cached per load.

Revenue is *net* revenue (completed lines; returned and cancelled lines excluded), as in the marts.
Sums over dates, countries and categories come from `marts.daily_sales`; distinct counts (orders,
customers) cannot be added up across its rows, so they come from `warehouse.fact_order_items`.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomm.dashboard.filters import Filters, customer_name, known, scope_sql
from ecomm.dashboard.source import Warehouse, cached, connection, read
from ecomm.entities import RETURN_WINDOW_DAYS

GRAINS = ("day", "week", "month")

# Order lines of the filtered customers' countries and products' categories (dates: see callers).
LINES_FROM = """
FROM warehouse.fact_order_items f
JOIN warehouse.dim_customer c USING (customer_id)
JOIN warehouse.dim_product p USING (product_id)
"""
LINES_SCOPE = scope_sql("f.order_date", "c.country", "p.category")
SALES_SCOPE = scope_sql("s.order_date", "s.country", "s.category")


# ------------------------------------------------------------------------------------ filter choices
@cached
def choices(wh: Warehouse) -> dict[str, list[str]]:
    """Countries and categories the filters offer."""
    countries = read(
        wh.url, f"SELECT DISTINCT {known('country')} AS country FROM warehouse.dim_customer ORDER BY 1"
    )
    categories = read(
        wh.url, f"SELECT DISTINCT {known('category')} AS category FROM warehouse.dim_product ORDER BY 1"
    )
    return {"countries": countries["country"].tolist(), "categories": categories["category"].tolist()}


# ------------------------------------------------------------------------------------------- KPIs
KPI_SQL = f"""
SELECT f.order_date >= %(current_start)s AS is_current,
       coalesce(sum(f.revenue) FILTER (WHERE f.status = 'completed'), 0)   AS net_revenue,
       count(DISTINCT f.order_id) FILTER (WHERE f.status <> 'cancelled')   AS orders,
       count(DISTINCT f.order_id) FILTER (WHERE f.status = 'completed')    AS completed_orders,
       count(DISTINCT f.customer_id) FILTER (WHERE f.status <> 'cancelled') AS active_customers,
       count(*) FILTER (WHERE f.status = 'returned' AND f.order_date <= %(matured_end)s)
                                                                          AS matured_returned_lines,
       count(*) FILTER (WHERE f.status <> 'cancelled' AND f.order_date <= %(matured_end)s)
                                                                          AS matured_lines
{LINES_FROM}
WHERE {LINES_SCOPE}
GROUP BY 1
"""
KPI_NAMES = ("net_revenue", "orders", "avg_order_value", "active_customers", "returns_rate")


def _kpi_values(row: pd.Series | None) -> dict[str, float]:
    if row is None:
        return dict.fromkeys(KPI_NAMES, 0.0) | {"avg_order_value": None, "returns_rate": None}
    return {
        "net_revenue": float(row["net_revenue"]),
        "orders": int(row["orders"]),
        "avg_order_value": float(row["net_revenue"]) / row["completed_orders"]
        if row["completed_orders"]
        else None,
        "active_customers": int(row["active_customers"]),
        "returns_rate": row["matured_returned_lines"] / row["matured_lines"]
        if row["matured_lines"]
        else None,
    }


def matured_end(wh: Warehouse) -> dt.date:
    """The last order date whose returns have all arrived: RETURN_WINDOW_DAYS before the last load.
    Later orders' lines may still be returned (their returns rate is low, their net revenue high)."""
    return wh.last_day - dt.timedelta(days=RETURN_WINDOW_DAYS)


@cached
def kpis(wh: Warehouse, flt: Filters) -> dict[str, dict]:
    """{"current": ..., "previous": ...} KPI values; "previous" is None when the warehouse does not
    hold the whole previous period (a partial period would give a false delta). The returns rate
    counts matured orders only (`matured_end`): None when the period has none."""
    previous = flt.previous
    has_previous = wh.first_day is not None and previous.start >= wh.first_day
    span = Filters(previous.start if has_previous else flt.start, flt.end, flt.countries, flt.categories)
    frame = read(
        wh.url, KPI_SQL, span.params() | {"current_start": flt.start, "matured_end": matured_end(wh)}
    )
    rows = {bool(r["is_current"]): r for _, r in frame.iterrows()}
    return {
        "current": _kpi_values(rows.get(True)),
        "previous": _kpi_values(rows.get(False)) if has_previous else None,
    }


# ------------------------------------------------------------------------------------------ sales
@cached
def daily_revenue(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """order_date, net_revenue, gross_revenue, returned_revenue: one row per day with sales."""
    return read(
        wh.url,
        f"""SELECT s.order_date, sum(s.net_revenue) AS net_revenue, sum(s.gross_revenue) AS gross_revenue,
                   sum(s.returned_revenue) AS returned_revenue
            FROM marts.daily_sales s WHERE {SALES_SCOPE} GROUP BY 1 ORDER BY 1""",
        flt.params(),
    )


@cached
def revenue_over_time(wh: Warehouse, flt: Filters, grain: str) -> pd.DataFrame:
    """period (first day of the day/week/month), net_revenue, units."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    return read(
        wh.url,
        f"""SELECT date_trunc(%(grain)s, s.order_date)::date AS period, sum(s.net_revenue) AS net_revenue,
                   sum(s.units) AS units
            FROM marts.daily_sales s WHERE {SALES_SCOPE} GROUP BY 1 ORDER BY 1""",
        flt.params() | {"grain": grain},
    )


@cached
def revenue_by(wh: Warehouse, flt: Filters, dimension: str) -> pd.DataFrame:
    """<dimension> (country or category), net_revenue, units, returns_rate; largest first."""
    if dimension not in ("country", "category"):
        raise ValueError(f"dimension must be country or category, not {dimension!r}")
    return read(
        wh.url,
        f"""SELECT s.{dimension}, sum(s.net_revenue) AS net_revenue, sum(s.units) AS units,
                   sum(s.returned_lines)::float8 / nullif(sum(s.order_lines), 0) AS returns_rate
            FROM marts.daily_sales s WHERE {SALES_SCOPE} GROUP BY 1 ORDER BY 2 DESC, 1""",
        flt.params(),
    )


@cached
def top_products(wh: Warehouse, flt: Filters, limit: int = 10) -> pd.DataFrame:
    """The products with the most net revenue in the filters."""
    return read(
        wh.url,
        f"""SELECT f.product_id, p.product_name, p.category,
                   coalesce(sum(f.revenue) FILTER (WHERE f.status = 'completed'), 0) AS net_revenue,
                   coalesce(sum(f.quantity) FILTER (WHERE f.status <> 'cancelled'), 0) AS units,
                   count(DISTINCT f.order_id) FILTER (WHERE f.status <> 'cancelled') AS orders
            {LINES_FROM} WHERE {LINES_SCOPE}
            GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1 LIMIT %(limit)s""",
        flt.params() | {"limit": limit},
    )


@cached
def calendar_revenue(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """One row per day of the range (days without sales at 0): date, ISO week, weekday, holiday."""
    return read(
        wh.url,
        f"""SELECT d.date_day, d.iso_year, d.iso_week, d.iso_weekday, d.day_name, d.holiday_name,
                   coalesce(sum(s.net_revenue), 0) AS net_revenue
            FROM warehouse.dim_date d
            LEFT JOIN marts.daily_sales s ON s.order_date = d.date_day AND {SALES_SCOPE}
            WHERE d.date_day BETWEEN %(start)s AND %(end)s
            GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1""",
        flt.params(),
    )


# -------------------------------------------------------------------------------------- customers
EVER = dt.date(1900, 1, 1)  # the start of "all history up to the range's end"


@cached
def cohort_activity(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """cohort_month, months_since_first_order, active_customers: customers of the filtered countries
    by the month of their first order in the filtered categories, and the months they ordered again
    in them (cancelled lines excluded), up to the range's end.

    Without a category filter, and with whole months up to the range's end (it is the last loaded day
    or a month's last day), this is marts.cohort_retention summed over the countries: read from there
    (the live query scans every order line of the history: ~3 s at 1M orders)."""
    next_day = flt.end + dt.timedelta(days=1)
    if not flt.categories and (flt.end == wh.last_day or next_day.day == 1):
        return cohort_activity_from_mart(wh, flt)
    return cohort_activity_from_lines(wh, flt)


def cohort_activity_from_mart(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    return read(
        wh.url,
        """SELECT cohort_month, months_since_first_order, sum(active_customers)::bigint AS active_customers
           FROM marts.cohort_retention
           WHERE (cardinality(%(countries)s::text[]) = 0 OR country = ANY(%(countries)s::text[]))
             AND cohort_month + make_interval(months => months_since_first_order) <= %(end)s
           GROUP BY 1, 2 ORDER BY 1, 2""",
        flt.params(),
    )


def cohort_activity_from_lines(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    return read(
        wh.url,
        f"""WITH lines AS (
                SELECT f.customer_id, date_trunc('month', f.order_date)::date AS month
                {LINES_FROM} WHERE f.status <> 'cancelled' AND {LINES_SCOPE}
            ), firsts AS (
                SELECT customer_id, min(month) AS cohort_month FROM lines GROUP BY 1
            ), activity AS (
                SELECT DISTINCT customer_id, month FROM lines
            )
            SELECT fi.cohort_month,
                   ((extract(year FROM a.month) - extract(year FROM fi.cohort_month)) * 12
                     + extract(month FROM a.month) - extract(month FROM fi.cohort_month))::int
                     AS months_since_first_order,
                   count(*) AS active_customers
            FROM firsts fi JOIN activity a USING (customer_id)
            GROUP BY 1, 2 ORDER BY 1, 2""",
        flt.params() | {"start": EVER},
    )


SCOPED_CUSTOMERS = f"""
SELECT DISTINCT f.customer_id {LINES_FROM} WHERE f.status <> 'cancelled' AND {LINES_SCOPE}
"""


@cached
def segments(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """rfm_segment, customers, avg_net_revenue, avg_recency_days of the customers who ordered in the
    filters (segments from marts.customer_360, as of the last loaded date)."""
    return read(
        wh.url,
        f"""SELECT m.rfm_segment, count(*) AS customers, avg(m.net_revenue) AS avg_net_revenue,
                   avg(m.recency_days) AS avg_recency_days
            FROM marts.customer_360 m JOIN ({SCOPED_CUSTOMERS}) s USING (customer_id)
            GROUP BY 1 ORDER BY 2 DESC, 1""",
        flt.params(),
    )


CLV_BINS = 40


@cached
def clv_histogram(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """bin_low, bin_high, customers: the 12-month run-rate value of the customers who ordered in the
    filters, in CLV_BINS bins from 0 to the 99th percentile (the top 1% in the last bin)."""
    return read(
        wh.url,
        f"""WITH v AS (
                SELECT m.clv_12m_run_rate::float8 AS clv
                FROM marts.customer_360 m JOIN ({SCOPED_CUSTOMERS}) s USING (customer_id)
            ), top AS (
                SELECT greatest(percentile_cont(0.99) WITHIN GROUP (ORDER BY clv), 1) AS hi FROM v
            ), binned AS (
                SELECT least(width_bucket(v.clv, 0, top.hi, %(bins)s), %(bins)s) AS bin, top.hi FROM v, top
            )
            SELECT (bin - 1) * hi / %(bins)s AS bin_low, bin * hi / %(bins)s AS bin_high, count(*) AS customers
            FROM binned GROUP BY bin, hi ORDER BY bin""",
        flt.params() | {"bins": CLV_BINS},
    )


# ------------------------------------------------------------------------- lifetime value (model)
# marts.customer_value holds the clv_model champion's values at one month start; of the filters only
# the countries apply (the values are of that day, not of a date range or a category).
VALUE_FROM = f"""
FROM marts.customer_value v
JOIN warehouse.dim_customer c USING (customer_id)
LEFT JOIN marts.customer_segments cs ON cs.customer_id = v.customer_id AND cs.as_of_date = v.as_of_date
LEFT JOIN marts.segment_profiles sp ON sp.model_version = cs.model_version AND sp.segment_id = cs.segment_id
WHERE {scope_sql(None, "c.country", None)}
"""
TOP_VALUE_CUSTOMERS = 20
NO_SEGMENT = "no segment stored"


@cached
def value_summary(wh: Warehouse) -> pd.DataFrame:
    """as_of_date, horizon_days, model_version, customers of the stored values (no row: none stored)."""
    return read(
        wh.url,
        """SELECT as_of_date, horizon_days, model_version, count(*) AS customers
           FROM marts.customer_value GROUP BY 1, 2, 3 ORDER BY 1 DESC""",
    )


@cached
def top_value_customers(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """The customers of the filtered countries with the highest expected value, with their segment."""
    return read(
        wh.url,
        f"""SELECT v.customer_id, c.country, coalesce(sp.segment_name, '{NO_SEGMENT}') AS segment,
                   v.expected_value, v.p_alive, v.expected_orders, v.expected_order_value
            {VALUE_FROM}
            ORDER BY v.expected_value DESC, v.customer_id LIMIT %(n)s""",
        flt.params() | {"n": TOP_VALUE_CUSTOMERS},
    )


@cached
def value_by_segment(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """segment, customers, expected_value (sum), avg_expected_value of the filtered countries' customers."""
    return read(
        wh.url,
        f"""SELECT coalesce(sp.segment_name, '{NO_SEGMENT}') AS segment, count(*) AS customers,
                   sum(v.expected_value) AS expected_value, avg(v.expected_value) AS avg_expected_value
            {VALUE_FROM}
            GROUP BY 1 ORDER BY 3 DESC, 1""",
        flt.params(),
    )


# -------------------------------------------------------------------------------------- campaigns
@cached
def campaigns(wh: Warehouse) -> pd.DataFrame:
    return read(
        wh.url,
        """SELECT campaign_id, campaign_name, campaign_type, channel, offer, start_date, end_date,
                  coalesce(array_to_string(target_countries, ', '), 'all') AS countries
           FROM warehouse.dim_campaign ORDER BY start_date, campaign_id""",
    )


@cached
def exposures(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """campaign_id, campaign_name, treated, control: every exposure of the campaigns live during the
    range (from start to end date; a campaign assigns its customers on its first day, so the live
    campaigns' exposures are mostly dated before a recent range), customers of the filtered countries
    (exposure is per customer, so categories do not apply)."""
    return read(
        wh.url,
        f"""SELECT e.campaign_id, k.campaign_name, count(*) FILTER (WHERE e.treated) AS treated,
                   count(*) FILTER (WHERE NOT e.treated) AS control
            FROM warehouse.fact_campaign_exposure e
            JOIN warehouse.dim_customer c USING (customer_id)
            JOIN warehouse.dim_campaign k USING (campaign_id)
            WHERE k.start_date <= %(end)s AND k.end_date >= %(start)s
              AND {scope_sql(None, "c.country", None)}
            GROUP BY 1, 2 ORDER BY 1""",
        flt.params(),
    )


@cached
def campaign_orders(wh: Warehouse, flt: Filters) -> pd.DataFrame:
    """campaign_id, campaign_name, orders, customers, net_revenue, discount of the order lines that
    carry a campaign, in the filters."""
    return read(
        wh.url,
        f"""SELECT f.campaign_id, k.campaign_name,
                   count(DISTINCT f.order_id) FILTER (WHERE f.status <> 'cancelled') AS orders,
                   count(DISTINCT f.customer_id) FILTER (WHERE f.status <> 'cancelled') AS customers,
                   coalesce(sum(f.revenue) FILTER (WHERE f.status = 'completed'), 0) AS net_revenue,
                   coalesce(sum(f.discount) FILTER (WHERE f.status = 'completed'), 0) AS discount
            {LINES_FROM} JOIN warehouse.dim_campaign k USING (campaign_id)
            WHERE {LINES_SCOPE}
            GROUP BY 1, 2 ORDER BY 1""",
        flt.params(),
    )


@cached
def causal_estimates(wh: Warehouse) -> pd.DataFrame:
    """marts.causal_estimates: the latest `ecomm causal report` (whole populations: no filters)."""
    return read(
        wh.url,
        """SELECT campaign_id, campaign, method, estimand, segment, outcome, estimate, ci_low, ci_high,
                  std_error, n_treated, n_control, true_effect, relative_error, covers_truth, computed_at
           FROM marts.causal_estimates ORDER BY campaign_id, estimand, segment, method""",
    )


# -------------------------------------------------------------------------------- one customer
@cached
def customer_choices(wh: Warehouse, flt: Filters, newest: bool, limit: int = 300) -> pd.DataFrame:
    """customer_id, label: the customers with most net revenue in the filters, or (newest) the latest
    sign-ups of the filtered countries up to the range's end (they may have no order yet)."""
    label = f"{customer_name('c')} || ' (' || {known('c.country')} || ')'"
    if newest:
        sql = f"""SELECT c.customer_id, {label} AS label, c.signup_date FROM warehouse.dim_customer c
                  WHERE {scope_sql("c.signup_date", "c.country", None)}
                  ORDER BY c.signup_date DESC, c.customer_id DESC LIMIT %(limit)s"""
    else:
        sql = f"""SELECT f.customer_id, {label} AS label,
                         coalesce(sum(f.revenue) FILTER (WHERE f.status = 'completed'), 0) AS net_revenue
                  {LINES_FROM} WHERE {LINES_SCOPE}
                  GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT %(limit)s"""
    return read(wh.url, sql, flt.params() | {"limit": limit})


@cached
def customer(wh: Warehouse, customer_id: int) -> pd.DataFrame:
    """One row of marts.customer_360 with the customer's name ('customer <id>' if unknown)."""
    return read(
        wh.url,
        f"""SELECT m.*, {customer_name("c")} AS name FROM marts.customer_360 m
           JOIN warehouse.dim_customer c USING (customer_id) WHERE m.customer_id = %(id)s""",
        {"id": customer_id},
    )


@cached
def purchase_history(wh: Warehouse, customer_id: int) -> pd.DataFrame:
    """The customer's order lines, newest first."""
    return read(
        wh.url,
        """SELECT f.order_date, f.order_id, f.line_no, p.product_name, p.category, f.quantity, f.revenue,
                  f.status
           FROM warehouse.fact_order_items f JOIN warehouse.dim_product p USING (product_id)
           WHERE f.customer_id = %(id)s ORDER BY f.order_date DESC, f.order_id DESC, f.line_no""",
        {"id": customer_id},
    )


@cached
def products(wh: Warehouse, product_ids: tuple[int, ...]) -> pd.DataFrame:
    return read(
        wh.url,
        """SELECT product_id, product_name, category, brand, list_price FROM warehouse.dim_product
           WHERE product_id = ANY(%(ids)s)""",
        {"ids": list(product_ids)},
    )


def stream_health(wh: Warehouse, zone: str):
    """The live stream's lag and events per second (not cached: it changes every second)."""
    from ecomm.stream.health import stream_health as figures

    with connection(wh.url) as conn, conn.cursor() as cur:
        return figures(cur, zone)
