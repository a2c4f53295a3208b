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

from ecomm.imports.source import ImportRefused
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


def frame(
    source: pa.Table, mapping: dict[str, str], date_format: str | None, today: date
) -> tuple[pd.DataFrame, Derived]:
    """The mapped source as one typed row per line (duplicates dropped), or ImportRefused."""
    raw = source.to_pandas()
    derived = Derived(rows_read=len(raw))
    raw = raw.drop_duplicates()
    derived.duplicates = derived.rows_read - len(raw)
    col = {f: raw[c] for f, c in mapping.items()}
    lines = pd.DataFrame(index=raw.index)
    if col["customer_id"].isna().any():
        row = int(np.flatnonzero(col["customer_id"].isna().to_numpy())[0])
        raise ImportRefused(
            f"{mapping['customer_id']}: row {col['customer_id'].index[row] + 1}: customer is empty"
        )
    lines["ts"] = parse_dates(col["date"], mapping["date"], date_format)
    future = lines["ts"].dt.date > today
    if future.any():
        first = lines.loc[future, "ts"].min().date()
        raise ImportRefused(
            f"{mapping['date']}: {int(future.sum())} row(s) dated after today {today} (first {first})"
        )
    amount = to_cents(parse_numbers(col["amount"], mapping["amount"], required=True))
    quantity = (
        parse_numbers(col["quantity"], mapping["quantity"], required=True)
        if "quantity" in col
        else pd.Series(1.0, index=raw.index)
    )
    if (quantity % 1 != 0).any():
        row = int(np.flatnonzero((quantity % 1 != 0).to_numpy())[0])
        raise ImportRefused(
            f"{mapping['quantity']}: row {quantity.index[row] + 1}: {quantity.iloc[row]} is not a whole number"
        )
    status = col.get("status", pd.Series(None, index=raw.index, dtype=object)).fillna("")
    lines["is_return"] = (
        (amount < 0) | (quantity.to_numpy() < 0) | status.str.contains(_RETURN_WORDS).to_numpy()
    )
    lines["status"] = np.where(status.str.contains(_CANCEL_WORDS), "cancelled", "completed")
    lines["amount"] = np.abs(amount)
    lines["quantity"] = np.abs(quantity.to_numpy()).astype("int64")
    if "unit_price" in col:
        prices = parse_numbers(col["unit_price"], mapping["unit_price"], required=False).abs()
        lines["unit_price"] = np.where(prices.isna(), -1, to_cents(prices.fillna(0)))  # -1: not given
    currencies = sorted(col["currency"].dropna().unique()) if "currency" in col else []
    if len(currencies) > 1:
        raise ImportRefused(
            f"{mapping['currency']}: mixed currencies ({', '.join(currencies[:5])}): import one currency at a time"
        )
    if currencies:
        derived.notes.append(f"amounts in {currencies[0]}")
    lines["customer_id"] = numbered_ids(col["customer_id"], "customer", derived, lines["ts"])
    for f in ("country", "category", "product_name"):
        lines[f] = col.get(f)
    _products(lines, col, derived)
    _orders(lines, col, derived)
    return lines, derived


def _products(lines: pd.DataFrame, col: dict[str, pd.Series], derived: Derived) -> None:
    if "product_id" in col:
        lines["product_id"] = numbered_ids(col["product_id"].fillna(""), "product", derived, lines["ts"])
        lines["product_name"] = lines["product_name"].fillna(col["product_id"])
    elif "product_name" in col:
        lines["product_id"] = first_appearance_ids(col["product_name"].fillna(""), lines["ts"])
        derived.notes.append(f"one product per distinct name: {lines['product_id'].max()}")
    else:
        lines["product_id"], lines["product_name"] = 1, "unknown"
        derived.notes.append("no product column: every line is of one product named 'unknown'")


def _orders(lines: pd.DataFrame, col: dict[str, pd.Series], derived: Derived) -> None:
    """Order ids and line numbers of the purchase lines (returns refer to purchases)."""
    if "order_id" in col:
        lines["order_id"] = first_appearance_ids(col["order_id"].fillna(""), lines["ts"])
    else:  # order ids follow time
        grouped = pd.DataFrame({"ts": lines["ts"], "customer": lines["customer_id"]}).groupby(
            ["ts", "customer"], sort=True
        )
        lines["order_id"] = grouped.ngroup() + 1
        derived.notes.append("orders grouped from lines by customer and timestamp")
    lines["order_ts"] = lines.groupby("order_id")["ts"].transform("min")
    lines["line_no"] = lines.groupby("order_id").cumcount() + 1


def _match_returns(lines: pd.DataFrame) -> pd.DataFrame:
    """Returns rows: each return marks the latest earlier unreturned line of its customer and product."""
    returns = lines[lines["is_return"]].sort_values("ts", kind="stable")
    returned = pd.MultiIndex.from_frame(returns[["customer_id", "product_id"]])
    buys = lines[~lines["is_return"]]
    # only the purchases of a (customer, product) that has a return can be returned: a Python loop
    # over those, not over every line of a million-line log
    buys = buys[pd.MultiIndex.from_frame(buys[["customer_id", "product_id"]]).isin(returned)]
    buys = buys.sort_values("order_ts", kind="stable")
    open_lines: dict[tuple, list[tuple]] = {}
    for r in buys.itertuples():
        open_lines.setdefault((r.customer_id, r.product_id), []).append(
            (r.order_ts.date(), r.order_id, r.line_no)
        )
    rows = []
    for n, r in enumerate(returns.itertuples(), start=1):
        day = r.ts.date()
        candidates = open_lines.get((r.customer_id, r.product_id), [])
        at = next((i for i in range(len(candidates) - 1, -1, -1) if candidates[i][0] < day), None)
        if at is None:  # nothing to return: a reference to no line, which the loader quarantines
            rows.append((-n, 1, day, "return with no earlier purchase of the customer and product"))
            continue
        _, order_id, line_no = candidates.pop(at)
        rows.append((order_id, line_no, day, "negative amount or refund in the source"))
    return pd.DataFrame(rows, columns=["order_id", "line_no", "return_date", "reason"])


def _prices(buys: pd.DataFrame, derived: Derived) -> pd.DataFrame:
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
    buys = buys.assign(unit_price=price, discount=price * buys["quantity"].to_numpy() - amount)
    derived.rounding_discounts = int(
        ((buys["discount"] > 0) & (price == rounded_up) & (amount % q != 0)).sum()
    )
    return buys


def most_frequent(lines: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Per key, the most frequent non-null value of `column` (ties: the smallest, as Series.mode)."""
    counts = lines.groupby([key, column]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", column], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates(key).set_index(key)[column]


def tables(lines: pd.DataFrame, derived: Derived) -> dict[str, pd.DataFrame]:
    """Frames of the contract's entities, each with the business date (`day`) of its batch."""
    returns = _match_returns(lines)
    buys = _prices(lines[~lines["is_return"]], derived)
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
    return {
        "customers": customers.assign(day=customers["signup_date"].dt.date),
        "products": products.assign(day=products["launch_date"].dt.date),
        "order_items": buys.assign(day=buys["order_ts"].dt.date),
        "returns": returns.assign(day=returns["return_date"]),
    }
