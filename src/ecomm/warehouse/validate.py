"""Validation of one raw file against the contract (`ecomm.entities`): parse, then a pandera schema.

The file is parsed once, by pyarrow (`contract.parse`; a clean file arrives parsed by pyarrow's CSV
reader with the same value parser). The pandera schema is derived from the declarations: each
column's dtype, nullability, declared range, accepted values, pattern and batch-date rule, plus the
bounds of its SQL type (integer range; numerics finite, below 10^(precision - scale), at most
`scale` decimals), so a value that passes fits its column and never fails COPY or a CHECK; and the
entity's row rules, evaluated at the columns' precision. Rows that fail go to quarantine with a
reason naming the field and the value; references to the warehouse are SQL, in `merge.py`.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.errors import SchemaErrors

from ecomm import entities as E
from ecomm.warehouse.contract import arrow_type, kind, parse, parse_failure, rule_holds, sql_type, to_pandas
from ecomm.warehouse.raw import BadRow, BatchError, RawFile

EARLIEST_DATE = pd.Timestamp(E.EARLIEST_DATE)  # start of the warehouse calendar

_BATCH: ContextVar[date] = ContextVar("batch_date")  # the batch date being validated


def _declared_range(c: E.Column) -> list[pa.Check]:
    checks = []
    if c.gt is not None:
        checks.append(pa.Check.gt(c.gt, error=f"{c.name} must be > {c.gt}"))
    if c.ge is not None and c.le is not None:
        checks.append(pa.Check.in_range(c.ge, c.le, error=f"{c.name} must be between {c.ge} and {c.le}"))
    elif c.ge is not None:
        checks.append(pa.Check.ge(c.ge, error=f"{c.name} must be >= {c.ge}"))
    elif c.le is not None:
        checks.append(pa.Check.le(c.le, error=f"{c.name} must be <= {c.le}"))
    return checks


def _integer_bounds(c: E.Column) -> list[pa.Check]:
    """The SQL type's range, where the declared range does not already keep the value inside it."""
    t = sql_type(c.type)
    if t.sql == "bigint":  # parsed as int64: the same range
        return []
    lower = max(v for v in (c.gt, c.ge, t.low - 1) if v is not None) >= t.low
    upper = c.le is not None and c.le <= t.high
    if lower and upper:
        return []
    if lower:
        return [pa.Check.le(t.high, error=f"{c.name} must be <= {t.high} ({t.sql})")]
    if upper:
        return [pa.Check.ge(t.low, error=f"{c.name} must be >= {t.low} ({t.sql})")]
    return [
        pa.Check.in_range(t.low, t.high, error=f"{c.name} must be between {t.low} and {t.high} ({t.sql})")
    ]


def _numeric_bounds(c: E.Column) -> list[pa.Check]:
    """What numeric(p, s) stores: finite, below 10^(p - s) in absolute value, at most s decimals."""
    t = sql_type(c.type)
    limit, factor = float(t.limit), 10.0**t.scale

    def fits(s: pd.Series) -> pd.Series:
        values = s.to_numpy()
        scaled = values * factor
        with np.errstate(invalid="ignore"):
            exact = np.abs(scaled - np.rint(scaled)) <= np.abs(scaled) * 1e-14 + 1e-9
            return pd.Series((np.abs(values) < limit) & exact, index=s.index)

    return [
        pa.Check(
            fits,
            error=f"{c.name} must be finite, below 10^{t.precision - t.scale} in absolute value "
            f"and have at most {t.scale} decimals ({t.sql})",
        )
    ]


def _batch_date(c: E.Column) -> list[pa.Check]:
    """The date rule relative to the batch date (validate() sets `_BATCH`; the reason names the date)."""
    if c.batch_date == "on":
        return [
            pa.Check(
                lambda s: s.dt.normalize() == pd.Timestamp(_BATCH.get()),
                error=f"{c.name} must fall on the batch date {{batch}}",
            )
        ]
    if c.batch_date == "not_after":
        lead = pd.Timedelta(days=c.lead_days + 1)
        after = f"{c.lead_days} days after " if c.lead_days else ""
        return [
            pa.Check(
                lambda s: (s >= EARLIEST_DATE) & (s < pd.Timestamp(_BATCH.get()) + lead),
                error=f"{c.name} must be between {E.EARLIEST_DATE} and {after}the batch date {{batch}}",
            )
        ]
    return []


def column_checks(c: E.Column, nul: bool = True) -> list[pa.Check]:
    """Every check of one column, derived from its declaration (nul=False: without the NUL check of
    text, for a file with no NUL byte)."""
    k = kind(c)
    checks = _declared_range(c)
    if k == "integer":
        checks += _integer_bounds(c)
    elif k == "numeric":
        checks = _numeric_bounds(c) + checks
    if c.one_of:
        checks.append(pa.Check.isin(list(c.one_of), error=f"must be one of {', '.join(c.one_of)}"))
    elif k == "text" and nul:  # PostgreSQL text cannot hold NUL: COPY would fail the batch
        checks.append(
            pa.Check(
                lambda s: ~s.str.contains("\x00", regex=False),
                error=f"{c.name} must not contain a NUL character",
            )
        )
    if c.pattern:
        checks.append(pa.Check.str_matches(c.pattern, error=f"not {c.pattern_name}"))
    return checks + _batch_date(c)


def _row_check(entity: E.Entity, rule: E.RowRule) -> pa.Check:
    return pa.Check(lambda frame: rule_holds(entity, rule, frame), error=rule.message)


@cache
def schema(entity: E.Entity, nul: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of an entity's file, derived from the declarations (built once; the
    batch-date rules read the date being validated)."""
    columns = {
        c.name: pa.Column(checks=column_checks(c, nul), nullable=c.nullable, coerce=False)
        for c in entity.fields
    }
    return pa.DataFrameSchema(
        columns,
        checks=[_row_check(entity, r) for r in entity.rules],
        unique=list(entity.key),
        report_duplicates="all",
    )


def _plain(schema: pa.DataFrameSchema) -> bool:
    """The schema uses nothing but what `holds` evaluates: columns with checks and nullability,
    vectorized checks, frame-level checks, and the key's uniqueness (as `schema()` builds them)."""
    columns = schema.columns.values()
    checks = [check for column in columns for check in column.checks] + list(schema.checks)
    return (
        schema.dtype is None
        and not (schema.coerce or schema.strict or schema.ordered or schema.parsers or schema.index)
        and not (schema.unique_column_names or schema.add_missing_columns or schema.drop_invalid_rows)
        and all(
            c.dtype is None and c.required and c.default is None and c.name is not None
            and not (c.coerce or c.regex or c.unique or c.parsers or c.drop_invalid_rows)
            for c in columns
        )
        and all(check.groupby is None and not check.element_wise for check in checks)
    )  # fmt: skip


def _check_holds(check: pa.Check, frame: pd.DataFrame, column: str | None) -> bool:
    """pandera's own evaluation of one check (its backend's preprocess and apply: the values, less
    the missing ones when the check ignores them), without the failure report."""
    backend = check.get_backend(frame)(check)
    output = backend.apply(backend.preprocess(frame, column))
    if isinstance(output, bool | np.bool_):
        return bool(output)
    return isinstance(output, pd.Series) and bool(output.all())  # what pandera's postprocess passes


def holds(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> bool:
    """True when pandera would find no failure in `frame`: every column present, no missing value
    where none is allowed, every check true on every row, no key twice. The same checks evaluated
    by pandera's backend, without the failure reports that cost most of validating a small frame
    (about 7 ms for a micro-batch of 1,000 events, whatever its size); False at the first failure,
    or for anything it does not evaluate: the caller then validates with pandera, which names each
    failing row and check."""
    if not _plain(schema):
        return False
    try:
        for name, column in schema.columns.items():
            if name not in frame.columns or (not column.nullable and frame[name].hasnans):
                return False
            if not all(_check_holds(check, frame, name) for check in column.checks):
                return False
        if not all(_check_holds(check, frame, None) for check in schema.checks):
            return False
        return not (schema.unique and frame.duplicated(subset=list(schema.unique)).any())
    except Exception:  # a check that raises is a failure pandera reports
        return False


def warm_up() -> None:
    """Import pandera's pandas backends (it does on the first validation): a parent about to fork
    worker processes does it once for all of them."""
    pa.DataFrameSchema({"x": pa.Column(int)}).validate(pd.DataFrame({"x": [1]}))


def duplicate_key_reason(entity: E.Entity) -> str:
    """The reason of a row whose key another row of the same file holds too (the one rule that looks
    beyond the row)."""
    return f"duplicate key ({', '.join(entity.key)}) within the file"


def _reason(row, entity: E.Entity, batch: date) -> str:
    check = str(row.check).replace("{batch}", str(batch))
    if check == "not_nullable":
        return f"{row.column}: required value missing"
    if check in ("multiple_fields_uniqueness", "field_uniqueness"):
        return duplicate_key_reason(entity)
    if row.schema_context == "DataFrameSchema":
        return check
    value = row.failure_case
    if isinstance(value, np.generic):  # numpy's repr is np.int64(5): name the value as written
        value = value.item()
    return f"{row.column}: {check} (got {value!r})"


def parse_columns(
    entity: E.Entity, cells: dict[str, pyarrow.Array], zone: str = "UTC"
) -> tuple[pyarrow.Table, dict[int, list[str]]]:
    """Columns of text cells (null = empty) as a typed table, and the reasons of the cells that do not
    parse, by position (those cells are NULL in the table). `zone`: the shop's time zone. A column
    already of its type (numbers posted as JSON numbers) is taken as it is."""
    arrays, reasons = {}, {}
    for c in entity.fields:
        if cells[c.name].type == arrow_type(c):  # a text column is taken as it is either way
            arrays[c.name] = cells[c.name]
            continue
        arrays[c.name], bad = parse(cells[c.name], c, zone)
        for pos in np.flatnonzero(bad):
            reasons.setdefault(int(pos), []).append(parse_failure(c, cells[c.name][pos].as_py()))
    return pyarrow.table(arrays), reasons


def parse_frame(
    entity: E.Entity, frame: pd.DataFrame, zone: str = "UTC"
) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """A frame of text cells (None = empty) as typed columns, and the reasons of the cells that do
    not parse, by row index (those cells are NULL in the result). `zone`: the shop's time zone."""
    cells = {
        c.name: pyarrow.array(frame[c.name], type=pyarrow.string(), from_pandas=True) for c in entity.fields
    }
    table, reasons = parse_columns(entity, cells, zone)
    typed = to_pandas(table)
    typed.index = frame.index
    typed.insert(0, "row_no", frame["row_no"])
    return typed, {frame.index[pos]: why for pos, why in reasons.items()}


def validate(raw: RawFile, batch: date) -> tuple[pd.DataFrame, list[BadRow]]:
    """Typed good rows (with `row_no`) and the bad rows with their reasons. Timestamps with a zone
    offset are converted to the shop's zone (`raw.zone`) before the batch-date rule."""
    entity = raw.entity
    frame = raw.frame
    if raw.typed:  # pyarrow's CSV reader parsed every value already
        typed, reasons = frame, {}
    else:
        typed, reasons = parse_frame(entity, frame, raw.zone)

    candidates = typed.drop(index=list(reasons)) if reasons else typed
    if candidates.empty:
        return candidates.reset_index(drop=True), _bad_rows(frame, entity, reasons)
    token = _BATCH.set(batch)
    try:
        rules = schema(entity, raw.has_nul)
        if not holds(rules, candidates):  # a clean file: nothing to name
            rules.validate(candidates, lazy=True, inplace=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        row_cases = cases[cases["index"].notna()]
        if len(row_cases) < len(cases):  # a failure not tied to rows: the file's shape is wrong
            first = cases[cases["index"].isna()].iloc[0]
            raise BatchError(f"{entity.file_name}: {first['column']}: {first['check']}") from exc
        for row in row_cases.itertuples(index=False):
            msg = _reason(row, entity, batch)
            bucket = reasons.setdefault(int(row.index), [])
            if msg not in bucket:
                bucket.append(msg)
    finally:
        _BATCH.reset(token)

    good = typed.drop(index=list(reasons)) if reasons else typed
    return good.reset_index(drop=True), _bad_rows(frame, entity, reasons)


def _jsonable(value):
    """A cell as JSON can hold it (quarantine keeps the record as jsonb)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)  # JSON has no infinity
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\\x00")  # jsonb cannot hold NUL either: keep it visible
    return value.item() if hasattr(value, "item") else value


def _bad_rows(frame: pd.DataFrame, entity: E.Entity, reasons: dict[int, list[str]]) -> list[BadRow]:
    return [
        BadRow(
            int(frame.at[idx, "row_no"]),
            {c: _jsonable(frame.at[idx, c]) for c in entity.columns},
            "; ".join(msgs),
        )
        for idx, msgs in sorted(reasons.items())
    ]
