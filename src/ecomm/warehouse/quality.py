"""Data-quality checks run after each load and recorded in audit.quality_checks.

Reconciliation compares each loaded batch's good raw rows with what the warehouse holds for that
batch; the other checks look for problems no constraint or load rule prevents (purchase events without
the order they record, orders whose lines disagree, duplicate e-mails, a day without orders).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Warehouse rows of one batch, per raw entity (returns are counted by their return date).
_BATCH_ROWS = {
    "customers": "SELECT count(*) FROM warehouse.dim_customer WHERE batch_date = %(d)s",
    "products": "SELECT count(*) FROM warehouse.dim_product WHERE batch_date = %(d)s",
    "campaigns": "SELECT count(*) FROM warehouse.dim_campaign WHERE batch_date = %(d)s",
    "campaign_exposure": "SELECT count(*) FROM warehouse.fact_campaign_exposure WHERE batch_date = %(d)s",
    "order_items": "SELECT count(*) FROM warehouse.fact_order_items WHERE batch_date = %(d)s",
    "returns": "SELECT count(*) FROM warehouse.fact_order_items WHERE status = 'returned' AND return_date = %(d)s",
    "web_events": "SELECT count(*) FROM warehouse.fact_web_events WHERE batch_date = %(d)s",
    "reviews": "SELECT count(*) FROM warehouse.fact_reviews WHERE batch_date = %(d)s",
}

# name -> SQL counting offending rows among the given batches (0 = pass)
_ZERO_CHECKS = {
    "orphan_purchase_events": """
        SELECT count(*) FROM warehouse.fact_web_events e
        WHERE e.batch_date = ANY(%(dates)s) AND e.event_type = 'purchase' AND NOT EXISTS (
            SELECT 1 FROM warehouse.fact_order_items f WHERE f.customer_id = e.customer_id
            AND f.order_date = e.event_date AND (e.product_id IS NULL OR f.product_id = e.product_id))""",
    "inconsistent_orders": """
        SELECT count(*) FROM (
            SELECT order_id FROM warehouse.fact_order_items
            WHERE order_id IN (SELECT order_id FROM warehouse.fact_order_items WHERE batch_date = ANY(%(dates)s))
            GROUP BY order_id HAVING count(DISTINCT customer_id) > 1 OR count(DISTINCT order_ts) > 1) x""",
    "duplicate_customer_emails": """
        SELECT count(*) FROM (
            SELECT lower(email) FROM warehouse.dim_customer
            WHERE lower(email) IN (SELECT lower(email) FROM warehouse.dim_customer
                                   WHERE batch_date = ANY(%(dates)s))
            GROUP BY lower(email) HAVING count(*) > 1) x""",
}


@dataclass
class CheckResult:
    name: str
    passed: bool
    observed: float
    details: str
    batch_date: date | None = None


def _scalar(cur, sql: str, params: dict):
    cur.execute(sql, params)
    return cur.fetchone()[0]


def _reconcile(cur, day: date) -> list[CheckResult]:
    """Compare the raw good rows recorded by the batch's last successful load with the warehouse."""
    cur.execute(
        "SELECT rows_by_entity FROM audit.load_runs WHERE batch_date = %s AND status = 'loaded' "
        "ORDER BY run_id DESC LIMIT 1",
        (day,),
    )
    row = cur.fetchone()
    if row is None:
        return [CheckResult("batch_loaded", False, 0, f"no successful load of batch {day}", day)]
    recorded = row[0]
    checks = []
    for entity, sql in _BATCH_ROWS.items():
        expected = recorded[entity]["read"] - recorded[entity]["quarantined"]
        actual = _scalar(cur, sql, {"d": day})
        checks.append(
            CheckResult(
                f"reconcile_{entity}_rows",
                actual == expected,
                actual,
                f"raw good rows {expected}, warehouse rows {actual}",
                day,
            )
        )
    good_revenue = float(recorded["good_revenue"])
    revenue = float(
        _scalar(
            cur,
            "SELECT coalesce(sum(revenue), 0) FROM warehouse.fact_order_items WHERE batch_date = %(d)s",
            {"d": day},
        )
    )
    checks.append(
        CheckResult(
            "reconcile_order_items_revenue",
            abs(revenue - good_revenue) < 0.005,
            revenue,
            f"raw good revenue {good_revenue:.2f}, warehouse revenue {revenue:.2f}",
            day,
        )
    )
    return checks


def run_checks(conn, dates: list[date]) -> list[CheckResult]:
    """Check the given batches against their last successful load, and record the results."""
    if not dates:
        return []
    checks: list[CheckResult] = []
    with conn.cursor() as cur:
        for day in dates:
            checks += _reconcile(cur, day)
        for name, sql in _ZERO_CHECKS.items():
            bad = _scalar(cur, sql, {"dates": dates})
            checks.append(CheckResult(name, bad == 0, bad, f"{bad} offending rows in the batches loaded"))
        latest = max(dates)
        orders = _scalar(
            cur, "SELECT count(*) FROM warehouse.fact_order_items WHERE order_date = %(d)s", {"d": latest}
        )
        checks.append(
            CheckResult(
                "freshness",
                orders > 0,
                orders,
                f"{orders} order lines dated on the latest batch {latest}",
                latest,
            )
        )
        cur.executemany(
            "INSERT INTO audit.quality_checks (batch_date, check_name, passed, observed, details) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(c.batch_date, c.name, c.passed, c.observed, c.details) for c in checks],
        )
    conn.commit()
    return checks
