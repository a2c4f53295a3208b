"""`ecomm status`: what the warehouse holds, for people (tables of rows)."""

from __future__ import annotations

from ecomm import db
from ecomm.settings import Settings
from ecomm.stream.health import stream_health
from ecomm.warehouse.migrate import current_revision

TABLES = (
    "dim_customer",
    "dim_product",
    "dim_campaign",
    "fact_order_items",
    "fact_web_events",
    "fact_reviews",
    "fact_campaign_exposure",
)


def _rows(cur, sql: str) -> list[dict]:
    cur.execute(sql)
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def warehouse_status(settings: Settings) -> dict[str, list[dict]]:
    url = db.database_url(settings)
    revision = current_revision(settings)
    info: dict[str, list[dict]] = {
        "warehouse": [
            {
                "server": "DATABASE_URL" if settings.database_url else f"embedded ({settings.pgdata})",
                "database": url.database,
                "schema revision": revision or "none (run `ecomm db migrate`)",
            }
        ]
    }
    if revision is None:
        return info
    with db.connection(settings) as conn, conn.cursor() as cur:
        info["batches"] = _rows(
            cur,
            """
            SELECT count(DISTINCT batch_date) FILTER (WHERE status = 'loaded') AS loaded,
                   min(batch_date) FILTER (WHERE status = 'loaded') AS first,
                   max(batch_date) FILTER (WHERE status = 'loaded') AS last,
                   count(*) FILTER (WHERE status = 'rejected') AS rejected_attempts
            FROM audit.load_runs""",
        )
        info["tables"] = [
            {"table": t, "rows": f"{n:,}"}
            for t, n in ((t, _rows(cur, f"SELECT count(*) AS n FROM warehouse.{t}")[0]["n"]) for t in TABLES)
        ]
        info["recent loads"] = _rows(
            cur,
            """
            SELECT batch_date, status, rows_read, rows_loaded, rows_quarantined, round(duration_s::numeric, 2)
                   AS seconds, coalesce(message, '') AS message
            FROM audit.load_runs ORDER BY run_id DESC LIMIT 5""",
        )
        info["failed quality checks (last 7 days)"] = _rows(
            cur,
            """
            SELECT checked_at::timestamp(0) AS checked_at, batch_date, check_name, details
            FROM audit.quality_checks WHERE NOT passed AND checked_at > now() - interval '7 days'
            ORDER BY check_id DESC LIMIT 10""",
        )
        health = stream_health(cur, settings.shop_timezone)
        info["stream"] = [
            {
                "newest event": str(health.newest_event or "none"),
                "lag": health.lag_text(),
                "events/s (last minute)": f"{health.events_per_second:.2f}",
            }
        ]
        # what the next load or pipeline run completes: checks a killed run never ran or that failed
        cur.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'audit' "
            "AND table_name = 'load_runs' AND column_name = 'checks_passed'"
        )
        if cur.fetchone() is None:  # a warehouse not migrated yet
            return info
        info["batches to check again (never checked, or failed)"] = _rows(
            cur,
            """
            SELECT r.batch_date, CASE WHEN r.checks_passed IS NULL THEN 'never checked' ELSE 'failed' END
                   AS checks, CASE WHEN b.batch_date IS NULL THEN 'missing' ELSE 'built' END AS marts
            FROM audit.load_runs r LEFT JOIN audit.mart_builds b USING (batch_date)
            WHERE r.status = 'loaded' AND (r.checks_passed IS NOT TRUE OR b.batch_date IS NULL)
              AND NOT EXISTS (SELECT 1 FROM audit.load_runs n WHERE n.batch_date = r.batch_date
                              AND n.status = 'loaded' AND n.run_id > r.run_id)
            ORDER BY r.batch_date LIMIT 10""",
        )
    return info
