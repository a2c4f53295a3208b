"""Writing CSV files with pyarrow: typed columns, exact money, and atomic batch directories.

Money is kept in integer cents everywhere and written as decimal(…, 2), so revenue = quantity x
unit_price - discount holds to the cent in the files, with no float rounding.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ecomm.entities import ENTITIES, MANIFEST_FILE, Entity, sql_type

_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_WRITE_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed")

MONEY = pa.decimal128(12, 2)
# The files' column types, from the contract's SQL types (money as exact decimals).
_WRITE_TYPES = {
    "integer": pa.int64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "boolean": pa.bool_(),
    "text": pa.string(),
}


def _write_type(declared: str) -> pa.DataType:
    t = sql_type(declared)
    return pa.decimal128(t.precision, t.scale) if t.kind == "numeric" else _WRITE_TYPES[t.kind]


SCHEMAS: dict[str, pa.Schema] = {
    e.name: pa.schema([(c.name, _write_type(c.type)) for c in e.fields]) for e in ENTITIES
}


def money(cents: np.ndarray, type_: pa.DataType = MONEY) -> pa.Array:
    """Integer cents -> decimal array, zero-copy (a decimal128 is its unscaled 128-bit integer)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)  # sign extension of the high word
    return pa.Array.from_buffers(type_, len(cents), [None, pa.py_buffer(words)])


def dates(ordinals: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Date ordinals -> date32 (mask True = NULL)."""
    days = np.asarray(ordinals, dtype=np.int64) - _EPOCH_ORDINAL
    return pa.array(days.astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())


def timestamps(ordinals: np.ndarray, seconds: np.ndarray) -> pa.Array:
    secs = (np.asarray(ordinals, dtype=np.int64) - _EPOCH_ORDINAL) * 86400 + np.asarray(
        seconds, dtype=np.int64
    )
    return pa.array(secs, pa.int64()).cast(pa.timestamp("s"))


def ints(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=mask)


def labels(names: tuple[str, ...], codes: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Category codes -> strings (mask True = NULL)."""
    values = np.array(names, dtype=object)[np.asarray(codes, dtype=np.int64)]
    if mask is not None:
        values[mask] = None
    return pa.array(values, pa.string())


def empty_table(entity: Entity) -> pa.Table:
    return SCHEMAS[entity.name].empty_table()


def write_csv(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(table, path, _WRITE_OPTIONS)


def write_batch(out: Path, day_name: str, tables: dict[str, pa.Table]) -> None:
    """Write every entity's CSV (header even if empty) into OUT/<day>, atomically.

    Files go to a hidden temporary directory first, which is then renamed into place, so a killed
    run never leaves a half-written batch (a re-run rewrites the same bytes). The batch's manifest
    records each file's bytes and rows, so the loader can tell a truncated copy from a short file.
    """
    final = out / day_name
    tmp = out / f".tmp-{day_name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    files: dict[str, dict[str, int]] = {}
    for entity in ENTITIES:
        table = tables.get(entity.name)
        if table is None:
            table = empty_table(entity)
        if tuple(table.column_names) != entity.columns:
            raise AssertionError(f"{entity.name}: columns {table.column_names} != contract {entity.columns}")
        write_csv(table.cast(SCHEMAS[entity.name]), tmp / entity.file_name)
        files[entity.file_name] = {"bytes": (tmp / entity.file_name).stat().st_size, "rows": table.num_rows}
    (tmp / MANIFEST_FILE).write_text(json.dumps({"files": files}, indent=1, sort_keys=True) + "\n")
    replace_dir(tmp, final)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished directory into place, replacing an older one."""
    if final.exists():
        old = final.with_name(f".old-{final.name}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
