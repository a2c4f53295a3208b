"""Test helper: a warehouse cut back to what was known before a date (the leakage tests)."""

from __future__ import annotations

from datetime import date


def keep_only_the_past(conn, as_of: date) -> None:
    """Delete what was not known before `as_of`: rows dated on or after it, returns since; and empty
    the planted truth (every table of the schema, whatever the generator adds)."""
    p = {"c": as_of}
    with conn.cursor() as cur:
        cur.execute("DELETE FROM warehouse.fact_web_events WHERE event_date >= %(c)s", p)
        cur.execute("DELETE FROM warehouse.fact_reviews WHERE review_date >= %(c)s", p)
        cur.execute("DELETE FROM warehouse.fact_campaign_exposure WHERE exposure_date >= %(c)s", p)
        cur.execute("DELETE FROM warehouse.fact_order_items WHERE order_date >= %(c)s", p)
        cur.execute(
            """UPDATE warehouse.fact_order_items SET status = 'completed', return_date = NULL,
                      return_reason = NULL WHERE return_date >= %(c)s""",
            p,
        )
        cur.execute(
            "UPDATE warehouse.fact_order_items SET delivery_days = NULL WHERE order_date + delivery_days >= %(c)s",
            p,
        )
        cur.execute("DELETE FROM warehouse.dim_campaign WHERE batch_date >= %(c)s", p)
        cur.execute("DELETE FROM warehouse.dim_customer WHERE signup_date >= %(c)s", p)
        cur.execute("DELETE FROM warehouse.dim_product WHERE launch_date >= %(c)s", p)
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'truth' ORDER BY 1")
        truth = [name for (name,) in cur.fetchall()]
        assert "customer_traits" in truth
        cur.execute("TRUNCATE " + ", ".join(f"truth.{name}" for name in truth))
        cur.execute("SELECT count(*) FROM warehouse.fact_order_items WHERE return_date IS NOT NULL")
        assert cur.fetchone()[0] > 0  # returns before the as-of date stay: the test sees them counted
    conn.commit()
