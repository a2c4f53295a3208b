"""`ecomm import transactions`: a real public log through the contract and the one loader, and every
bad input refused with one line before anything is written.

tests/data/imports/cdnow_sample_1997_01.csv: the January 1997 rows (885) of CDNOW_sample.txt as shipped
in the `lifetimes` 0.11.3 wheel on PyPI (lifetimes/datasets/, MIT licence; the CDNOW data set of
Fader & Hardie), re-written as CSV with a header: customer_id,date,quantity,amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ecomm import db
from ecomm.imports.run import import_transactions
from ecomm.imports.values import parse_mapping

from support.cli import ecomm

CDNOW = Path(__file__).parents[1] / "data" / "imports" / "cdnow_sample_1997_01.csv"
CDNOW_MAP = "customer_id=customer_id,date=date,quantity=quantity,amount=amount"


def _counts(sql) -> tuple:
    return sql(
        "SELECT (SELECT count(*) FROM warehouse.fact_order_items), "
        "(SELECT count(DISTINCT order_id) FROM warehouse.fact_order_items), "
        "(SELECT count(*) FROM warehouse.dim_customer), (SELECT count(*) FROM warehouse.dim_product), "
        "(SELECT sum(revenue) FROM warehouse.fact_order_items), "
        "(SELECT min(order_date) || ' ' || max(order_date) FROM warehouse.fact_order_items)"
    )[0]


def test_cdnow_sample_imports_loads_and_reimports_as_nothing(warehouse, sql, tmp_path):
    mapping = parse_mapping(CDNOW_MAP)
    report = import_transactions(warehouse, CDNOW, mapping, out=tmp_path / "batches", today=date(2026, 1, 1))
    d = report.derived
    assert (d.rows_read, d.duplicates, d.purchase_lines, d.orders, d.customers, d.products) == (
        885,
        0,
        885,
        873,
        781,
        1,
    )
    assert (d.first_day, d.last_day) == (date(1997, 1, 1), date(1997, 1, 31))
    assert report.load.ok and [b.status for b in report.load.batches] == ["loaded"] * 31
    assert report.imported == {"customers": 781, "products": 1, "order_items": 885}
    assert report.quarantined == {}
    source_total = sum(float(line.split(",")[3]) for line in CDNOW.read_text().splitlines()[1:])
    first = _counts(sql)
    assert first[:4] == (885, 873, 781, 1)
    assert float(first[4]) == pytest.approx(source_total, abs=0.001)  # revenue is the source's amount
    assert first[5] == "1997-01-01 1997-01-31"
    # unknown stays unknown: nothing about the customer was invented
    assert sql(
        "SELECT count(*) FROM warehouse.dim_customer WHERE age IS NULL AND country IS NULL "
        "AND email IS NULL AND acquisition_channel IS NULL"
    ) == [(781,)]
    assert sql("SELECT count(*) FROM warehouse.fact_order_items WHERE cost IS NULL") == [(885,)]
    # the marts are built on it: unknown country and category are grouped as 'unknown'
    assert report.load.marts_pending == [] or report.load.mart_seconds
    assert sql("SELECT count(*), min(country), min(category), sum(orders) FROM marts.daily_sales") == [
        (31, "unknown", "unknown", 873)
    ]
    assert sql("SELECT count(*) FROM marts.customer_360") == [(781,)]

    again = import_transactions(warehouse, CDNOW, mapping, out=tmp_path / "batches", today=date(2026, 1, 1))
    assert [b.status for b in again.load.batches] == ["skipped"] * 31
    assert again.imported == {}
    assert _counts(sql) == first


def test_returns_mark_the_purchase_and_unmatched_returns_are_quarantined(warehouse, sql, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "Cust,When,Item,Qty,Total\n"
        "A,2024-03-01 10:00:00,pen,2,3.00\n"
        "A,2024-03-01 10:00:00,ink,1,5.00\n"
        "A,2024-03-01 10:00:00,ink,1,5.00\n"  # an exact duplicate: dropped, counted
        "B,2024-03-02 09:30:00,pen,3,4.00\n"
        "A,2024-03-03 12:00:00,ink,-1,-5.00\n"  # returns A's ink of 03-01
        "B,2024-03-03 12:00:00,ink,-1,-5.00\n"  # B never bought ink: quarantined by the loader
        # 20 more lines that day: 1 bad row of 23 stays under the loader's 5% threshold
        + "".join(f"C{i:02},2024-03-03 15:00:00,pen,1,1.50\n" for i in range(20))
    )
    mapping = parse_mapping("customer_id=Cust,timestamp=When,product_name=Item,quantity=Qty,amount=Total")
    report = import_transactions(warehouse, log, mapping, out=tmp_path / "b", today=date(2026, 1, 1))
    d = report.derived
    assert (d.rows_read, d.duplicates, d.purchase_lines, d.returns, d.returns_unmatched) == (26, 1, 23, 2, 1)
    assert "one product per distinct name: 2" in d.notes
    assert "customer ids numbered 1..22 from the source's distinct customer keys" in d.notes
    assert report.quarantined == {"returns: order_id, line_no: unknown order line -2/1": 1}
    assert sql(
        "SELECT f.order_id, f.line_no, p.product_name, f.quantity, f.unit_price, f.discount, f.revenue, "
        "f.status, f.return_date FROM warehouse.fact_order_items f JOIN warehouse.dim_product p USING "
        "(product_id) WHERE f.order_date < '2024-03-03' ORDER BY 1, 2"
    ) == [
        (1, 1, "pen", 2, Decimal("1.50"), 0, Decimal("3.00"), "completed", None),
        (1, 2, "ink", 1, Decimal("5.00"), 0, Decimal("5.00"), "returned", date(2024, 3, 3)),
        (2, 1, "pen", 3, Decimal("1.34"), Decimal("0.02"), Decimal("4.00"), "completed", None),
    ]


# ------------------------------------------------------------------------------------ bad inputs
GOOD = "customer,day,amount\n1,2024-01-05,10.00\n2,2024-01-06,12.50\n"
MAP = "customer_id=customer,date=day,amount=amount"


def _refused(tmp_path: Path, content: str | bytes, expected: str, *args: str, name: str = "log.csv") -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    home = tmp_path / "home"
    result = ecomm("import", "transactions", str(path), "--map", MAP, *args, env={"ECOMM_HOME": str(home)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == f"error: {expected}"
    assert not (home / "imports").exists()  # nothing written, nothing loaded


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "customer,date,amount\n1,2024-01-05,10\n",
            "log.csv: mapped column 'day' (date) not in the file (its columns: customer, date, amount)",
        ),
        (
            "customer;day;amount\n1;2024-01-05;10\n",
            "log.csv: fields are separated by ';', not ',': pass --delimiter ';'",
        ),
        (
            "1,2024-01-05,10.00\n2,2024-01-06,12.50\n",
            "log.csv: no header row (the first line '1,2024-01-05,10.00' is data): add a first line naming the columns",
        ),
        (
            "customer,day,amount\n1,2024-01-05,10\n2,06/01/2024,10\n",
            "day: mixed date formats ('2024-01-05' is %Y-%m-%d, '06/01/2024' is %d/%m/%Y): make them one format, "
            "or pass --date-format to read one and quarantine nothing silently",
        ),
        (
            "customer,day,amount\n1,05/01/2024,10\n2,06/01/2024,10\n",
            "day: ambiguous dates ('05/01/2024' reads as %d/%m/%Y or %m/%d/%Y): pass --date-format, e.g. "
            "--date-format '%d/%m/%Y'",
        ),
        (
            'customer,day,amount\n1,2024-01-05,"1,234.50"\n',
            "amount: row 1: '1,234.50' has a thousands separator (write plain decimals such as 1234.50)",
        ),
        (
            "customer,day,amount\n1,2024-01-05,$12.00\n",
            "amount: row 1: '$12.00' has a currency sign (map the currency column instead and keep amounts plain)",
        ),
        (
            b"customer,day,amount\n" + "Ren\xe9,2024-01-05,10\n".encode("latin-1"),
            "log.csv: not UTF-8 text (byte 23, line 2): pass its encoding, e.g. --encoding latin-1",
        ),
        ("customer,day,amount\n", "log.csv: only a header, no rows: nothing to import"),
        (
            "customer,day,amount\n1,2024-01-05,10\n2,2099-01-01,10\n",
            "day: 1 row(s) dated after today " + str(date.today()) + " (first 2099-01-01)",
        ),
    ],
    ids=[
        "missing-column",
        "semicolons",
        "no-header",
        "mixed-dates",
        "ambiguous-dates",
        "thousands",
        "currency-sign",
        "not-utf8",
        "header-only",
        "future-date",
    ],
)
def test_bad_input_is_refused_with_one_line(tmp_path, content, expected):
    _refused(tmp_path, content, expected)


def test_date_format_settles_the_ambiguity(warehouse, sql, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("customer,day,amount\n1,05/01/2024,10\n2,06/01/2024,10\n")
    import_transactions(warehouse, log, parse_mapping(MAP), date_format="%d/%m/%Y", out=tmp_path / "b")
    assert sql("SELECT customer_id, order_date FROM warehouse.fact_order_items ORDER BY 1") == [
        (1, date(2024, 1, 5)),
        (2, date(2024, 1, 6)),
    ]


def test_the_same_file_twice_through_the_command_changes_nothing(warehouse, sql, tmp_path):
    env = {
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_HOME": str(tmp_path / "home"),
    }
    log = tmp_path / "log.csv"
    log.write_text(GOOD)
    first = ecomm("import", "transactions", str(log), "--map", MAP, env=env)
    assert first.returncode == 0, first.stderr
    second = ecomm("import", "transactions", str(log), "--map", MAP, env=env)
    assert second.returncode == 0, second.stderr
    assert "2 (2 already loaded, 0 rejected)" in second.stdout
    assert sql("SELECT count(*) FROM warehouse.fact_order_items") == [(2,)]


def test_parquet_with_a_yaml_mapping_keeps_what_the_source_knows(warehouse, sql, tmp_path):
    import pandas as pd

    log = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "Invoice": ["536365", "536365", "536366", "536367"],
            "StockCode": ["85123A", "71053", "85123A", "71053"],
            "Description": ["HEART HOLDER", "LANTERN", "HEART HOLDER", "LANTERN"],
            "Cat": ["home", "light", "home", "light"],
            "Quantity": [6, 2, 1, 3],
            "Price": [2.55, 3.39, 2.55, 3.39],
            "LineTotal": [15.30, 6.00, 2.55, 10.17],
            "InvoiceDate": pd.to_datetime(
                ["2010-12-01 08:26", "2010-12-01 08:26", "2010-12-01 08:28", "2010-12-02 09:00"]
            ),
            "Customer": [17850, 17850, 13047, 13047],
            "Country": ["United Kingdom", "United Kingdom", "France", "France"],
            "State": ["complete", "complete", "Cancelled", "complete"],
            "Curr": ["GBP"] * 4,
        }
    ).to_parquet(log)
    mapping_file = tmp_path / "map.yml"
    mapping_file.write_text(
        "customer_id: Customer\ntimestamp: InvoiceDate\namount: LineTotal\nquantity: Quantity\n"
        "unit_price: Price\nproduct_id: StockCode\nproduct_name: Description\ncategory: Cat\n"
        "order_id: Invoice\ncountry: Country\nstatus: State\ncurrency: Curr\n"
    )
    report = import_transactions(warehouse, log, parse_mapping(str(mapping_file)), out=tmp_path / "b")
    d = report.derived
    assert (d.rows_read, d.purchase_lines, d.orders, d.customers, d.products) == (4, 4, 3, 2, 2)
    assert d.notes == [
        "amounts in GBP",
        "product ids numbered 1..2 from the source's distinct product keys",
    ]
    assert sql(
        "SELECT f.order_id, f.line_no, f.order_ts::text, f.customer_id, p.product_name, p.category, c.country, "
        "f.quantity, f.unit_price, f.discount, f.revenue, f.status FROM warehouse.fact_order_items f "
        "JOIN warehouse.dim_product p USING (product_id) JOIN warehouse.dim_customer c USING (customer_id) "
        "ORDER BY 1, 2"
    ) == [
        (
            1,
            1,
            "2010-12-01 08:26:00",
            17850,
            "HEART HOLDER",
            "home",
            "United Kingdom",
            6,
            Decimal("2.55"),
            Decimal("0.00"),
            Decimal("15.30"),
            "completed",
        ),
        (
            1,
            2,
            "2010-12-01 08:26:00",
            17850,
            "LANTERN",
            "light",
            "United Kingdom",
            2,
            Decimal("3.39"),
            Decimal("0.78"),
            Decimal("6.00"),
            "completed",
        ),  # the source's price, a discount
        (
            2,
            1,
            "2010-12-01 08:28:00",
            13047,
            "HEART HOLDER",
            "home",
            "France",
            1,
            Decimal("2.55"),
            Decimal("0.00"),
            Decimal("2.55"),
            "cancelled",
        ),
        (
            3,
            1,
            "2010-12-02 09:00:00",
            13047,
            "LANTERN",
            "light",
            "France",
            3,
            Decimal("3.39"),
            Decimal("0.00"),
            Decimal("10.17"),
            "completed",
        ),
    ]
