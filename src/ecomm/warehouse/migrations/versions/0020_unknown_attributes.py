"""Imported logs: attributes a log may lack are NULL (unknown), and the calendar starts in 1900.

A real transaction log has a customer, a date and an amount; the shop's own attributes (a customer's
name, age, city, channel; a product's brand, price, cost; the order a rating is of) are stored as unknown rather than invented.
The calendar grows back from 2000 to 1900-01-01 (`entities.EARLIEST_DATE`) so a log as old as its data
loads. Staging is re-created from the contract (as 0006 does).

Revision ID: 0020
"""

from datetime import date, timedelta

from alembic import op

from ecomm.entities import EARLIEST_DATE, ENTITIES
from ecomm.warehouse.calendar import SPINE_START, date_spine_rows
from ecomm.warehouse.contract import staging_ddl

revision = "0020"
down_revision = "0019"

NULLABLE = {
    "dim_customer": ("first_name", "last_name", "email", "age", "country", "city", "acquisition_channel"),
    "dim_product": ("category", "subcategory", "brand", "list_price", "unit_cost"),
    "fact_order_items": ("cost",),
    "fact_reviews": ("order_id",),  # a rating log does not say what was bought
}
_INSERT_DAYS = (
    "INSERT INTO warehouse.dim_date (date_day, year, quarter, month, month_name, day_of_month,"
    " iso_year, iso_week, iso_weekday, day_name, is_weekend, holiday_name) VALUES %s"
    " ON CONFLICT (date_day) DO NOTHING"
)


def _recreate_staging() -> None:
    for entity in ENTITIES:
        op.execute(f"DROP TABLE IF EXISTS staging.{entity.name}")
        op.execute(staging_ddl(entity))


def upgrade() -> None:
    for table, columns in NULLABLE.items():
        alters = ", ".join(f"ALTER COLUMN {c} DROP NOT NULL" for c in columns)
        op.execute(f"ALTER TABLE warehouse.{table} {alters}")
    _recreate_staging()
    from psycopg2.extras import execute_values

    older = date_spine_rows(date.fromisoformat(EARLIEST_DATE), SPINE_START - timedelta(days=1))
    with op.get_bind().connection.dbapi_connection.cursor() as cur:
        execute_values(cur, _INSERT_DAYS, older, page_size=5000)


def downgrade() -> None:
    # fails (as it should) while a row holds an unknown value or a date before 2000
    op.execute(f"DELETE FROM warehouse.dim_date WHERE date_day < '{SPINE_START}'")
    for table, columns in NULLABLE.items():
        alters = ", ".join(f"ALTER COLUMN {c} SET NOT NULL" for c in columns)
        op.execute(f"ALTER TABLE warehouse.{table} {alters}")
    # 0006 re-created staging from the contract as it is now: its nullability comes back with the
    # contract at 0017's code, not here
