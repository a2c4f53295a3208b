"""Validation of one raw file: parse each column to its type, then the entity's rules (pandera).

Rows that fail go to quarantine with a reason naming the field and the value; referential checks
against the warehouse are SQL, in `merge.py`, because they need the warehouse.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ecomm import entities as E
from ecomm.warehouse.columns import BOOL_COLUMNS, DATE_COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, TS_COLUMNS
from ecomm.warehouse.raw import BadRow, BatchError, RawFile

EARLIEST_DATE = pd.Timestamp("2000-01-01")  # start of the warehouse calendar

NULLABLE = {
    "customers": {"gender"},
    "campaigns": {"target_countries"},
    "order_items": {"campaign_id", "delivery_days"},
    "web_events": {"product_id"},
}
_TRUE, _FALSE = {"true", "t", "1", "yes"}, {"false", "f", "0", "no"}


def _parse_column(name: str, raw: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    """Typed values, a mask of unparseable non-empty cells, and what the type is called."""
    present = raw.notna()
    if name in INT_COLUMNS:
        num = pd.to_numeric(raw, errors="coerce")
        bad = present & (num.isna() | (num % 1 != 0))
        return num.where(~bad).astype("Int64"), bad, "an integer"
    if name in FLOAT_COLUMNS:
        num = pd.to_numeric(raw, errors="coerce")
        return num.astype("float64"), present & num.isna(), "a number"
    if name in DATE_COLUMNS:
        parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
        return parsed, present & parsed.isna(), "a date (YYYY-MM-DD)"
    if name in TS_COLUMNS:
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        return parsed, present & parsed.isna(), "a timestamp (YYYY-MM-DD HH:MM:SS)"
    if name in BOOL_COLUMNS:
        low = raw.str.strip().str.lower()
        parsed = low.map(lambda v: True if v in _TRUE else (False if v in _FALSE else None))
        return parsed.astype("boolean"), present & parsed.isna(), "true or false"
    return raw, pd.Series(False, index=raw.index), "text"


def _not_after(batch: date, what: str) -> pa.Check:
    limit = pd.Timestamp(batch) + pd.Timedelta(days=1)
    return pa.Check(
        lambda s: (s >= EARLIEST_DATE) & (s < limit),
        error=f"{what} must be between 2000-01-01 and the batch date {batch}",
    )


def _on_batch_date(batch: date, what: str) -> pa.Check:
    day = pd.Timestamp(batch)
    return pa.Check(lambda s: s.dt.normalize() == day, error=f"{what} must fall on the batch date {batch}")


def _positive(what: str) -> pa.Check:
    return pa.Check.gt(0, error=f"{what} must be > 0")


def _non_negative(what: str) -> pa.Check:
    return pa.Check.ge(0, error=f"{what} must be >= 0")


def _one_of(values) -> pa.Check:
    return pa.Check.isin(list(values), error=f"must be one of {', '.join(values)}")


def _rules(entity: E.Entity, batch: date) -> tuple[dict[str, list[pa.Check]], list[pa.Check]]:
    """Column checks and row checks of an entity, for a batch date."""
    name = entity.name
    if name == "customers":
        return {
            "customer_id": [_positive("customer_id")],
            "email": [pa.Check.str_matches(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", error="not an email address")],
            "age": [
                pa.Check.in_range(
                    *E.CUSTOMER_AGES,
                    error=f"age must be between {E.CUSTOMER_AGES[0]} and {E.CUSTOMER_AGES[1]}",
                )
            ],
            "acquisition_channel": [_one_of(E.ACQUISITION_CHANNELS)],
            "signup_date": [_not_after(batch, "signup_date")],
        }, []
    if name == "products":
        return {
            "product_id": [_positive("product_id")],
            "list_price": [_positive("list_price")],
            "unit_cost": [_non_negative("unit_cost")],
            "launch_date": [_not_after(batch, "launch_date")],
        }, [pa.Check(lambda d: d["unit_cost"] <= d["list_price"], error="unit_cost exceeds list_price")]
    if name == "campaigns":
        return {
            "campaign_id": [_positive("campaign_id")],
            "campaign_type": [_one_of(E.CAMPAIGN_TYPES)],
            "discount_pct": [pa.Check.in_range(0, 100, error="discount_pct must be between 0 and 100")],
            "start_date": [_not_after(batch + timedelta(days=366), "start_date")],
        }, [pa.Check(lambda d: d["end_date"] >= d["start_date"], error="end_date before start_date")]
    if name == "campaign_exposure":
        return {"exposure_date": [_on_batch_date(batch, "exposure_date")]}, []
    if name == "order_items":
        return {
            "order_id": [_positive("order_id")],
            "line_no": [_positive("line_no")],
            "order_ts": [_on_batch_date(batch, "order_ts")],
            "quantity": [_positive("quantity")],
            "unit_price": [_non_negative("unit_price")],
            "discount": [_non_negative("discount")],
            "unit_cost": [_non_negative("unit_cost")],
            "status": [_one_of(E.ORDER_STATUSES)],
            "delivery_days": [_non_negative("delivery_days")],
        }, [
            pa.Check(
                lambda d: (d["revenue"] - (d["quantity"] * d["unit_price"] - d["discount"])).abs() < 0.005,
                error="revenue != quantity * unit_price - discount",
            ),
            pa.Check(
                lambda d: d["discount"] <= d["quantity"] * d["unit_price"] + 0.005,
                error="discount exceeds quantity * unit_price",
            ),
        ]
    if name == "returns":
        return {"line_no": [_positive("line_no")], "return_date": [_on_batch_date(batch, "return_date")]}, []
    if name == "web_events":
        return {
            "event_id": [_positive("event_id")],
            "event_type": [_one_of(E.EVENT_TYPES)],
            "event_ts": [_on_batch_date(batch, "event_ts")],
        }, []
    if name == "reviews":
        return {
            "review_id": [_positive("review_id")],
            "rating": [pa.Check.in_range(1, 5, error="rating must be between 1 and 5")],
            "review_date": [_on_batch_date(batch, "review_date")],
        }, []
    raise KeyError(name)


def _schema(entity: E.Entity, batch: date) -> pa.DataFrameSchema:
    column_checks, row_checks = _rules(entity, batch)
    nullable = NULLABLE.get(entity.name, set())
    columns = {
        col: pa.Column(checks=column_checks.get(col, []), nullable=col in nullable, coerce=False)
        for col in entity.columns
    }
    return pa.DataFrameSchema(columns, checks=row_checks, unique=list(entity.key), report_duplicates="all")


def _reason(row, entity: E.Entity) -> str:
    check = str(row.check)
    if check == "not_nullable":
        return f"{row.column}: required value missing"
    if check in ("multiple_fields_uniqueness", "field_uniqueness"):
        return f"duplicate key ({', '.join(entity.key)}) within the file"
    if row.schema_context == "DataFrameSchema":
        return check
    return f"{row.column}: {check} (got {row.failure_case!r})"


def validate(raw: RawFile, batch: date) -> tuple[pd.DataFrame, list[BadRow]]:
    """Typed good rows (with `row_no`) and the bad rows with their reasons."""
    entity = raw.entity
    frame = raw.frame
    reasons: dict[int, list[str]] = {}
    if raw.typed:  # pyarrow parsed every value already
        typed = frame
    else:
        typed = pd.DataFrame({"row_no": frame["row_no"]})
        for col in entity.columns:
            values, bad, type_name = _parse_column(col, frame[col])
            typed[col] = values
            for idx in bad[bad].index:
                reasons.setdefault(idx, []).append(f"{col}: {frame.at[idx, col]!r} is not {type_name}")

    candidates = typed.drop(index=list(reasons)) if reasons else typed
    if candidates.empty:
        return candidates.reset_index(drop=True), _bad_rows(frame, entity, reasons)
    try:
        _schema(entity, batch).validate(candidates, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        row_cases = cases[cases["index"].notna()]
        if len(row_cases) < len(cases):  # a failure not tied to rows: the file's shape is wrong
            first = cases[cases["index"].isna()].iloc[0]
            raise BatchError(f"{entity.file_name}: {first['column']}: {first['check']}") from exc
        for row in row_cases.itertuples(index=False):
            msg = _reason(row, entity)
            bucket = reasons.setdefault(int(row.index), [])
            if msg not in bucket:
                bucket.append(msg)

    good = typed.drop(index=list(reasons)) if reasons else typed
    return good.reset_index(drop=True), _bad_rows(frame, entity, reasons)


def _jsonable(value):
    """A cell as JSON can hold it (quarantine keeps the record as jsonb)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
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
