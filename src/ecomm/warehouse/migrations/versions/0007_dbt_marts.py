"""The marts become the dbt project's tables (dbt/): the materialized views are dropped; the first load
builds the marts (ecomm.warehouse.marts.build_marts). audit.mart_builds records the batches built.

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"

MARTS = ("daily_sales", "customer_360", "cohort_retention", "product_performance")


def upgrade() -> None:
    for mart in MARTS:
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS marts.{mart}")
    op.execute("""
        CREATE TABLE audit.mart_builds (
            batch_date  date PRIMARY KEY,
            built_at    timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE audit.mart_builds IS
            'Grain: one row per loaded batch the marts (dbt build) have processed; a loaded batch missing '
            'here is built by the next build.';
    """)


def downgrade() -> None:
    # the dbt project's objects go; the materialized views of older releases are not recreated (their
    # SQL lives in the dbt models now): an older release refreshes marts that are not there
    op.execute("DROP TABLE IF EXISTS audit.mart_builds")
    for mart in MARTS:
        op.execute(f"DROP TABLE IF EXISTS marts.{mart}")
    op.execute("DROP SCHEMA IF EXISTS marts_internal CASCADE")
