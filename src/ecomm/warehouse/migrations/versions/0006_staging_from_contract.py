"""Staging re-created from the raw contract (`ecomm.entities`): types and NOT NULL as declared.

Staging tables are UNLOGGED and empty between batches, so they are dropped and re-created; a later
change to the contract re-creates them the same way in its own migration (the test comparing the
contract with information_schema fails until it does).

Revision ID: 0006
"""

from alembic import op

from ecomm.entities import ENTITIES
from ecomm.warehouse.contract import staging_ddl

revision = "0006"
down_revision = "0005"


def _recreate(not_null: bool) -> None:
    for entity in ENTITIES:
        op.execute(f"DROP TABLE IF EXISTS staging.{entity.name}")
        op.execute(staging_ddl(entity, not_null=not_null))


def upgrade() -> None:
    _recreate(not_null=True)


def downgrade() -> None:
    _recreate(not_null=False)  # 0002's staging: the same types, every file column nullable
