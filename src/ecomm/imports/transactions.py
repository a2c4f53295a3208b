"""A transaction log as raw batches of the contract: customers, products, order lines, returns.

One row of the source is an order line (or a whole order: then it is a one-line order). Lines are
grouped into orders by the source's order id, or else by customer and timestamp. A negative amount
or quantity, or a refund status, is a return: it marks the latest earlier line of the same customer
and product returned; a return with no such line is written as it is and the loader quarantines it.
What the source lacks stays NULL (unknown); what is derived is listed in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from ecomm.imports.blocks import (
    Codes,
    FirstRefusal,
    FirstSeen,
    Outranked,
    categorical,
    first_appearance_codes,
    numbered_codes,
    settle_date_format,
    with_empty_as,
)
from ecomm.imports.source import ImportRefused, Log, as_log
from ecomm.imports.values import parse_dates, parse_numbers, to_cents

_RETURN_WORDS = r"(?i)refund|return|^(?:true|t|1|yes|y)$"
_CANCEL_WORDS = r"(?i)cancel"


@dataclass
class Derived:
    """What the import derived from the source, for its report."""

    rows_read: int = 0
    duplicates: int = 0
    purchase_lines: int = 0
    returns: int = 0
    returns_unmatched: int = 0
    customers: int = 0
    products: int = 0
    orders: int = 0
    events: int = 0  # interaction logs: web events, or ratings
    ratings: int = 0
    rounding_discounts: int = 0  # lines whose amount is not quantity x a whole-cent price
    first_day: date | None = None
    last_day: date | None = None
    notes: list[str] = field(default_factory=list)


def numbered_ids(keys: pd.Series, what: str, derived: Derived, ts: pd.Series) -> pd.Series:
    """The source's ids when they are positive integers, else 1..n over the distinct keys."""
    as_int = pd.to_numeric(keys, errors="coerce")
    if as_int.notna().all() and (as_int > 0).all() and (as_int < 2**63).all() and (as_int % 1 == 0).all():
        return as_int.astype("int64")
    ids = first_appearance_ids(keys, ts)
    derived.notes.append(f"{what} ids numbered 1..{ids.max()} from the source's distinct {what} keys")
    return ids


def first_appearance_ids(keys: pd.Series, ts: pd.Series) -> pd.Series:
    """1..n over the distinct keys in the order they first appear in time (ties: by key). A log
    continued by later rows (the import inbox) keeps every earlier key's id."""
    first = pd.DataFrame({"key": keys.to_numpy(), "ts": ts.to_numpy()}).groupby("key")["ts"].min()
    order = first.reset_index().sort_values(["ts", "key"], kind="stable")["key"]
    numbers = pd.Series(np.arange(1, len(order) + 1, dtype="int64"), index=order.to_numpy())
    return pd.Series(numbers.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype="int64")


# the checks of a line, in the order a refusal reports them
CUSTOMER, DATE, FUTURE, AMOUNT, QUANTITY, WHOLE, PRICE, CURRENCY = range(8)
TEXT_FIELDS = ("customer_id", "product_id", "product_name", "order_id", "country", "category")


@dataclass
class Reading:
    """What the blocks leave behind: each kept line's typed values and its text as codes."""

    mapping: dict[str, str]
    date_format: str | ImportRefused
    today: date
    seen: FirstSeen = field(default_factory=FirstSeen)
    refusal: FirstRefusal = field(default_factory=FirstRefusal)
    codes: dict[str, Codes] = field(default_factory=dict)
    parts: list[pd.DataFrame] = field(default_factory=list)
    future_rows: int = 0
    future_first: date | None = None
    currencies: set[str] = field(default_factory=set)


def frame(
    source: Log | pa.Table, mapping: dict[str, str], date_format: str | None, today: date
) -> tuple[pd.DataFrame, Derived]:
    """The mapped source as one typed row per line (duplicates dropped), or ImportRefused. Read
    block by block: what stays in memory is a few numbers per line and each distinct text once."""
    log = as_log(source, mapping)
    reading = Reading(mapping, settle_date_format(log, "date", date_format), today)
    reading.codes = {f: Codes() for f in TEXT_FIELDS if f in mapping}
    derived = Derived()
    for _, raw in log.blocks():
        derived.rows_read += len(raw)
        raw = raw[reading.seen.mask(raw)]
        if len(raw) and (part := typed_block(raw, reading)) is not None:
            reading.parts.append(part)
    refuse_if_any(reading)
    lines = pd.concat(reading.parts)
    reading.parts.clear()
    derived.duplicates = derived.rows_read - len(lines)
    if reading.currencies:
        derived.notes.append(f"amounts in {min(reading.currencies)}")
    return _lines(lines, reading, derived), derived


def typed_block(raw: pd.DataFrame, reading: Reading) -> pd.DataFrame | None:
    """The block's lines typed, or None when a check failed (kept in reading.refusal)."""
    mapping, refusal = reading.mapping, reading.refusal
    col = {f: raw[c] for f, c in mapping.items()}
    try:
        refusal.at(CUSTOMER)
        if col["customer_id"].isna().any():
            row = int(np.flatnonzero(col["customer_id"].isna().to_numpy())[0])
            raise ImportRefused(
                f"{mapping['customer_id']}: row {col['customer_id'].index[row] + 1}: customer is empty"
            )
        ts = dated(col["date"], reading)
        if ts is None:
            return None
        refusal.at(AMOUNT)
        amount = to_cents(parse_numbers(col["amount"], mapping["amount"], required=True))
        refusal.at(QUANTITY)
        quantity = (
            parse_numbers(col["quantity"], mapping["quantity"], required=True)
            if "quantity" in col
            else pd.Series(1.0, index=raw.index)
        )
        refusal.at(WHOLE)
        if (quantity % 1 != 0).any():
            row = int(np.flatnonzero((quantity % 1 != 0).to_numpy())[0])
            raise ImportRefused(
                f"{mapping['quantity']}: row {quantity.index[row] + 1}: {quantity.iloc[row]} is not a whole number"
            )
        refusal.at(PRICE)
        lines = pd.DataFrame({"ts": ts}, index=raw.index)
        if "unit_price" in col:
            prices = parse_numbers(col["unit_price"], mapping["unit_price"], required=False).abs()
            lines["unit_price"] = np.where(prices.isna(), -1, to_cents(prices.fillna(0)))  # -1: not given
    except Outranked:
        return None
    except ImportRefused as exc:
        refusal.fail(exc)
        return None
    if "currency" in col:
        reading.currencies.update(col["currency"].dropna().unique())
    status = col.get("status", pd.Series(None, index=raw.index, dtype=object)).fillna("")
    lines["is_return"] = (
        (amount < 0) | (quantity.to_numpy() < 0) | status.str.contains(_RETURN_WORDS).to_numpy()
    )
    lines["cancelled"] = status.str.contains(_CANCEL_WORDS).to_numpy()
    lines["amount"] = np.abs(amount)
    lines["quantity"] = np.abs(quantity.to_numpy()).astype("int64")
    for f, codes in reading.codes.items():
        lines[f] = codes.of(col[f])
    return lines


def dated(dates: pd.Series, reading: Reading) -> pd.Series | None:
    """A block's dates (the DATE check: ImportRefused or Outranked), or None when some are after
    today: those are counted over every block and reported once they are all read."""
    reading.refusal.at(DATE)
    if isinstance(reading.date_format, ImportRefused):
        raise reading.date_format
    ts = parse_dates(dates, reading.mapping["date"], reading.date_format)
    future = (ts.dt.date > reading.today).to_numpy()
    if future.any():
        first = ts[future].min().date()
        reading.future_rows += int(future.sum())
        reading.future_first = min(first, reading.future_first or first)
        reading.refusal.fail(None, FUTURE)
        return None
    return ts


def refuse_if_any(reading: Reading) -> None:
    mapping, refusal = reading.mapping, reading.refusal
    if len(reading.currencies) > 1:
        refusal.fail(
            ImportRefused(
                f"{mapping['currency']}: mixed currencies ({', '.join(sorted(reading.currencies)[:5])}): "
                "import one currency at a time"
            ),
            CURRENCY,
        )
    if refusal.rank == FUTURE:
        raise ImportRefused(
            f"{mapping['date']}: {reading.future_rows} row(s) dated after today {reading.today} "
            f"(first {reading.future_first})"
        )
    if refusal.error is not None:
        raise refusal.error


def _lines(lines: pd.DataFrame, reading: Reading, derived: Derived) -> pd.DataFrame:
    """The coded lines with ids, order ids, line numbers and the text attributes as Categoricals."""
    codes = reading.codes
    lines["status"] = pd.Categorical.from_codes(
        lines.pop("cancelled").to_numpy().astype(np.int8), ["completed", "cancelled"]
    )
    ids, given = numbered_codes(codes["customer_id"].values(), lines["customer_id"].to_numpy(), lines["ts"])
    lines["customer_id"] = ids
    if not given:
        derived.notes.append(f"customer ids numbered 1..{ids.max()} from the source's distinct customer keys")
    for f in ("country", "category"):
        lines[f] = categorical(lines[f].to_numpy(), codes[f].values()) if f in codes else None
    _products(lines, codes, derived)
    _orders(lines, codes, derived)
    return lines


def _product_names(
    names: np.ndarray, name_codes: Codes, keys: np.ndarray, key_codes: Codes
) -> pd.Categorical:
    """The product name of each line, else its product key (the source's name for it)."""
    texts = Codes()
    from_names = texts.of(pd.Series(name_codes.values(), dtype=object))
    from_keys = texts.of(pd.Series(key_codes.values(), dtype=object))
    both = np.where(names >= 0, np.append(from_names, -1)[names], np.append(from_keys, -1)[keys])
    return categorical(both.astype(np.int32), texts.values())


def _products(lines: pd.DataFrame, codes: dict[str, Codes], derived: Derived) -> None:
    if "product_id" in codes:
        keys = lines["product_id"].to_numpy()
        names = lines["product_name"].to_numpy() if "product_name" in codes else np.full(len(lines), -1)
        lines["product_name"] = _product_names(
            names, codes.get("product_name", Codes()), keys, codes["product_id"]
        )
        table = codes["product_id"]
        keys = with_empty_as(keys, table)  # (before table.values(): it may add the empty key)
        ids, given = numbered_codes(table.values(), keys, lines["ts"])
        lines["product_id"] = ids
        if not given:
            derived.notes.append(
                f"product ids numbered 1..{ids.max()} from the source's distinct product keys"
            )
    elif "product_name" in codes:
        table, names = codes["product_name"], lines["product_name"].to_numpy()
        lines["product_name"] = categorical(names, table.values())
        keys = with_empty_as(names, table)
        lines["product_id"] = first_appearance_codes(table.values(), keys, lines["ts"])
        derived.notes.append(f"one product per distinct name: {lines['product_id'].max()}")
    else:
        lines["product_id"], lines["product_name"] = 1, "unknown"
        derived.notes.append("no product column: every line is of one product named 'unknown'")


def _orders(lines: pd.DataFrame, codes: dict[str, Codes], derived: Derived) -> None:
    """Order ids and line numbers of the purchase lines (returns refer to purchases)."""
    if "order_id" in codes:
        table = codes["order_id"]
        keys = with_empty_as(lines["order_id"].to_numpy(), table)
        lines["order_id"] = first_appearance_codes(table.values(), keys, lines["ts"])
    else:  # order ids follow time
        grouped = pd.DataFrame({"ts": lines["ts"], "customer": lines["customer_id"]}).groupby(
            ["ts", "customer"], sort=True
        )
        lines["order_id"] = grouped.ngroup() + 1
        derived.notes.append("orders grouped from lines by customer and timestamp")
    lines["order_ts"] = lines.groupby("order_id")["ts"].transform("min")
    lines["line_no"] = lines.groupby("order_id").cumcount() + 1


RETURN_COLUMNS = ["order_id", "line_no", "return_date", "reason"]


def _match_returns(lines: pd.DataFrame) -> pd.DataFrame:
    """Returns rows: each return marks the latest earlier unreturned line of its customer and product."""
    is_return = lines["is_return"].to_numpy()
    if not is_return.any():
        return pd.DataFrame([], columns=RETURN_COLUMNS)
    returns = lines.loc[is_return, ["ts", "customer_id", "product_id"]].sort_values("ts", kind="stable")
    matcher = ReturnMatcher(pd.MultiIndex.from_frame(returns[["customer_id", "product_id"]]))
    matcher.add_purchases(
        lines.loc[~is_return, ["customer_id", "product_id", "order_ts", "order_id", "line_no"]]
    )
    return matcher.match(returns)


class ReturnMatcher:
    """Returns matched in time order, fed window by window (the whole log, or month by month): a
    window's purchases, then its returns sorted by time. Only the purchases of a (customer, product)
    that has a return are kept: a Python loop over those, not over every line of a long log."""

    def __init__(self, returned: pd.MultiIndex) -> None:
        self.returned = returned  # the (customer_id, product_id) pairs with a return
        self.open_lines: dict[tuple, list[tuple]] = {}
        self.seen = 0  # returns so far: a return of nothing refers to order -n (n: its place in time)

    def add_purchases(self, buys: pd.DataFrame) -> None:
        """Purchases (customer_id, product_id, order_ts, order_id, line_no) later than any added."""
        buys = buys[pd.MultiIndex.from_frame(buys[["customer_id", "product_id"]]).isin(self.returned)]
        for r in buys.sort_values("order_ts", kind="stable").itertuples():
            self.open_lines.setdefault((r.customer_id, r.product_id), []).append(
                (r.order_ts.date(), r.order_id, r.line_no)
            )

    def match(self, returns: pd.DataFrame) -> pd.DataFrame:
        """The returns rows of returns (ts, customer_id, product_id) in time order."""
        rows = []
        for r in returns.itertuples():
            self.seen += 1
            day = r.ts.date()
            candidates = self.open_lines.get((r.customer_id, r.product_id), [])
            at = next((i for i in range(len(candidates) - 1, -1, -1) if candidates[i][0] < day), None)
            if at is None:  # nothing to return: a reference to no line, which the loader quarantines
                rows.append(
                    (-self.seen, 1, day, "return with no earlier purchase of the customer and product")
                )
                continue
            _, order_id, line_no = candidates.pop(at)
            rows.append((order_id, line_no, day, "negative amount or refund in the source"))
        return pd.DataFrame(rows, columns=RETURN_COLUMNS)


_PURCHASE_COLUMNS = (
    "order_id", "line_no", "order_ts", "customer_id", "product_id", "quantity", "amount", "status", "unit_price"
)  # fmt: skip


def _purchases(lines: pd.DataFrame) -> pd.DataFrame:
    """The purchase lines with what an order line is written from: one copy of a part of the lines."""
    keep = ~lines["is_return"].to_numpy()
    columns = [c for c in _PURCHASE_COLUMNS if c in lines]
    return pd.DataFrame({c: lines[c].array[keep] for c in columns}, index=lines.index[keep])


def prices(buys: pd.DataFrame, derived: Derived) -> pd.DataFrame:
    """unit_price and discount with revenue = the source's amount to the cent: the source's unit price
    when it covers the amount (the rest is a discount), else the amount over the quantity rounded up
    to a cent, the rounding kept as a discount of less than a cent per unit."""
    q = buys["quantity"].clip(lower=1).to_numpy()
    amount = buys["amount"].to_numpy()
    rounded_up = -(-amount // q)
    price = rounded_up
    if "unit_price" in buys:
        given = buys["unit_price"].to_numpy()
        price = np.where((given >= 0) & (given * q >= amount), given, rounded_up)
    buys["unit_price"], buys["discount"] = price, price * buys["quantity"].to_numpy() - amount
    derived.rounding_discounts = int(
        ((buys["discount"] > 0) & (price == rounded_up) & (amount % q != 0)).sum()
    )
    return buys


def most_frequent(lines: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Per key, the most frequent non-null value of `column` (ties: the smallest, as Series.mode).
    Counted over the codes of sorted categories: a smaller code is a smaller value."""
    values = lines[column]
    values = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    coded = pd.DataFrame({key: lines[key].to_numpy(), "code": values.cat.codes.to_numpy()})
    counts = coded[coded["code"] >= 0].groupby([key, "code"]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", "code"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates(key)
    return pd.Series(values.cat.categories[first["code"].to_numpy()], index=first[key].to_numpy())


def tables(lines: pd.DataFrame, derived: Derived) -> dict[str, pd.DataFrame]:
    """Frames of the contract's entities, each with the business date (`day`) of its batch."""
    returns = _match_returns(lines)
    buys = prices(_purchases(lines), derived)
    first_seen = lines.groupby("customer_id")["ts"].min().dt.normalize()
    customers = pd.DataFrame({"customer_id": first_seen.index, "signup_date": first_seen.to_numpy()})
    customers["country"] = customers["customer_id"].map(most_frequent(lines, "customer_id", "country"))
    product_first = lines.groupby("product_id").agg(
        launch_date=("ts", "min"), product_name=("product_name", "first")
    )
    product_first["category"] = most_frequent(lines, "product_id", "category")
    products = product_first.reset_index()
    products["launch_date"] = products["launch_date"].dt.normalize()
    derived.purchase_lines, derived.returns = len(buys), len(returns)
    derived.returns_unmatched = int((returns["order_id"] < 0).sum())
    derived.customers, derived.products, derived.orders = (
        len(customers),
        len(products),
        buys["order_id"].nunique(),
    )
    derived.first_day, derived.last_day = lines["ts"].min().date(), lines["ts"].max().date()
    buys["day"] = buys["order_ts"].dt.date
    return {
        "customers": customers.assign(day=customers["signup_date"].dt.date),
        "products": products.assign(day=products["launch_date"].dt.date),
        "order_items": buys,
        "returns": returns.assign(day=returns["return_date"]),
    }
