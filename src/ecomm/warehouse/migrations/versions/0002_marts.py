"""Marts (historical): this revision created them as materialized views. Since 0007 the marts are the
dbt project's tables (dbt/, built by the first load), so a new warehouse gets nothing here; a warehouse
migrated before has the views, which 0007 drops.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    for view in ("daily_sales", "customer_360", "cohort_retention", "product_performance"):
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS marts.{view}")
