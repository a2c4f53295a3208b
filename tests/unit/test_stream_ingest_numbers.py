"""JSON numbers in integer and numeric columns are taken as numbers when every cell of the column is
one (no text round trip): the stored rows and every rejection equal what the same cells sent as text
get from the contract's parser, including the numbers beyond a column's type."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ecomm.entities import ORDER_ITEMS
from ecomm.stream.ingest import _column, check_events

from support.stream import order_line, web_event


def _events(batch: list[dict]) -> list[tuple[str, str, dict]]:
    return [(e["event_id"], e["entity"], e["data"]) for e in batch]


def _as_text(batch: list[dict]) -> list[dict]:
    """The same events with every number written as the text a CSV cell would hold."""

    def text(v):
        return repr(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    return [{**e, "data": {k: text(v) for k, v in e["data"].items()}} for e in batch]


NUMBERS = [
    [web_event(n) for n in range(1, 30)] + [order_line(n, line_no=2) for n in range(1, 8)],
    [
        web_event(1, event_id=2**63),
        web_event(2, customer_id=-(2**63) - 1),
        web_event(3),
        web_event(4, session_id=True),
    ],
    [
        order_line(1, unit_price=10.555),
        order_line(2, revenue=1e300),
        order_line(3, discount=-0.0),
        order_line(9),
    ],
    [
        order_line(1, quantity=2**31),
        order_line(2, unit_cost=2**60),
        order_line(3, line_no=40_000),
        order_line(9),
    ],
    [order_line(1, unit_price=float("inf"), revenue=float("nan")), order_line(2, quantity=3), order_line(9)],
]


@pytest.mark.parametrize("batch", NUMBERS, ids=range(len(NUMBERS)))
def test_numbers_posted_as_numbers_get_what_their_text_gets(batch):
    typed, text = check_events(_events(batch)), check_events(_events(_as_text(batch)))
    assert typed.rejected == text.rejected
    assert typed.rows.keys() == text.rows.keys()
    for name, rows in text.rows.items():
        assert typed.rows[name].equals(rows)
    assert typed.accepted > 0


def test_a_column_of_numbers_skips_the_text_and_one_with_anything_else_keeps_it():
    quantity, price = ORDER_ITEMS.column("quantity"), ORDER_ITEMS.column("unit_price")
    assert _column(quantity, [1, None, 3]).type == pa.int64()
    assert _column(price, [1, 2.5, None]).type == pa.float64()
    for column, cells in (
        (quantity, [1, 2.5]),
        (quantity, [1, True]),
        (quantity, [2**64]),
        (price, ["1.5", 2]),
    ):
        assert _column(column, cells).type == pa.string()
