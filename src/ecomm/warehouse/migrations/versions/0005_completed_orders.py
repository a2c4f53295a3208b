"""One definition of a completed order (warehouse.is_completed_line); marts.customer_360 reads it.

Revision ID: 0005
"""

from alembic import op

from ecomm.warehouse.sqlfiles import read_sql

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute(read_sql("completed_orders.sql"))
    # a warehouse migrated before this revision has the mart with its own definition: built anew (and
    # filled, from what is loaded)
    op.execute("DROP MATERIALIZED VIEW IF EXISTS marts.customer_360")
    op.execute(read_sql("customer_360.sql"))


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS marts.customer_360")
    op.execute("DROP FUNCTION IF EXISTS warehouse.is_completed_line(text, date)")
    op.execute("DROP FUNCTION IF EXISTS warehouse.is_completed_line(text, date, date)")
