"""The importer's column mapping and its reading of dates and amounts (ecomm.imports.values)."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomm.imports.source import ImportRefused
from ecomm.imports.values import choose_date_format, parse_mapping, parse_numbers


def test_mapping_pairs_aliases_and_yaml(tmp_path):
    assert parse_mapping("customer_id=Cust, timestamp=When ,amount=Sales,quantity=Qty") == {
        "customer_id": "Cust",
        "date": "When",
        "amount": "Sales",
        "quantity": "Qty",
    }
    yml = tmp_path / "m.yaml"
    yml.write_text("customer_id: Customer ID\ndate: Day\namount: Total\n")
    assert parse_mapping(str(yml)) == {"customer_id": "Customer ID", "date": "Day", "amount": "Total"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("customer_id=C,date=D", "--map: amount must be mapped (e.g. --map amount=<column>)"),
        (
            "customer_id=C,date=D,amount=A,colour=X",
            "--map: unknown field colour (fields: customer_id, date, amount, quantity, unit_price, "
            "product_id, product_name, category, order_id, country, status, currency)",
        ),
        ("customer_id=C,date,amount=A", "--map: 'date' is not field=column"),
        ("nope.yml", "--map: nope.yml: no such file"),
    ],
)
def test_mapping_mistakes(spec, message):
    with pytest.raises(ImportRefused) as refused:
        parse_mapping(spec)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["19970101", "19980630"], "%Y%m%d"),
        (["2024-01-05 10:00:00", "2024-01-06 23:59:59"], "%Y-%m-%d %H:%M:%S"),
        (["2024-01-05T10:00", "2024-01-06T23:59"], "%Y-%m-%dT%H:%M"),
        (["05/01/2024", "13/01/2024"], "%d/%m/%Y"),  # a day above 12 settles the order
        (["01/05/2024", "01/13/2024"], "%m/%d/%Y"),
        (["1.12.2010 08:26", "9.12.2011 12:50"], "%d.%m.%Y %H:%M"),
    ],
)
def test_the_one_format_that_reads_every_value(values, fmt):
    assert choose_date_format(pd.Series(values), "d") == fmt


def test_empty_amount_and_row_numbers_of_the_source():
    amounts = pd.Series(["1.00", None, "2"], index=[0, 4, 5])  # rows 2-4 were duplicates, dropped
    with pytest.raises(ImportRefused) as refused:
        parse_numbers(amounts, "Sales", required=True)
    assert str(refused.value) == "Sales: row 5: None is empty"
    assert parse_numbers(pd.Series([" 1.5", None]), "Price", required=False).tolist()[0] == 1.5
