"""A log read block by block gives the batches and the refusals a whole read gives (ecomm.imports.run
write_log and ecomm.imports.blocks), without a database: block sizes down to one line per block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ecomm.imports import interactions, transactions
from ecomm.imports.blocks import FirstSeen
from ecomm.imports.source import DEFAULT_BLOCK_BYTES, ImportRefused, open_log

from support.import_batches import TODAY, read_in_blocks, read_whole

MAPPING = {
    "customer_id": "cust",
    "date": "day",
    "amount": "amount",
    "quantity": "qty",
    "unit_price": "price",
    "product_id": "sku",
    "product_name": "name",
    "order_id": "invoice",
    "country": "country",
    "category": "cat",
    "status": "status",
    "currency": "cur",
}
CATEGORIES = ("k3", "k1", "k2", "k0")  # not in sorted order: a tie goes to the smallest, not the first
HEADER = "cust,day,amount,qty,price,sku,name,invoice,country,cat,status,cur\n"


def _line(n: int) -> str:
    """Line n of a log that has every case a block boundary could split: text keys that recur,
    empty cells, ties of country and category, returns (matched and not), cancellations."""
    cust, sku = f"C{n % 7}", ("" if n % 19 == 5 else f"S{n % 5}")
    name = "" if n % 3 else f"thing {n % 5}"
    country = ("UK", "DE", "")[n % 3]
    amount, status = f"{(n % 9 + 1) * 1.25:.2f}", ("cancelled" if n % 17 == 3 else "")
    if n % 13 == 12:  # a return of an earlier line of the same customer and product (n - 35: same keys)
        amount, status = f"-{(n % 9 + 1) * 1.25:.2f}", "refund"
    day = f"2024-{n // 28 + 1:02d}-{n % 28 + 1:02d} 1{n % 10}:00:00"
    return f"{cust},{day},{amount},{n % 3 + 1},{'' if n % 4 else '1.30'},{sku},{name},I{n // 3},{country},{CATEGORIES[n % 4]},{status},EUR\n"


def _log(path: Path) -> Path:
    lines = [_line(n) for n in range(120)]
    lines[60:60] = [lines[7], lines[7]]  # exact duplicates, far from the line they copy
    lines.insert(3, "C9,2024-01-01 09:00:00,-4.00,1,,S2,,I999,,k1,,EUR\n")  # a return of nothing
    path.write_text(HEADER + "".join(lines))
    return path


def _batches(log: list[Path], out: Path, block_bytes: int, kind=transactions, mapping=MAPPING) -> dict:
    return read_in_blocks(log, out, block_bytes, kind, mapping)[0]


def test_a_tiny_block_reads_a_line_or_two_at_a_time(tmp_path):
    log = open_log([_log(tmp_path / "log.csv")], MAPPING, block_bytes=90)
    sizes = [len(block) for _, block in log.blocks()]
    assert sum(sizes) == 123 and max(sizes) == 2 and len(sizes) > 60


@pytest.mark.parametrize("block_bytes", [90, 400, 3000])
def test_the_batches_are_the_same_bytes_whatever_the_block_size(tmp_path, block_bytes):
    log = [_log(tmp_path / "log.csv")]
    whole = _batches(log, tmp_path / "whole", DEFAULT_BLOCK_BYTES)
    assert len(whole) > 5 * 30  # a batch per day over months, each with its files
    returns = b"".join(v for k, v in whole.items() if k.endswith("returns.csv"))
    assert (returns.count(b"refund in the source"), returns.count(b"no earlier purchase")) == (7, 3)
    products = b"".join(v for k, v in whole.items() if k.endswith("products.csv")).decode().splitlines()
    assert [p.split(",")[:3] for p in products if not p.startswith('"product_id"')] == [
        ["1", '"S2"', '"k1"'],  # (its most frequent category; the others: the smallest of a tie)
        ["2", '"thing 0"', '"k0"'],
        ["3", '"S1"', '"k0"'],
        ["4", '"thing 3"', '"k1"'],
        ["5", '"S4"', '"k1"'],
        ["6", '"thing 4"', '"k0"'],  # the lines without a product key
    ]
    assert _batches(log, tmp_path / "blocks", block_bytes) == whole


@pytest.mark.parametrize(
    "unmapped",
    [
        (),
        ("order_id",),
        ("product_id",),
        ("product_id", "product_name"),
        ("country", "category", "unit_price"),
    ],
    ids=["all", "keyless-orders", "names-only", "no-product", "no-attributes"],
)
def test_the_bounded_writer_gives_the_bytes_of_the_whole_read(tmp_path, unmapped):
    """write_log (a month of lines at a time, ecomm.imports.bounded) vs the lines read whole."""
    mapping = {k: v for k, v in MAPPING.items() if k not in unmapped}
    log = [_log(tmp_path / "log.csv")]
    expected, derived = read_whole(log, tmp_path / "whole", transactions, mapping)
    found, bounded_derived = read_in_blocks(log, tmp_path / "bounded", 400, transactions, mapping)
    assert found == expected
    assert bounded_derived == derived  # the import report's counts, span and notes too


def test_a_parquet_log_in_small_batches_gives_the_same_bytes(tmp_path):
    csv = _log(tmp_path / "log.csv")
    table = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    pq.write_table(table, tmp_path / "log.parquet", row_group_size=10)
    whole = _batches([tmp_path / "log.parquet"], tmp_path / "whole", DEFAULT_BLOCK_BYTES)
    assert _batches([tmp_path / "log.parquet"], tmp_path / "blocks", 200) == whole


def test_interactions_are_the_same_bytes_whatever_the_block_size(tmp_path):
    path = tmp_path / "events.csv"
    rows = [f"u{n % 6},i{n % 4},{1700000000 + 600 * n},{('view', 'cart', 'buy')[n % 3]}\n" for n in range(80)]
    path.write_text("user,item,ts,event\n" + "".join(rows + rows[:5]))
    mapping = {"user_id": "user", "item_id": "item", "date": "ts", "event": "event"}
    whole = _batches([path], tmp_path / "whole", DEFAULT_BLOCK_BYTES, interactions, mapping)
    assert _batches([path], tmp_path / "blocks", 40, interactions, mapping) == whole


def _refusal(tmp_path: Path, body: str, block_bytes: int) -> str:
    path = tmp_path / "bad.csv"
    path.write_text("cust,day,amount\n" + body)
    mapping = {"customer_id": "cust", "date": "day", "amount": "amount"}
    with pytest.raises(ImportRefused) as refused:
        _batches([path], tmp_path / "out", block_bytes, mapping=mapping)
    assert not (tmp_path / "out").exists()  # nothing written
    return str(refused.value)


GOOD = "".join(f"c{n},2024-01-{n % 28 + 1:02d},1.00\n" for n in range(40))


@pytest.mark.parametrize("block_bytes", [30, 100, DEFAULT_BLOCK_BYTES])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # a later block's date outranks an earlier block's amount: the checks' order, as a whole read
        (
            "c1,2024-01-01,$3\n" + GOOD + "c2,2024-01-02 10:00,1.00\n",
            "day: mixed date formats ('2024-01-01' is %Y-%m-%d, '2024-01-02 10:00' is %Y-%m-%d %H:%M): "
            "make them one format, or pass --date-format to read one and quarantine nothing silently",
        ),
        # the first bad cell of a check, wherever the block boundaries fall
        (
            GOOD + "c1,2024-01-01,1 000.00\nc2,2024-01-01,x\n",
            "amount: row 41: '1 000.00' has a thousands separator (write plain decimals such as 1234.50)",
        ),
        (
            GOOD + "c1,2099-03-01,1\n" + GOOD + "c2,2099-02-01,1\n",
            "day: 2 row(s) dated after today 2026-01-01 (first 2099-02-01)",
        ),
        ("c1,2024-01-01,x\n" + GOOD + ",2024-01-02,1.00\n", "cust: row 42: customer is empty"),
        (
            "c1,01/02/2024,1\n" + "".join(f"c{n},0{n % 9 + 1}/01/2024,1\n" for n in range(30)),
            "day: ambiguous dates ('01/02/2024' reads as %d/%m/%Y or %m/%d/%Y): pass --date-format, e.g. "
            "--date-format '%d/%m/%Y'",
        ),
    ],
    ids=["order-of-checks", "first-bad-cell", "future-counted-over-blocks", "customer-first", "ambiguous"],
)
def test_a_refusal_is_the_one_a_whole_read_gives(tmp_path, body, expected, block_bytes):
    assert _refusal(tmp_path, body, block_bytes) == expected


def test_a_duplicate_in_a_later_block_is_dropped_once(tmp_path):
    path = tmp_path / "dups.csv"
    path.write_text("cust,day,amount\n" + GOOD + GOOD.splitlines(keepends=True)[0] + GOOD)
    mapping = {"customer_id": "cust", "date": "day", "amount": "amount"}
    lines, derived = transactions.frame(open_log([path], mapping, block_bytes=30), mapping, None, TODAY)
    assert (derived.rows_read, derived.duplicates, len(lines)) == (81, 41, 40)
    assert lines.index.tolist() == list(range(40))  # the first of each copy is kept
    text = pacsv.ConvertOptions(column_types=dict.fromkeys(("cust", "day", "amount"), pa.string()))
    whole = pacsv.read_csv(path, convert_options=text)
    assert transactions.frame(whole, mapping, None, TODAY)[0].equals(lines)


def test_first_seen_keeps_the_first_copy_of_each_row_over_blocks():
    rng = np.random.default_rng(5)
    rows = pd.DataFrame(
        {"a": rng.integers(0, 40, 3000).astype(str), "b": rng.integers(0, 5, 3000).astype(str)}
    )
    seen = FirstSeen()
    masks = [
        seen.mask(rows.iloc[start : start + size])
        for start, size in ((0, 0), (0, 1000), (1000, 0), (1000, 2000))
    ]
    assert [len(m) for m in masks] == [0, 1000, 0, 2000]
    assert np.concatenate(masks).tolist() == (~rows.duplicated()).tolist()  # within and across blocks
    assert len(seen.hashes) == len(rows.drop_duplicates())
