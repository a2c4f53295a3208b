"""The `stream` schema: events posted to `POST /events`, one table per raw entity an event can be
(web_events, order_items), with the contract's columns, the client's `stream_event_id` (primary key:
idempotency) and `received_at`. Derived from the contract (`ecomm.stream.tables`).

Revision ID: 0019
"""

from alembic import op

from ecomm.stream.tables import STREAM_ENTITIES, stream_ddl

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.execute("CREATE SCHEMA stream")
    op.execute(
        "COMMENT ON SCHEMA stream IS 'Landing area of events posted to the API (POST /events), "
        "idempotent by stream_event_id; read by the live KPIs.'"
    )
    for entity in STREAM_ENTITIES.values():
        op.execute(stream_ddl(entity))
        op.execute(
            f"COMMENT ON TABLE stream.{entity.name} IS 'Grain: one row per event posted to POST /events "
            f"as a {entity.name} row (stream_event_id is the client''s id).'"
        )


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS stream CASCADE")
