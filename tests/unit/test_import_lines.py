"""A transaction log's lines as order lines (ecomm.imports.transactions), without a database."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from ecomm.imports import transactions

MAPPING = {"customer_id": "c", "date": "d", "amount": "a", "quantity": "q", "unit_price": "p"}


def _order_items(**columns):
    lines, derived = transactions.frame(pa.table(columns), MAPPING, None, date(2026, 1, 1))
    return transactions.tables(lines, derived)["order_items"], derived


def test_revenue_is_the_amount_and_the_price_is_the_sources_when_it_covers_it():
    items, derived = _order_items(
        c=["1", "2", "3"],
        d=["2024-01-01", "2024-01-02", "2024-01-02"],
        a=["10.00", "9.99", "29.33"],
        q=["2", "3", "2"],
        p=[None, "3.50", "1.00"],  # unknown; covers the amount (a discount); below it (ignored)
    )
    assert items[["unit_price", "discount", "amount"]].values.tolist() == [
        [500, 0, 1000],
        [350, 51, 999],
        [1467, 1, 2933],  # 29.33 / 2 rounded up to the cent, a 1-cent rounding discount
    ]
    assert derived.rounding_discounts == 1
    assert (items["quantity"] * items["unit_price"] - items["discount"] == items["amount"]).all()
