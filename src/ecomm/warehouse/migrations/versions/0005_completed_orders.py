"""One definition of a completed order (warehouse.is_completed_line); the marts (dbt/) read it.

Revision ID: 0005
"""

from alembic import op

from ecomm.warehouse.sqlfiles import read_sql

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute(read_sql("completed_orders.sql"))
    # this revision rebuilt the customer_360 view on the function; since 0007 the mart is a dbt model
    # (dbt/models/marts/customer_360.sql) and 0007 drops the views


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS warehouse.is_completed_line(text, date)")
    op.execute("DROP FUNCTION IF EXISTS warehouse.is_completed_line(text, date, date)")
