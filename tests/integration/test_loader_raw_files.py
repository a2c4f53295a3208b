"""Issue 21's raw-file cases, each loaded end to end (the `ecomm load` command or `load_path`) with its
exact outcome: truncated files, a last line without its line end, a quoted line break on pyarrow's
block boundary, an oversized field, a directory in place of a file, a quoted "" in a required field."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.entities import MANIFEST_FILE
from ecomm.warehouse.raw import MAX_FIELD_BYTES
from ecomm.warehouse.run import load_path

from support.batches import DAY, customer, order_line, product, small_batch, write_batch
from support.cli import ecomm

BLOCK = 1 << 20  # pyarrow's CSV block size
ONE_ORDER = [order_line(1, 1, 1, 1)]  # the freshness check wants order lines on the latest date


def _ecomm_load(warehouse, path, home) -> subprocess.CompletedProcess:
    """`ecomm load PATH` against the test warehouse (in this process: support.cli)."""
    env = {
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_HOME": str(home),
    }
    return ecomm("load", str(path), env=env)


def _nothing_loaded(sql) -> None:
    for table in ("dim_customer", "dim_product", "fact_order_items", "fact_web_events"):
        assert sql.one(f"SELECT count(*) FROM warehouse.{table}") == 0, table
    for entity in ("customers", "order_items", "web_events", "returns"):
        assert sql.one(f"SELECT count(*) FROM quarantine.{entity}") == 0, entity


def _line(row: dict) -> str:
    """A row as the generator writes it (text values quoted by the caller)."""
    return ",".join(str(v) for v in row.values())


def _events_batch(root, n: int = 40):
    """Customers, a product and `n` view events, web_events.csv as the generator writes it."""
    batch = write_batch(
        root, customers=[customer(1), customer(2)], products=[product(1)], order_items=ONE_ORDER
    )
    rows = [f'{i},{500 + i},{1 + i % 2},1,"view",{DAY} 10:{i % 60:02d}:00' for i in range(1, n + 1)]
    header = "event_id,session_id,customer_id,product_id,event_type,event_ts"
    (batch / "web_events.csv").write_text("\n".join([header, *rows]) + "\n")
    return batch


# A crashed export: web_events.csv cut inside a line (never at a line end), at three kinds of place
TRUNCATIONS = {
    "cut_between_fields": (
        lambda text: text[: text.index("\n21,")] + "\n21,521,2",
        "its last line (22) has no line end and 3 fields, expected 6",
    ),
    "cut_inside_a_quoted_value": (
        lambda text: text[: text.index("\n21,")] + '\n21,521,2,1,"vi',
        "the quoted value opened on line 22 is never closed (it runs to the end of the file)",
    ),
    "cut_inside_the_last_value": (
        lambda text: text[: text.index("\n21,")] + f'\n21,521,2,1,"view",{DAY} 10:2',
        f"its last line (22) has no line end and event_ts: '{DAY} 10:2' is not a timestamp "
        "(YYYY-MM-DD HH:MM:SS)",
    ),
}


@pytest.mark.parametrize("case", TRUNCATIONS)
def test_truncated_file_rejects_the_batch(warehouse, sql, tmp_path, case):
    cut, why = TRUNCATIONS[case]
    batch = _events_batch(tmp_path / "raw")
    path = batch / "web_events.csv"
    path.write_text(cut(path.read_text()))
    result = _ecomm_load(warehouse, batch, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"rejected batch {DAY}: {path}: the file looks truncated: {why}"
    _nothing_loaded(sql)
    assert sql("SELECT status, message FROM audit.load_runs") == [
        ("rejected", f"{path}: the file looks truncated: {why}")
    ]


def test_file_cut_at_a_line_end_loads_what_it_has(warehouse, sql, tmp_path):
    """Without a manifest, a file cut exactly after a whole line is just a shorter file."""
    batch = _events_batch(tmp_path)
    path = batch / "web_events.csv"
    text = path.read_text()
    path.write_text(text[: text.index("\n21,") + 1])
    report = load_path(warehouse, batch, marts=False)
    assert report.ok, [(c.name, c.details) for c in report.failed_checks]
    assert sql.one("SELECT count(*) FROM warehouse.fact_web_events") == 20


@pytest.fixture(scope="module")
def generated_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_history(
        GeneratorConfig(seed=5, as_of=date(2025, 3, 31), days=60, customers=300, products=40), out
    )
    return out


def test_file_cut_at_a_line_end_is_caught_by_the_manifest(warehouse, sql, tmp_path, generated_world):
    first = sorted(p for p in generated_world.iterdir() if p.name.startswith("20"))[0]
    batch = shutil.copytree(first, tmp_path / first.name)
    assert (batch / MANIFEST_FILE).is_file()
    path = batch / "web_events.csv"
    data = path.read_bytes()
    lines = data.count(b"\n") - 1
    path.write_bytes(data[: data.index(b"\n", len(data) // 2) + 1])  # whole lines: a clean shorter file
    report = load_path(warehouse, batch, marts=False)
    [result] = report.batches
    message = (
        f"{path}: {path.stat().st_size:,} bytes where the batch's {MANIFEST_FILE} says {len(data):,}: "
        "the file is truncated or incomplete (or was changed after it was written)"
    )
    assert result.status == "rejected" and result.message == message
    _nothing_loaded(sql)
    assert sql("SELECT status, message FROM audit.load_runs") == [("rejected", message)]
    assert lines > 20  # the cut dropped rows of a real day, not an empty file's header


def test_empty_last_field_without_final_newline_is_null(warehouse, sql, tmp_path):
    orders = [order_line(1000 + i, 1, 1, 1) for i in range(20)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    path = batch / "order_items.csv"
    last = order_line(2000, 1, 1, 1, status='"cancelled"', delivery_days="")
    path.write_text(path.read_text() + _line(last))
    assert path.read_text().endswith(',"cancelled",')
    report = load_path(warehouse, batch, marts=False)
    assert report.ok and report.batches[0].status == "loaded"
    assert sql("SELECT status, delivery_days FROM warehouse.fact_order_items WHERE order_id = 2000") == [
        ("cancelled", None)
    ]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 21
    assert sql.one("SELECT count(*) FROM quarantine.order_items") == 0
    assert sql("SELECT status, rows_read, rows_quarantined FROM audit.load_runs") == [("loaded", 23, 0)]


def _customers_with_a_line_break_at(offset: int, bad_row: bool) -> tuple[list[dict], str]:
    """About 1 MiB of customers, one of whose city holds a line break at byte `offset` of the file,
    as customers.csv text (a customer with age 'old' after it when `bad_row`)."""

    def as_written(c: dict) -> str:
        return _line(c | {"city": f'"{c["city"]}"'})

    header = ",".join(customer(1))
    customers, size = [], len(header) + 1
    while size < offset - 400:
        customers.append(customer(len(customers) + 1))
        size += len(as_written(customers[-1])) + 1
    cid = len(customers) + 1
    before_city = size + len(as_written(customer(cid)).split(',"Boston",')[0]) + 2  # after the quote
    city = "Y" * (offset - before_city) + "\nZ"
    customers.append(customer(cid, city=city))
    customers += [customer(c) for c in range(cid + 1, cid + 40)]
    if bad_row:
        customers.append(customer(cid + 40, age="old"))
    lines = [as_written(c) for c in customers]
    return customers, "\n".join([header, *lines]) + "\n"


# the line break as the last byte of the first block, its first byte after it, a few bytes into the
# second (pyarrow's serial reader lost sync there: "CSV parser got out of sync with chunker"); with a
# bad row elsewhere in the file, so that it is read by the path that names bad rows
BOUNDARY_CASES = {
    "last_byte_of_a_block": (BLOCK - 1, False),
    "first_byte_of_a_block": (BLOCK, False),
    "third_byte_of_a_block": (BLOCK + 3, False),
    "first_byte_of_a_block_in_a_file_with_a_bad_row": (BLOCK, True),
}


@pytest.mark.parametrize("case", BOUNDARY_CASES)
def test_quoted_newline_on_the_block_boundary_keeps_its_row(warehouse, sql, tmp_path, case):
    offset, bad_row = BOUNDARY_CASES[case]
    customers, text = _customers_with_a_line_break_at(offset, bad_row)
    batch = write_batch(tmp_path, products=[product(1)], order_items=ONE_ORDER)
    (batch / "customers.csv").write_text(text)
    assert text.encode().index(b"\nZ") == offset
    cid = next(c["customer_id"] for c in customers if "\n" in c["city"])
    report = load_path(warehouse, batch, marts=False)
    assert report.ok and report.batches[0].status == "loaded"
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer") == len(customers) - bad_row
    assert (
        sql.one("SELECT city FROM warehouse.dim_customer WHERE customer_id = %s", (cid,))
        == (customers[cid - 1]["city"])
    )
    expected = [(len(customers) + 1, "age: 'old' is not an integer")] if bad_row else []
    assert sql("SELECT row_no, reason FROM quarantine.customers") == expected
    assert sql("SELECT status, rows_read, rows_quarantined FROM audit.load_runs") == [
        ("loaded", len(customers) + 2, int(bad_row))
    ]


def test_ten_mib_field_is_one_bad_row(warehouse, sql, tmp_path):
    huge = "x" * (10 << 20)
    customers = [customer(i) for i in range(1, 31)] + [customer(31, last_name=huge)]
    batch = write_batch(tmp_path, customers=customers, products=[product(1)], order_items=ONE_ORDER)
    report = load_path(warehouse, batch, marts=False)
    assert report.ok and report.batches[0].status == "loaded"
    assert report.batches[0].counts["customers"].read == 31
    assert sql("SELECT row_no, reason FROM quarantine.customers") == [
        (32, f"field too large: last_name is 10,485,760 bytes (at most {MAX_FIELD_BYTES:,})")
    ]
    record = sql.one("SELECT record FROM quarantine.customers")
    assert record["customer_id"] == "31" and record["email"] == "c31@example.com"
    assert record["last_name"] == "x" * 200 + "… (10,485,760 bytes)"
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer") == 30
    assert sql("SELECT status, rows_read, rows_quarantined FROM audit.load_runs") == [("loaded", 33, 1)]


def test_returns_csv_directory_rejects_the_batch(warehouse, sql, tmp_path):
    batch = small_batch(tmp_path / "raw")
    (batch / "returns.csv").unlink()
    (batch / "returns.csv").mkdir()
    result = _ecomm_load(warehouse, batch, tmp_path)
    message = f"{batch / 'returns.csv'}: is a directory, not a file (every batch has one returns.csv)"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"rejected batch {DAY}: {message}"
    _nothing_loaded(sql)
    assert sql("SELECT status, message FROM audit.load_runs") == [("rejected", message)]


def test_quoted_empty_text_is_missing(warehouse, sql, tmp_path):
    """A quoted empty cell ("") is a missing value: in a required column (product_name) its row is
    quarantined; in an attribute an imported log may lack (first_name, city) it is stored as unknown."""
    customers = [customer(i) for i in range(1, 31)]
    products = [product(i) for i in range(1, 31)]
    batch = write_batch(tmp_path, customers=customers, products=products, order_items=ONE_ORDER)
    for name, rows in (
        ("customers", [customer(31, first_name='""', city='""'), customer(32, gender='""')]),
        ("products", [product(31, product_name='""')]),
    ):
        path = batch / f"{name}.csv"
        path.write_text(path.read_text() + "\n".join(_line(r) for r in rows) + "\n")
    report = load_path(warehouse, batch, marts=False)
    assert report.ok and report.batches[0].status == "loaded"
    assert sql("SELECT row_no, reason FROM quarantine.products") == [
        (32, "product_name: required value missing")
    ]
    assert sql.one("SELECT count(*) FROM quarantine.customers") == 0
    assert sql("SELECT first_name, city FROM warehouse.dim_customer WHERE customer_id = 31") == [(None, None)]
    assert sql.one("SELECT gender FROM warehouse.dim_customer WHERE customer_id = 32") is None
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer") == 32
    assert sql.one("SELECT count(*) FROM warehouse.dim_product") == 30
    assert sql("SELECT status, rows_read, rows_quarantined FROM audit.load_runs") == [("loaded", 64, 1)]
