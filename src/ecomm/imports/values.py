"""The column mapping, and the source's dates and numbers parsed or refused with the cell named.

A date column is read with the one format that parses every value. When none does (two formats
mixed) or several do (01/02/2020: day or month first?) the import is refused, naming the values,
unless `--date-format` says which. Amounts are plain decimals: a thousands separator or a currency
sign is refused rather than guessed at. "row N" in a refusal is the N-th data row of the source
(the line after the header is row 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ecomm.imports.source import ImportRefused

REQUIRED = ("customer_id", "date", "amount")
OPTIONAL = (
    "quantity",
    "unit_price",
    "product_id",
    "product_name",
    "category",
    "order_id",
    "country",
    "status",  # a status or refund flag: refund/returned/true -> a return, cancel... -> cancelled
    "currency",
)
ALIASES = {"timestamp": "date"}

_DAYS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y")
_TIMES = ("", " %H:%M", " %H:%M:%S", "T%H:%M:%S", "T%H:%M", " %H:%M:%S.%f", "T%H:%M:%S.%f")
DATE_FORMATS = tuple(d + t for d in _DAYS for t in _TIMES)
UNIX = "unix"  # --date-format unix: whole seconds since 1970-01-01 UTC
UNIX_SECONDS = re.compile(r"^\d{9,10}$")
FORMAT_SAMPLE = 2000  # distinct values tried against every format before the survivors see them all
_CURRENCY = re.compile(r"[$€£¥₹]|^[A-Z]{3}\s|\s[A-Z]{3}$")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}([,.' ]\d{3})+([.,]\d+)?$")


# ---------------------------------------------------------------------------------- the mapping
def parse_mapping(
    spec: str, required: tuple[str, ...] = REQUIRED, optional: tuple[str, ...] = OPTIONAL
) -> dict[str, str]:
    """`customer_id=Cust,date=Date,amount=Sales` or a YAML file of the same pairs -> field: column."""
    path = Path(spec)
    if spec.endswith((".yml", ".yaml")):
        if not path.is_file():
            raise ImportRefused(f"--map: {spec}: no such file")
        pairs = yaml.safe_load(path.read_text()) or {}
        if not isinstance(pairs, dict):
            raise ImportRefused(f"--map: {spec}: expected lines of 'field: column'")
        pairs = {str(k): str(v) for k, v in pairs.items()}
    else:
        pairs = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            field, sep, column = part.partition("=")
            if not sep or not column.strip():
                raise ImportRefused(f"--map: {part!r} is not field=column")
            pairs[field.strip()] = column.strip()
    mapping = {ALIASES.get(k, k): v for k, v in pairs.items()}
    unknown = sorted(set(mapping) - set(required) - set(optional))
    if unknown:
        raise ImportRefused(
            f"--map: unknown field {', '.join(unknown)} (fields: {', '.join(required + optional)})"
        )
    missing = [f for f in required if f not in mapping]
    if missing:
        raise ImportRefused(f"--map: {', '.join(missing)} must be mapped (e.g. --map {missing[0]}=<column>)")
    return mapping


# ------------------------------------------------------------------------------------------ dates
def _is_unix(values: pd.Series) -> bool:
    return bool(values.dropna().str.match(UNIX_SECONDS).all()) and values.notna().any()


def parses_all(values: pd.Series, fmt: str) -> bool:
    return bool(pd.to_datetime(values, format=fmt, errors="coerce").notna().all())


def _format_of(value: str) -> str | None:
    return next((f for f in DATE_FORMATS if parses_all(pd.Series([value]), f)), None)


def choose_date_format(values: pd.Series, column: str) -> str:
    """The one format that parses every distinct value, or ImportRefused naming why there is not one."""
    distinct = pd.Series(values.dropna().unique())
    sample = distinct.iloc[np.linspace(0, len(distinct) - 1, min(FORMAT_SAMPLE, len(distinct))).astype(int)]
    fitting = [f for f in DATE_FORMATS if parses_all(sample, f)]
    fitting = [f for f in fitting if parses_all(distinct, f)]
    if len(fitting) == 1:
        return fitting[0]
    if len(fitting) > 1:
        one, other = (pd.to_datetime(distinct, format=f) for f in fitting[:2])
        example = distinct[one != other].iloc[0] if (one != other).any() else distinct.iloc[0]
        raise ImportRefused(
            f"{column}: ambiguous dates ({example!r} reads as {' or '.join(fitting[:2])}): "
            f"pass --date-format, e.g. --date-format '{fitting[0]}'"
        )
    counts = {f: int(pd.to_datetime(distinct, format=f, errors="coerce").notna().sum()) for f in DATE_FORMATS}
    best = max(counts, key=counts.get)
    odd = distinct[pd.to_datetime(distinct, format=best, errors="coerce").isna()].iloc[0]
    if counts[best] and (other := _format_of(odd)):
        first = distinct[pd.to_datetime(distinct, format=best, errors="coerce").notna()].iloc[0]
        raise ImportRefused(
            f"{column}: mixed date formats ({first!r} is {best}, {odd!r} is {other}): make them one "
            "format, or pass --date-format to read one and quarantine nothing silently"
        )
    raise ImportRefused(
        f"{column}: {odd!r} is not a date or timestamp this importer reads; pass --date-format"
    )


def parse_dates(values: pd.Series, column: str, date_format: str | None) -> pd.Series:
    """The column as datetime64 (no NaT: an empty or unreadable cell is refused, naming its row).
    Whole seconds since 1970 (9 or 10 digits, the usual interaction log) are read as UTC timestamps."""
    fmt = date_format or (UNIX if _is_unix(values) else choose_date_format(values, column))
    if fmt == UNIX:
        seconds = pd.to_numeric(values, errors="coerce")
        parsed = pd.to_datetime(seconds.where(seconds % 1 == 0), unit="s", errors="coerce")
    else:
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise ImportRefused(
            f"{column}: row {values.index[row] + 1}: {values.iloc[row]!r} is not a date in the format {fmt}"
        )
    return parsed


# ---------------------------------------------------------------------------------------- numbers
def _why_not_a_number(cell: str) -> str:
    if _CURRENCY.search(cell):
        return "has a currency sign (map the currency column instead and keep amounts plain)"
    if _THOUSANDS.match(cell.strip()):
        return "has a thousands separator (write plain decimals such as 1234.50)"
    return "is not a number"


def parse_numbers(values: pd.Series, column: str, *, required: bool) -> pd.Series:
    """A text column as float64 (NaN = empty cell where not required); refused at the first cell that
    is not a plain decimal number, named with its row."""
    numbers = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = numbers.isna() & (values.notna() | required)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        cell = values.iloc[row]
        why = "is empty" if cell is None or cell != cell else _why_not_a_number(cell)
        raise ImportRefused(f"{column}: row {values.index[row] + 1}: {cell!r} {why}")
    return numbers.astype("float64")


def to_cents(amounts: pd.Series) -> np.ndarray:
    return np.rint(amounts.to_numpy(dtype="float64") * 100).astype(np.int64)
