"""What derives from the raw contract (`ecomm.entities`): types, the one parser, staging DDL, docs.

- `arrow_types`: the pyarrow types a file's columns are read as (integers as int64, numerics as
  float64; the SQL type's narrower bounds are checked after parsing, see `ecomm.warehouse.validate`).
- `parse`: the one parser of a column of text cells. It is pyarrow's own value parser (`cast`), with
  the CSV reader's trimming and boolean spellings, so a file read with its types by pyarrow's CSV
  reader (the fast path for clean files) and a file read as text and parsed here (the path that
  names each bad cell) accept and reject exactly the same values. Timestamps are parsed here on both
  paths (the CSV reader reads them as text): one with an ISO 8601 zone offset is converted to the
  shop's time zone, so every stored timestamp is naive shop time.
- `staging_ddl`: the staging tables (migration 0006 re-creates them from it).
- `rule_holds`: a row rule evaluated at the precision the columns are stored at.
- `contract_markdown`: the README's table of the contract.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ecomm.entities import (
    EARLIEST_DATE,
    ENTITIES,
    FALSE_VALUES,
    INTEGER_RANGES,
    TRUE_VALUES,
    Column,
    Entity,
    RowRule,
    sql_type,
)

ARROW_TYPES = {
    "integer": pa.int64(),
    "numeric": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "boolean": pa.bool_(),
    "text": pa.string(),
}
# What a cell that does not parse is not (the quarantine reason says "<column>: '<cell>' is not ...").
TYPE_NAMES = {
    "integer": "an integer",
    "numeric": "a number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a timestamp (YYYY-MM-DD HH:MM:SS)",
    "boolean": "true or false",
    "text": "text",
}
# pyarrow's CSV reader strips spaces and tabs around integers, numbers and dates (not timestamps,
# booleans or text) before parsing them; the text path does the same.
_TRIMMED_KINDS = ("integer", "numeric", "date")
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
# A cell with something after its date that only a zone offset has (Z, + or -) is parsed as an
# instant (pyarrow: Z, +HH, +HHMM, +HH:MM); any other as a naive timestamp. A cell sent the wrong
# way fails there just as it would have failed the other way.
_ZONED = r"^.{10}.*[Z+-]"
_INSTANT = pa.timestamp("s", tz="UTC")


def kind(column: Column) -> str:
    return sql_type(column.type).kind


def arrow_type(column: Column) -> pa.DataType:
    return ARROW_TYPES[kind(column)]


def arrow_types(entity: Entity) -> dict[str, pa.DataType]:
    """The types the CSV reader gives a file's columns: timestamps stay text, for `parse`."""
    return {c.name: pa.string() if kind(c) == "timestamp" else arrow_type(c) for c in entity.fields}


@cache
def check_zone(zone: str) -> str:
    """`zone` if pyarrow knows it (an IANA name such as Europe/Berlin, or UTC), else ValueError."""
    try:
        pc.local_timestamp(pa.array([0], pa.timestamp("s", tz=zone)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueError(
            f"unknown time zone {zone!r} (ECOMM_SHOP_TIMEZONE): use an IANA name such as "
            "Europe/Berlin or America/New_York, or UTC"
        ) from None
    return zone


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """A typed arrow table as the validation frame (nullable Int64 and boolean, datetime64)."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, date_as_object=False)


# ------------------------------------------------------------------------------------ the parser
def _fails(cells: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(cells, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return True
    return False


def _bad_positions(cells: pa.Array, target: pa.DataType, offset: int = 0) -> list[int]:
    """Positions of the cells pyarrow cannot cast: halves until each failing part is one cell,
    so a clean column costs one cast and a column with k bad cells about k * log2(n) casts."""
    if not _fails(cells, target):
        return []
    if len(cells) <= 8:
        return [offset + i for i in range(len(cells)) if _fails(cells.slice(i, 1), target)]
    mid = len(cells) // 2
    return _bad_positions(cells.slice(0, mid), target, offset) + _bad_positions(
        cells.slice(mid), target, offset + mid
    )


def _cast(cells: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """The cells cast to `target`, and the mask of those that do not cast (null in the result)."""
    bad = np.zeros(len(cells), dtype=bool)
    try:
        return pc.cast(cells, target), bad  # a clean column: one cast
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    bad[_bad_positions(cells, target)] = True
    cleaned = pc.if_else(pa.array(bad), pa.scalar(None, pa.string()), cells)
    return pc.cast(cleaned, target), bad


def _timestamps(cells: pa.Array, zone: str) -> tuple[pa.Array, np.ndarray]:
    """Naive cells as written (already shop time); cells with a zone offset as the same instant in
    the shop's zone, naive."""
    try:
        return pc.cast(cells, pa.timestamp("s")), np.zeros(len(cells), dtype=bool)  # the usual file
    except pa.ArrowInvalid:
        pass
    zoned = pc.fill_null(pc.match_substring_regex(cells, _ZONED), False)
    none = pa.scalar(None, pa.string())
    naive, naive_bad = _cast(pc.if_else(zoned, none, cells), pa.timestamp("s"))
    instants, zoned_bad = _cast(pc.if_else(zoned, cells, none), _INSTANT)
    local = pc.local_timestamp(instants.cast(pa.timestamp("s", tz=zone)))
    return pc.if_else(zoned, local, naive), naive_bad | zoned_bad


def parse(cells: pa.Array, column: Column, zone: str = "UTC") -> tuple[pa.Array, np.ndarray]:
    """A column of text cells (null = empty cell) as its type, and a mask of the non-empty cells
    that are not of the type (they are null in the result). `zone`: the shop's time zone, which
    timestamps with a zone offset are converted to."""
    k = kind(column)
    none_bad = np.zeros(len(cells), dtype=bool)
    if k == "text":
        return cells, none_bad
    if k == "timestamp":
        return _timestamps(cells, zone)
    if k == "boolean":
        is_true = pc.fill_null(pc.is_in(cells, value_set=pa.array(TRUE_VALUES)), False)
        is_false = pc.fill_null(pc.is_in(cells, value_set=pa.array(FALSE_VALUES)), False)
        values = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
        bad = pc.and_(cells.is_valid(), pc.invert(pc.or_(is_true, is_false)))
        return values, bad.to_numpy(zero_copy_only=False)
    if k in _TRIMMED_KINDS:
        cells = pc.utf8_trim(cells, " \t")
    return _cast(cells, ARROW_TYPES[k])


def parse_failure(column: Column, cell: str) -> str:
    """Why a cell does not parse (the quarantine reason)."""
    t = sql_type(column.type)
    if t.kind == "integer" and re.fullmatch(r"-?[0-9]+", cell.strip(" \t")):
        return f"{column.name}: {cell!r} is out of range for {t.sql} ({t.low} to {t.high})"
    return f"{column.name}: {cell!r} is not {TYPE_NAMES[t.kind]}"


# ------------------------------------------------------------------------------------- row rules
_TERMS = re.compile(r"\s+([+-])\s+")


def _terms(expression: str) -> list[tuple[int, list[str]]]:
    """`a * b - c + 5` as [(+1, [a, b]), (-1, [c]), (+1, ['5'])]."""
    parts = _TERMS.split(expression.strip())
    signs = [1] + [1 if op == "+" else -1 for op in parts[1::2]]
    return [
        (sign, [f.strip() for f in term.split("*")]) for sign, term in zip(signs, parts[0::2], strict=True)
    ]


def _scale(entity: Entity, name: str) -> int:
    if re.fullmatch(r"[0-9]+", name):
        return 0
    t = sql_type(entity.column(name).type)
    return t.scale if t.kind == "numeric" else 0


def _side(entity: Entity, frame: pd.DataFrame, expression: str, scale: int) -> np.ndarray:
    """An arithmetic side at `scale` decimals, as whole numbers (float64; NaN where a value is NULL).
    Each column is first rounded to its own scale: the value the database stores."""
    total = np.zeros(len(frame))
    for sign, factors in _terms(expression):
        value, term_scale = np.ones(len(frame)), 0
        for name in factors:
            if re.fullmatch(r"[0-9]+", name):
                value = value * float(name)
                continue
            s = _scale(entity, name)
            raw = frame[name].to_numpy(dtype="float64", na_value=np.nan)
            value = value * (np.rint(raw * 10.0**s) if s else raw)
            term_scale += s
        total = total + sign * value * 10.0 ** (scale - term_scale)
    return total


def _side_scale(entity: Entity, expression: str) -> int:
    return max(sum(_scale(entity, f) for f in factors) for _, factors in _terms(expression))


_OPS = {"=": np.equal, "<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater}


def rule_holds(entity: Entity, rule: RowRule, frame: pd.DataFrame) -> pd.Series:
    """True where the row keeps the rule, or an operand is NULL (as a SQL CHECK). Sums of products
    are exact: below 2^53 float64 holds whole cents exactly, and a side beyond that cannot equal or
    undercut a stored numeric(14, 2) anyway."""
    op = _OPS[rule.op]
    simple = [e for e in (rule.left, rule.right) if e in entity.columns]
    if len(simple) == 2 and kind(entity.column(rule.left)) in ("date", "timestamp"):
        left, right = frame[rule.left], frame[rule.right]
        return pd.Series(op(left, right) | left.isna() | right.isna(), index=frame.index)
    scale = max(_side_scale(entity, rule.left), _side_scale(entity, rule.right))
    left, right = _side(entity, frame, rule.left, scale), _side(entity, frame, rule.right, scale)
    with np.errstate(invalid="ignore"):
        ok = op(left, right) | np.isnan(left) | np.isnan(right)
    return pd.Series(ok, index=frame.index)


# -------------------------------------------------------------------------------------- staging
def staging_ddl(entity: Entity, *, not_null: bool = True) -> str:
    """CREATE of the entity's staging table: row_no and batch_date, then the file's columns.
    UNLOGGED: staging is rebuilt from the raw files on any re-run, so WAL would be wasted work."""
    columns = ["row_no int NOT NULL", "batch_date date NOT NULL"] + [
        f"{c.name} {sql_type(c.type).sql}" + ("" if c.nullable or not not_null else " NOT NULL")
        for c in entity.fields
    ]
    body = ",\n    ".join(columns)
    return f"CREATE UNLOGGED TABLE staging.{entity.name} (\n    {body}\n);"


# ----------------------------------------------------------------------------------------- docs
def _rules_text(column: Column) -> str:
    parts = []
    if column.gt is not None:
        parts.append(f"> {column.gt}")
    if column.ge is not None and column.le is not None:
        parts.append(f"{column.ge}–{column.le}")
    elif column.ge is not None:
        parts.append(f">= {column.ge}")
    elif column.le is not None:
        parts.append(f"<= {column.le}")
    if column.one_of:
        parts.append(" / ".join(column.one_of))
    if column.pattern:
        parts.append(column.pattern_name)
    if column.batch_date == "on":
        parts.append("on the batch date")
    elif column.batch_date == "not_after":
        lead = f" + {column.lead_days} days" if column.lead_days else ""
        parts.append(f"{EARLIEST_DATE} … batch date{lead}")
    return "; ".join(parts)


def contract_markdown() -> str:
    """The README's contract table, rendered from the declarations."""
    lines = [
        "| entity (key) | column | type | NULL | rule | references |",
        "|---|---|---|---|---|---|",
    ]
    for entity in ENTITIES:
        for i, column in enumerate(entity.fields):
            label = f"`{entity.name}` ({', '.join(entity.key)})" if i == 0 else ""
            ref = f"`{column.references}`" if column.references else ""
            lines.append(
                f"| {label} | `{column.name}` | {column.type} | {'yes' if column.nullable else ''} "
                f"| {_rules_text(column)} | {ref} |"
            )
    ranges = ", ".join(f"{name} {low}…{high}" for name, (low, high) in INTEGER_RANGES.items())
    lines += [
        "",
        f"Each type's own bounds apply on top of the rule column: {ranges}; numeric(p,s) finite, "
        "below 10^(p−s) in absolute value, at most s decimals; text without NUL characters. Booleans are "
        f"{'/'.join(TRUE_VALUES)} or {'/'.join(FALSE_VALUES)}. Row rules (numbers compared at their "
        "columns' scale, as stored) and references of several columns:",
        "",
    ]
    for entity in ENTITIES:
        for rule in entity.rules:
            lines.append(f"- `{entity.name}`: `{rule}` ({rule.message})")
        for ref in entity.row_references:
            lines.append(f"- `{entity.name}`: `{ref}`")
    return "\n".join(lines)
