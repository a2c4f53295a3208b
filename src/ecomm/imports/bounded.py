"""A transaction log's daily batches in memory bounded by its keys and one month of rows, not by its
lines (issue 20: a 2 GB file), with the bytes reading it whole (`transactions.frame` + `tables`) gives.

1. read: the blocks checked and typed as `transactions.frame` types them (a refusal is raised before
   anything is written) and spilled to a temporary Arrow file; what stays in memory is per-key state:
   each key's text, first time and first row, country and category counts, the keyless orders'
   (time, customer) pairs, the (customer, product) pairs with a return, and the duplicate hashes
   (8 bytes a distinct line: 192 MB for 24 million lines);
2. place: the spilled lines given their ids, order ids and line numbers, and spilled again by the
   month of their batch day (a purchase: its order's first day; a return: its own day);
3. write: month by month in time order, returns matched against the purchases of pairs with a return,
   then each day's batch.
The temporary files are in a hidden folder beside the batches folder, removed whatever happens.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ecomm.datagen.writer import write_batch
from ecomm.imports.blocks import Codes, first_appearance_codes, numbered_codes, settle_date_format
from ecomm.imports.days import day_slices, order_items
from ecomm.imports.source import ImportRefused, Log
from ecomm.imports.transactions import (
    TEXT_FIELDS,
    Derived,
    Reading,
    ReturnMatcher,
    prices,
    refuse_if_any,
    typed_block,
)

_NONE = np.iinfo(np.int64).max  # no time or row yet


class FirstOfKey:
    """Per key (slot 0: the empty cell, slot n + 1: code n), its earliest time, its first row, and a
    value of that first row."""

    def __init__(self) -> None:
        self.ts = np.empty(0, dtype=np.int64)
        self.row = np.empty(0, dtype=np.int64)
        self.value = np.empty(0, dtype=np.int64)

    def add(
        self, codes: np.ndarray, ts: np.ndarray, rows: np.ndarray, values: np.ndarray | None = None
    ) -> None:
        if not len(codes):
            return
        slots = codes.astype(np.int64) + 1
        self._grow(int(slots.max()) + 1)
        earliest = pd.Series(ts).groupby(slots).min()
        at = earliest.index.to_numpy()
        self.ts[at] = np.minimum(self.ts[at], earliest.to_numpy())
        unique, first = np.unique(slots, return_index=True)  # blocks come in row order
        new = self.row[unique] == _NONE
        self.row[unique[new]] = rows[first[new]]
        if values is not None:
            self.value[unique[new]] = values[first[new]]

    def slots(self, n: int) -> FirstOfKey:
        """The same with exactly n slots."""
        self._grow(n)
        cut = FirstOfKey()
        cut.ts, cut.row, cut.value = self.ts[:n], self.row[:n], self.value[:n]
        return cut

    def _grow(self, n: int) -> None:
        if n > len(self.ts):
            extra = max(n, 2 * len(self.ts)) - len(self.ts)
            self.ts = np.append(self.ts, np.full(extra, _NONE))
            self.row = np.append(self.row, np.full(extra, _NONE))
            self.value = np.append(self.value, np.full(extra, -1))


class PairCounts:
    """How many lines of each (key slot, value code) there are; empty values are not counted."""

    def __init__(self) -> None:
        self.counts = pd.Series(dtype=np.int64)

    def add(self, codes: np.ndarray, values: np.ndarray) -> None:
        given = values >= 0
        pairs = ((codes[given].astype(np.int64) + 1) << 32) | values[given].astype(np.int64)
        unique, counts = np.unique(pairs, return_counts=True)
        self.counts = self.counts.add(pd.Series(counts, index=unique), fill_value=0).astype(np.int64)

    def most_frequent(self, slot_ids: np.ndarray, values: np.ndarray) -> pd.Series:
        """Per id, its most frequent value (ties: the smallest, as `transactions.most_frequent`)."""
        pairs = self.counts.index.to_numpy(dtype=np.int64)
        rank = np.empty(len(values), dtype=np.int64)
        rank[np.argsort(values, kind="stable")] = np.arange(len(values))
        coded = pd.DataFrame(
            {"id": slot_ids[pairs >> 32], "code": rank[pairs & 0xFFFFFFFF], "n": self.counts.to_numpy()}
        )
        counts = coded.groupby(["id", "code"])["n"].sum().reset_index()
        counts = counts.sort_values(["id", "n", "code"], ascending=[True, False, True], kind="stable")
        first = counts.drop_duplicates("id")
        return pd.Series(np.sort(values)[first["code"].to_numpy()], index=first["id"].to_numpy())


class DistinctRows:
    """The distinct rows of the blocks added (a frame's, or a 1-D array's values), in amortised time:
    each block is deduplicated alone and kept pending, and the pending rows are merged into the
    distinct ones (concatenated and deduplicated) only once they are as many as those, so a row is
    merged O(log n) times, not once per later block. Memory: at most twice the distinct rows."""

    def __init__(self, empty: pd.DataFrame | np.ndarray, merge_at: int = 1 << 16) -> None:
        self.distinct, self.pending, self.pending_rows = empty, [], 0
        self.merge_at = merge_at  # (fewer pending rows are never merged: small blocks, few concats)
        self.merges = 0

    def add(self, rows: pd.DataFrame | np.ndarray) -> None:
        rows = _unique(rows)
        self.pending.append(rows)
        self.pending_rows += len(rows)
        if self.pending_rows >= max(len(self.distinct), self.merge_at):
            self.rows()

    def rows(self) -> pd.DataFrame | np.ndarray:
        """Every distinct row added (an array's: sorted)."""
        if self.pending:
            if isinstance(self.distinct, pd.DataFrame):
                self.distinct = _unique(pd.concat([self.distinct, *self.pending], ignore_index=True))
            else:
                self.distinct = _unique(np.concatenate([self.distinct, *self.pending]))
            self.pending, self.pending_rows = [], 0
            self.merges += 1
        return self.distinct


def _unique(rows: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    if isinstance(rows, pd.DataFrame):
        return rows.drop_duplicates(ignore_index=True)
    return np.unique(rows)


class Spill:
    """Arrow files in a folder, one per part (a month, or "lines"), written batch by batch; a context
    manager that closes its writers however the block ends (a refusal included)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self.writers: dict[str, pa.ipc.RecordBatchFileWriter] = {}
        self.parts: set[str] = set()  # the parts written, open or closed

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, part: str, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)
        if part not in self.parts:
            self.writers[part] = pa.ipc.new_file(self.folder / f"{self.name}-{part}.arrow", batch.schema)
            self.parts.add(part)
        self.writers[part].write_batch(batch)

    def write_by_month(self, frame: pd.DataFrame, ts: pd.Series) -> None:
        months = ts.to_numpy().astype("datetime64[M]")
        for month in np.unique(months):
            self.write(str(month), frame[months == month])

    def close(self) -> None:
        """Closes every open writer (again: nothing)."""
        while self.writers:
            self.writers.popitem()[1].close()

    def batches(self, part: str) -> Iterator[pd.DataFrame]:
        path = self.folder / f"{self.name}-{part}.arrow"
        if part not in self.parts:
            return
        with pa.OSFile(str(path)) as f:
            reader = pa.ipc.open_file(f)
            for n in range(reader.num_record_batches):
                yield reader.get_batch(n).to_pandas()
        path.unlink()

    def read(self, part: str) -> pd.DataFrame | None:
        frames = list(self.batches(part))
        return pd.concat(frames, ignore_index=True) if frames else None


class Keys:
    """The per-key state of the read (step 1)."""

    def __init__(self, mapping: dict[str, str], files: int) -> None:
        self.mapping = mapping
        self.customers, self.products, self.orders = FirstOfKey(), FirstOfKey(), FirstOfKey()
        self.product_names = FirstOfKey()  # per product, its first line with a name (value: the name code)
        self.countries, self.categories = PairCounts(), PairCounts()
        # the keyless orders' distinct (time, customer code) pairs
        self.order_pairs = DistinctRows(
            pd.DataFrame({"ts": np.empty(0, np.int64), "customer": np.empty(0, np.int32)})
        )
        self.returned = DistinctRows(np.empty(0, dtype=np.int64))  # (customer slot << 32) | product slot
        self.spans: list[tuple[date, date] | None] = [None] * files  # first and last day of each file
        self.lines = 0

    def product_keys(self, part: pd.DataFrame) -> np.ndarray:
        """The key a line's product is told by: its product key, else its name, else one product."""
        if "product_id" in self.mapping:
            return part["product_id"].to_numpy()
        if "product_name" in self.mapping:
            return part["product_name"].to_numpy()
        return np.zeros(len(part), dtype=np.int32)

    def add(self, part: pd.DataFrame, file_no: int) -> None:
        ts, rows = part["ts"].to_numpy().view(np.int64), part.index.to_numpy()
        customers, products = part["customer_id"].to_numpy(), self.product_keys(part)
        self.lines += len(part)
        self.customers.add(customers, ts, rows)
        self.products.add(products, ts, rows)
        names = part["product_name"].to_numpy() if "product_name" in part else np.full(len(part), -1)
        named = (names >= 0) | (products >= 0)
        self.product_names.add(products[named], ts[named], rows[named], names[named])
        if "country" in part:
            self.countries.add(customers, part["country"].to_numpy())
        if "category" in part:
            self.categories.add(products, part["category"].to_numpy())
        if "order_id" in part:
            self.orders.add(part["order_id"].to_numpy(), ts, rows)
        else:
            self.order_pairs.add(pd.DataFrame({"ts": ts, "customer": customers}))
        is_return = part["is_return"].to_numpy()
        pairs = ((customers[is_return].astype(np.int64) + 1) << 32) | (
            products[is_return].astype(np.int64) + 1
        )
        self.returned.add(pairs)
        widen_span(self.spans, file_no, part["ts"])


def widen_span(spans: list[tuple[date, date] | None], file_no: int, ts: pd.Series) -> None:
    """The file's first and last day, widened to cover the times `ts` of its rows."""
    first, last = ts.min().date(), ts.max().date()
    span = spans[file_no]
    spans[file_no] = (first, last) if span is None else (min(span[0], first), max(span[1], last))


def _keep(part: pd.DataFrame, product_keys: np.ndarray) -> pd.DataFrame:
    """What step 2 needs of a typed line (its text attributes are in the per-key state)."""
    text = [c for c in ("product_id", "product_name", "country", "category") if c in part]
    return part.drop(columns=text).reset_index(drop=True).assign(product_key=product_keys)


def read(log: Log, mapping: dict[str, str], date_format: str | None, today: date, spill: Spill) -> tuple:
    """Step 1: (reading, keys, derived), or ImportRefused; the typed lines spilled as "lines"."""
    reading = Reading(mapping, settle_date_format(log, "date", date_format), today)
    reading.codes = {f: Codes() for f in TEXT_FIELDS if f in mapping}
    keys, derived = Keys(mapping, max(len(log.paths), 1)), Derived()
    for file_no, raw in log.blocks():
        derived.rows_read += len(raw)
        raw = raw[reading.seen.mask(raw)]
        if len(raw) and (part := typed_block(raw, reading)) is not None and reading.refusal.rank == 1 << 30:
            keys.add(part, file_no)  # (after a failure only the refusal matters)
            spill.write("lines", _keep(part, keys.product_keys(part)))
    refuse_if_any(reading)
    spill.close()
    derived.duplicates = derived.rows_read - keys.lines
    if reading.currencies:
        derived.notes.append(f"amounts in {min(reading.currencies)}")
    return reading, keys, derived


def require_continuation(paths: list[Path], spans: list[tuple[date, date] | None]) -> None:
    """Each file after the first starts on a later day than every earlier file ends (spans: each
    file's first and last day, None: no line kept): ids are numbered in order of first appearance, so
    rows that only continue the log leave every loaded row as it was (its batches are identical and
    load nothing)."""
    for n in range(1, len(paths)):
        earlier = [s[1] for s in spans[:n] if s is not None]
        if spans[n] is not None and earlier and spans[n][0] <= max(earlier):
            raise ImportRefused(
                f"{paths[n].name}: starts on {spans[n][0]}, not after the log so far (which ends "
                f"{max(earlier)}): a file added to a log must continue it"
            )


def numbered_slots(table: Codes, first: FirstOfKey, number: Callable) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per slot, the key's id and earliest time; and whether the ids are the source's. The empty cell
    is the key "" (as `blocks.with_empty_as`), numbered with the others: it is added to `table` when
    an empty cell was seen and "" is not a key yet."""
    n = len(table.number)
    first = first.slots(n + 1)
    code_ts = first.ts[1:].copy()
    empty = None
    if first.ts[0] != _NONE:
        empty = table.number.setdefault("", n)
        code_ts = np.append(code_ts, _NONE) if empty == n else code_ts
        code_ts[empty] = min(code_ts[empty], first.ts[0])
    values = table.values()
    ids, given = number(values, np.arange(len(values)), pd.Series(code_ts.view("datetime64[ns]")))
    ids = np.asarray(ids, dtype=np.int64)
    slot_ids = np.append(ids[empty] if empty is not None else 0, ids[:n])
    slot_ts = np.append(code_ts[empty] if empty is not None else _NONE, code_ts[:n])
    return slot_ids, slot_ts, given


def _in_appearance_order(values: np.ndarray, codes: np.ndarray, ts: pd.Series) -> tuple[np.ndarray, bool]:
    return first_appearance_codes(values, codes, ts), False


class Ids:
    """What step 1's per-key state settles: every key's id, and the customers and products."""

    def __init__(self, reading: Reading, keys: Keys, derived: Derived) -> None:
        codes, notes = reading.codes, derived.notes
        self.customer, customer_ts, given = numbered_slots(
            codes["customer_id"], keys.customers, numbered_codes
        )
        if not given:
            notes.append(
                f"customer ids numbered 1..{self.customer[1:].max()} from the source's distinct customer keys"
            )
        self.product, product_ts, texts = self._products(codes, keys, notes)
        self.customers = self._customers(customer_ts, keys, codes)
        self.products = self._products_frame(product_ts, texts, keys, codes)
        self.keyless = "order_id" not in codes
        if self.keyless:
            pairs = keys.order_pairs.rows()
            orders = pd.DataFrame(
                {"ts": pairs["ts"].to_numpy(), "customer": self.customer[pairs["customer"].to_numpy() + 1]}
            )
            orders = orders.drop_duplicates().sort_values(["ts", "customer"], kind="stable")
            self.order_pairs = pd.MultiIndex.from_frame(orders)
            notes.append("orders grouped from lines by customer and timestamp")
        else:
            self.order, self.order_ts, _ = numbered_slots(
                codes["order_id"], keys.orders, _in_appearance_order
            )
        returned = keys.returned.rows()
        self.returned = pd.MultiIndex.from_arrays(
            [self.customer[returned >> 32], self.product[returned & 0xFFFFFFFF]],
            names=["customer_id", "product_id"],
        )

    def _products(self, codes: dict[str, Codes], keys: Keys, notes: list[str]) -> tuple:
        """Per product slot: its id, earliest time and name."""
        names = codes.get("product_name", Codes()).values()
        first_named = keys.product_names
        if "product_id" in codes:
            key_values = codes["product_id"].values()  # (before the empty key may be added)
            ids, ts, given = numbered_slots(codes["product_id"], keys.products, numbered_codes)
            if not given:
                notes.append(
                    f"product ids numbered 1..{ids[ts != _NONE].max()} from the source's distinct product keys"
                )
            first_named = first_named.slots(len(ids))
            texts = np.where(
                first_named.value >= 0,
                np.append(names, None)[first_named.value],
                np.append(None, key_values)[np.arange(len(ids))],
            )
        elif "product_name" in codes:
            ids, ts, _ = numbered_slots(codes["product_name"], keys.products, _in_appearance_order)
            notes.append(f"one product per distinct name: {ids[ts != _NONE].max()}")
            first_named = first_named.slots(len(ids))
            texts = np.append(names, None)[first_named.value]
        else:
            first = keys.products.slots(2)
            ids, ts, texts = np.array([0, 1]), first.ts, np.array([None, "unknown"], dtype=object)
            notes.append("no product column: every line is of one product named 'unknown'")
            first_named = first
        texts = np.where(first_named.row != _NONE, texts, None)
        self._name_rows = first_named.row
        return ids, ts, texts

    def _customers(self, slot_ts: np.ndarray, keys: Keys, codes: dict[str, Codes]) -> pd.DataFrame:
        seen = slot_ts != _NONE
        first_seen = pd.Series(slot_ts[seen].view("datetime64[ns]")).groupby(self.customer[seen]).min()
        customers = pd.DataFrame(
            {"customer_id": first_seen.index.to_numpy(), "signup_date": first_seen.dt.normalize().to_numpy()}
        )
        customers["country"] = _most_frequent(
            customers["customer_id"], keys.countries, self.customer, codes, "country"
        )
        return customers.assign(day=customers["signup_date"].dt.date)

    def _products_frame(
        self, slot_ts: np.ndarray, texts: np.ndarray, keys: Keys, codes: dict
    ) -> pd.DataFrame:
        seen = slot_ts != _NONE
        slots = pd.DataFrame(
            {"product_id": self.product[seen], "ts": slot_ts[seen].view("datetime64[ns]"),
             "row": self._name_rows[seen], "name": texts[seen]}
        )  # fmt: skip
        launch = slots.groupby("product_id")["ts"].min()
        named = slots[slots["row"] != _NONE].sort_values("row", kind="stable").drop_duplicates("product_id")
        products = pd.DataFrame(
            {"product_id": launch.index.to_numpy(), "launch_date": launch.dt.normalize().to_numpy()}
        )
        products["product_name"] = products["product_id"].map(named.set_index("product_id")["name"])
        products["category"] = _most_frequent(
            products["product_id"], keys.categories, self.product, codes, "category"
        )
        return products.assign(day=products["launch_date"].dt.date)


def _most_frequent(ids: pd.Series, counts, owners: np.ndarray, codes: dict, field: str) -> pd.Series | None:
    """Each id's most frequent `field` value over its lines; None when the source maps no such column."""
    if field not in codes:
        return None
    return ids.map(counts.most_frequent(owners, codes[field].values()))


class Orders:
    """Order ids, order times and line numbers of lines read in row order (step 2)."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        count = len(ids.order_pairs) if ids.keyless else int(ids.order.max())
        self.lines = np.zeros(count + 1, dtype=np.int64)  # lines so far per order id
        self.bought = np.zeros(count + 1, dtype=bool)

    def of(self, lines: pd.DataFrame, customer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(order id, order time, line number) of each line."""
        if self.ids.keyless:
            order_ts = lines["ts"].to_numpy()
            pairs = pd.MultiIndex.from_arrays([order_ts.view(np.int64), customer])
            order = self.ids.order_pairs.get_indexer(pairs) + 1
        else:
            slots = lines["order_id"].to_numpy().astype(np.int64) + 1
            order, order_ts = self.ids.order[slots], self.ids.order_ts[slots].view("datetime64[ns]")
        line_no = pd.Series(order).groupby(order).cumcount().to_numpy() + 1 + self.lines[order]
        self.lines += np.bincount(order, minlength=len(self.lines))
        return order, order_ts, line_no


def place(
    spill: Spill, buys_spill: Spill, returns_spill: Spill, ids: Ids, derived: Derived
) -> tuple[date, date]:
    """Step 2: the spilled lines as order lines and returns, spilled by month; returns the first and
    last batch day."""
    orders = Orders(ids)
    first, last = date.max, date.min
    for lines in spill.batches("lines"):
        customer = ids.customer[lines["customer_id"].to_numpy().astype(np.int64) + 1]
        product = ids.product[lines["product_key"].to_numpy().astype(np.int64) + 1]
        order, order_ts, line_no = orders.of(lines, customer)
        frame = pd.DataFrame(
            {"order_id": order, "line_no": line_no, "order_ts": order_ts, "customer_id": customer,
             "product_id": product, "quantity": lines["quantity"], "amount": lines["amount"],
             "cancelled": lines["cancelled"]}
        )  # fmt: skip
        if "unit_price" in lines:
            frame["unit_price"] = lines["unit_price"]
        is_return = lines["is_return"].to_numpy()
        buys = frame[~is_return]
        if len(buys):
            counted = Derived()
            buys = prices(buys.copy(), counted)
            derived.rounding_discounts += counted.rounding_discounts
            orders.bought[buys["order_id"].to_numpy()] = True
            buys_spill.write_by_month(buys, buys["order_ts"])
            last = max(last, buys["order_ts"].max().date())
        returns = pd.DataFrame(
            {"ts": lines["ts"], "customer_id": customer, "product_id": frame["product_id"]}
        )[is_return]
        returns_spill.write_by_month(returns, returns["ts"])
        derived.purchase_lines += len(buys)
        derived.returns += len(returns)
        first = min(first, lines["ts"].min().date())
        last = max(last, lines["ts"][is_return].max().date() if is_return.any() else last)
        derived.first_day = min(derived.first_day or date.max, lines["ts"].min().date())
        derived.last_day = max(derived.last_day or date.min, lines["ts"].max().date())
    buys_spill.close()
    returns_spill.close()
    derived.orders = int(orders.bought.sum())
    last = max(last, ids.customers["day"].max(), ids.products["day"].max())
    return first, last


def write(
    buys_spill: Spill, returns_spill: Spill, ids: Ids, derived: Derived, folder: Path, first: date, last: date
) -> None:
    """Step 3: month by month, the returns matched and each day's batch written."""
    matcher = ReturnMatcher(ids.returned)
    fixed = {
        "customers": day_slices("customers", ids.customers),
        "products": day_slices("products", ids.products),
    }
    month, by_day = None, {}
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        if (day.year, day.month) != month:
            month = (day.year, day.month)
            by_day = _month(buys_spill, returns_spill, f"{day.year:04d}-{day.month:02d}", matcher, derived)
        tables = {name: parts[day] for name, parts in {**fixed, **by_day}.items() if day in parts}
        write_batch(folder, day.isoformat(), tables)


def _month(
    buys_spill: Spill, returns_spill: Spill, month: str, matcher: ReturnMatcher, derived: Derived
) -> dict[str, dict]:
    found = {}
    buys = buys_spill.read(month)
    if buys is not None:
        buys["status"] = pd.Categorical.from_codes(
            buys.pop("cancelled").to_numpy().astype(np.int8), ["completed", "cancelled"]
        )
        buys["day"] = buys["order_ts"].dt.date
        matcher.add_purchases(buys[["customer_id", "product_id", "order_ts", "order_id", "line_no"]])
        found["order_items"] = day_slices("order_items", order_items(buys))
    returns = returns_spill.read(month)
    if returns is not None:
        matched = matcher.match(returns.sort_values("ts", kind="stable"))
        derived.returns_unmatched += int((matched["order_id"] < 0).sum())
        found["returns"] = day_slices("returns", matched.assign(day=matched["return_date"]))
    return found


def write_log(
    log: Log, mapping: dict[str, str], out: Callable[[], Path], date_format: str | None, today: date
) -> tuple[Path, date, date, Derived]:
    """The log's daily batches written to `out()` after every check passed (a refusal raises before
    anything is written); returns the folder, the first and last day, and what was derived."""
    folder = out()
    # (the spills' writers are closed before their folder is removed, a refusal included)
    with (
        spill_folder(folder) as work,
        Spill(work, "read") as lines,
        Spill(work, "buys") as buys,
        Spill(work, "returns") as returns,
    ):
        reading, keys, derived = read(log, mapping, date_format, today, lines)
        require_continuation(log.paths, keys.spans)
        ids = Ids(reading, keys, derived)
        derived.customers, derived.products = len(ids.customers), len(ids.products)
        del reading, keys
        first, last = place(lines, buys, returns, ids, derived)
        write(buys, returns, ids, derived, folder, first, last)
    return folder, first, last, derived


@contextmanager
def spill_folder(folder: Path) -> Iterator[Path]:
    """A hidden temporary folder beside the batches folder, removed whatever happens (and the
    batches folder's parent too when it was made for it and is left empty, as after a refusal)."""
    made = not folder.parent.exists()
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if made and not any(folder.parent.iterdir()):
            folder.parent.rmdir()
