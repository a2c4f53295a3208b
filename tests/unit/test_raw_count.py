"""The reconciliation's own count of a raw file (Python's csv module), independent of the loader."""

from __future__ import annotations

from decimal import Decimal

from ecomm.warehouse.quality import count_raw_file

HEADER = "order_id,note,revenue\r\n"


def test_records_are_counted_with_quoted_newlines_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "order_items.csv"
    body = '1,"a, b",10.10\r\n\r\n2,"two\nlines",0.20\r\n3,plain,5\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + body).encode())
    count = count_raw_file(path, "revenue", frozenset())
    assert (count.rows, count.revenue, count.bad_revenue, count.error) == (3, Decimal("15.30"), [], None)


def test_quarantined_rows_are_counted_but_their_revenue_is_not(tmp_path):
    path = tmp_path / "order_items.csv"
    path.write_text(HEADER + "1,x,10.10\n2,x,oops\n3,x,1e2\n4,x,0.01\n")
    count = count_raw_file(path, "revenue", frozenset({3}))  # row 3 = the second record
    assert (count.rows, count.revenue, count.bad_revenue) == (4, Decimal("110.11"), [])
    kept_bad = count_raw_file(path, "revenue", frozenset())
    assert kept_bad.bad_revenue == [3]


def test_a_missing_or_empty_file_is_an_error_not_a_crash(tmp_path):
    gone = tmp_path / "gone.csv"
    assert count_raw_file(gone, None, frozenset()).error == (
        f"raw file {gone} is gone: cannot reconcile the batch with it"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    assert count_raw_file(empty, None, frozenset()).error == f"raw file {empty} is empty"
    no_revenue = tmp_path / "nr.csv"
    no_revenue.write_text("a,b\n1,2\n")
    assert (
        count_raw_file(no_revenue, "revenue", frozenset()).error
        == f"raw file {no_revenue} has no revenue column"
    )
