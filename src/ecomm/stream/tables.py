"""The `stream` schema: one landing table per raw entity an event can be, derived from the contract.

Each table holds the entity's columns with their contract types and NULLs, plus the client's
`stream_event_id` (the idempotency key: a retried event is stored once) and `received_at` (when its
micro-batch committed: what "the last minute" is measured by).
"""

from __future__ import annotations

from ecomm import entities as E
from ecomm.entities import sql_type

# The raw entities an event can be: the shop's clickstream and its orders (what happens during a day);
# customers, catalog and campaigns change in the nightly batch only.
STREAM_ENTITIES: dict[str, E.Entity] = {e.name: e for e in (E.WEB_EVENTS, E.ORDER_ITEMS)}
ID_COLUMN = "stream_event_id"
MAX_EVENT_ID_LENGTH = 64


def event_time_column(entity: E.Entity) -> E.Column:
    """The column that dates an event (its day is the batch date it belongs to)."""
    [column] = [c for c in entity.fields if c.batch_date == "on"]
    return column


def stream_ddl(entity: E.Entity) -> str:
    columns = [
        f"{ID_COLUMN} varchar({MAX_EVENT_ID_LENGTH}) PRIMARY KEY",
        "received_at timestamptz NOT NULL DEFAULT now()",
    ] + [f"{c.name} {sql_type(c.type).sql}" + ("" if c.nullable else " NOT NULL") for c in entity.fields]
    body = ",\n    ".join(columns)
    when = event_time_column(entity).name
    return (
        f"CREATE TABLE stream.{entity.name} (\n    {body}\n);\n"
        f"CREATE INDEX ON stream.{entity.name} (received_at);\n"
        f"CREATE INDEX ON stream.{entity.name} ({when});"
    )
