"""Marts as materialized views (created empty; the first load refreshes them).

Revision ID: 0002
"""

from alembic import op

from ecomm.warehouse.sqlfiles import read_sql

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(read_sql("0003_marts.sql"))


def downgrade() -> None:
    for view in ("daily_sales", "customer_360", "cohort_retention", "product_performance"):
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS marts.{view}")
