"""Refreshing the marts (materialized views) after a load."""

from __future__ import annotations

import time

MARTS = ("daily_sales", "customer_360", "cohort_retention", "product_performance")


def refresh_marts(conn) -> dict[str, float]:
    """Refresh every mart; CONCURRENTLY once populated so readers are never blocked."""
    seconds = {}
    with conn.cursor() as cur:
        for mart in MARTS:
            start = time.perf_counter()
            cur.execute(
                "SELECT ispopulated FROM pg_matviews WHERE schemaname = 'marts' AND matviewname = %s", (mart,)
            )
            populated = cur.fetchone()[0]
            mode = "CONCURRENTLY " if populated else ""
            cur.execute(f"REFRESH MATERIALIZED VIEW {mode}marts.{mart}")
            conn.commit()
            seconds[mart] = time.perf_counter() - start
    return seconds
