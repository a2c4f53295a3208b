"""Star schema, staging, quarantine, audit and truth tables; a date spine with holidays.

Revision ID: 0001
"""

from alembic import op

from ecomm.warehouse.calendar import date_spine_rows
from ecomm.warehouse.sqlfiles import read_sql

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(read_sql("0001_star_schema.sql"))
    op.execute(read_sql("0002_staging_quarantine_truth.sql"))
    conn = op.get_bind().connection.dbapi_connection
    with conn.cursor() as cur:
        from psycopg2.extras import execute_values

        execute_values(
            cur,
            "INSERT INTO warehouse.dim_date (date_day, year, quarter, month, month_name, day_of_month,"
            " iso_year, iso_week, iso_weekday, day_name, is_weekend, holiday_name) VALUES %s",
            date_spine_rows(),
            page_size=5000,
        )


def downgrade() -> None:
    for schema in ("marts", "staging", "quarantine", "truth", "warehouse"):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    op.execute("DROP TABLE IF EXISTS audit.load_runs, audit.quality_checks, audit.truth_loads")
