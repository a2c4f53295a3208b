"""Alembic environment: the URL and connection come from `ecomm.warehouse.migrate`."""

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
# The version table lives in `audit`, which must exist before Alembic looks for it.
connection.execute(text("CREATE SCHEMA IF NOT EXISTS audit"))
context.configure(connection=connection, version_table_schema="audit", transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
