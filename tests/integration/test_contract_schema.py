"""The raw contract (`ecomm.entities`) against the migrated database's information_schema: the staging
tables and the warehouse tables the entities load into have the declared columns, types (numeric
precision and scale included) and nullability; the warehouse's own columns are listed explicitly."""

from __future__ import annotations

from ecomm.entities import ENTITIES
from ecomm.warehouse.contract import sql_type

INFO = """
    SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable = 'YES'
    FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
    ORDER BY ordinal_position"""

# What a warehouse table holds beyond the raw columns loaded into it: (type, nullable) by column.
WAREHOUSE_OWN = {
    "dim_customer": {"batch_date": ("date", False), "loaded_at": ("timestamp with time zone", False)},
    "dim_product": {"batch_date": ("date", False), "loaded_at": ("timestamp with time zone", False)},
    "dim_campaign": {"batch_date": ("date", False), "loaded_at": ("timestamp with time zone", False)},
    "fact_campaign_exposure": {"batch_date": ("date", False)},
    "fact_order_items": {
        "order_date": ("date", False),  # order_ts::date
        "cost": ("numeric(14, 2)", True),  # quantity * unit_cost (NULL: unknown cost)
        "batch_date": ("date", False),
    },
    "fact_web_events": {"event_date": ("date", False), "batch_date": ("date", False)},
    "fact_reviews": {"batch_date": ("date", False)},
}
# Raw columns stored under another name, another type or nullability, or not stored at all (None).
WAREHOUSE_MAPPED = {
    ("campaigns", "target_countries"): ("target_countries", "ARRAY", True),  # 'a;b' -> text[]
    ("order_items", "unit_cost"): None,  # stored as cost = quantity * unit_cost
    # a return updates its order line: the line's return columns are NULL until it is returned
    ("returns", "return_date"): ("return_date", "date", True),
    ("returns", "reason"): ("return_reason", "text", True),
}


def _described(declared: str) -> tuple[str, int | None, int | None]:
    """How information_schema describes a declared type: (data_type, precision, scale) of numerics."""
    t = sql_type(declared)
    if t.kind == "numeric":
        return "numeric", t.precision, t.scale
    return t.sql, None, None


def _columns(sql, schema: str, table: str) -> dict[str, tuple]:
    rows = sql(INFO, (schema, table))
    return {
        name: (
            data_type,
            prec if data_type == "numeric" else None,
            scale if data_type == "numeric" else None,
            null,
        )
        for name, data_type, prec, scale, null in rows
    }


def test_staging_tables_are_the_contract(sql):
    assert sorted(
        r[0] for r in sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'")
    ) == sorted(e.name for e in ENTITIES)
    for entity in ENTITIES:
        expected = {"row_no": ("integer", None, None, False), "batch_date": ("date", None, None, False)}
        expected |= {c.name: (*_described(c.type), c.nullable) for c in entity.fields}
        found = _columns(sql, "staging", entity.name)
        assert list(found) == list(expected), entity.name  # the file's order, after row_no, batch_date
        assert found == expected, entity.name
    unlogged = sql(
        "SELECT relname FROM pg_class WHERE relnamespace = 'staging'::regnamespace AND relpersistence = 'u'"
    )
    assert sorted(r[0] for r in unlogged) == sorted(e.name for e in ENTITIES)


def test_warehouse_tables_hold_the_contract(sql):
    expected: dict[str, dict[str, tuple]] = {}
    for entity in ENTITIES:
        table = entity.loads_into.removeprefix("warehouse.")
        columns = expected.setdefault(table, {})
        for c in entity.fields:
            key = (entity.name, c.name)
            if key in WAREHOUSE_MAPPED:
                if WAREHOUSE_MAPPED[key] is None:
                    continue
                name, data_type, nullable = WAREHOUSE_MAPPED[key]
                columns[name] = (data_type, None, None, nullable)
            else:
                columns.setdefault(c.name, (*_described(c.type), c.nullable))
    for table, own in WAREHOUSE_OWN.items():
        expected[table] |= {name: (*_described_sql(t), nullable) for name, (t, nullable) in own.items()}

    assert sorted(expected) == sorted(WAREHOUSE_OWN)
    for table, columns in expected.items():
        assert _columns(sql, "warehouse", table) == columns, table


def _described_sql(spelled: str) -> tuple[str, int | None, int | None]:
    if spelled.startswith("numeric("):
        return _described(spelled.replace(" ", ""))
    return spelled, None, None


def test_staging_migration_downgrades_and_upgrades(warehouse, sql):
    """Revision 0006 re-creates staging from the contract; down to 0005 leaves the same types with
    every file column nullable (0002's staging), and up again restores NOT NULL."""
    from alembic import command

    from ecomm import db
    from ecomm.warehouse.migrate import _config

    def step(move, target):
        cfg = _config()
        engine = db.engine(warehouse)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            move(cfg, target)
        engine.dispose()

    required = "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'staging' AND is_nullable = 'NO'"
    declared = sum(not c.nullable for e in ENTITIES for c in e.fields)
    assert sql.one(required) == 2 * len(ENTITIES) + declared  # row_no, batch_date and the contract's
    step(command.downgrade, "0005")  # below 0006, through every later revision
    assert sql.one(required) == 2 * len(ENTITIES)
    step(command.upgrade, "head")
    assert sql.one(required) == 2 * len(ENTITIES) + declared


FOREIGN_KEYS = """
    SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.connamespace = 'warehouse'::regnamespace AND cardinality(c.conkey) = 1"""
# A timestamp's day is stored in its own column, which holds the foreign key to the calendar.
DAY_COLUMNS = {("order_items", "order_ts"): "order_date", ("web_events", "event_ts"): "event_date"}


def test_every_declared_reference_to_a_dimension_is_a_foreign_key(sql):
    """The warehouse declares each single-column reference of the contract as a foreign key (the
    references of several columns, to order lines, are rules of the merge)."""
    keys = set(sql(FOREIGN_KEYS))
    expected = set()
    for entity in ENTITIES:
        for ref in entity.references:
            if len(ref.columns) == 1:
                column = DAY_COLUMNS.get((entity.name, ref.columns[0]), ref.columns[0])
                expected.add((entity.loads_into, column, ref.table, ref.target[0]))
    assert len(expected) == 17
    assert expected <= keys, sorted(expected - keys)


def test_stream_tables_are_the_contract_with_the_clients_event_id(sql):
    from ecomm.stream.tables import STREAM_ENTITIES

    found_tables = sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'stream'")
    assert sorted(r[0] for r in found_tables) == ["live_resets", "order_items", "replays", "web_events"]
    assert sorted(STREAM_ENTITIES) == ["order_items", "web_events"]
    for entity in STREAM_ENTITIES.values():
        expected = {
            "stream_event_id": ("character varying", None, None, False),
            "received_at": ("timestamp with time zone", None, None, False),
        }
        expected |= {c.name: (*_described(c.type), c.nullable) for c in entity.fields}
        expected["txid"] = ("xid8", None, None, False)  # the storing transaction (the live KPIs' increments)
        found = _columns(sql, "stream", entity.name)
        assert list(found) == list(expected), entity.name
        assert found == expected, entity.name
    keys = sql(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = 'stream'::regnamespace AND contype = 'p' ORDER BY 1"
    )
    assert keys == [
        ("stream.live_resets", "PRIMARY KEY (only_row)"),
        ("stream.order_items", "PRIMARY KEY (stream_event_id)"),
        ("stream.replays", "PRIMARY KEY (business_date)"),
        ("stream.web_events", "PRIMARY KEY (stream_event_id)"),
    ]
