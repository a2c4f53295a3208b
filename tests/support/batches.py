"""Hand-made raw batches for loader tests: small, readable, and easy to break on purpose."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from ecomm.entities import BY_NAME, ENTITIES

DAY = date(2025, 3, 3)


def customer(cid: int, **over) -> dict:
    row = {
        "customer_id": cid,
        "first_name": "Ada",
        "last_name": f"L{cid}",
        "email": f"c{cid}@example.com",
        "age": 35,
        "gender": "female",
        "country": "United States",
        "city": "Boston",
        "acquisition_channel": "organic",
        "signup_date": "2024-01-15",
    }
    return row | over


def product(pid: int, **over) -> dict:
    row = {
        "product_id": pid,
        "product_name": f"Widget {pid}",
        "category": "Home & Kitchen",
        "subcategory": "Cookware",
        "brand": "Acme",
        "list_price": "20.00",
        "unit_cost": "8.00",
        "launch_date": "2023-06-01",
    }
    return row | over


def order_line(oid: int, line: int, cid: int, pid: int, day: date = DAY, **over) -> dict:
    row = {
        "order_id": oid,
        "line_no": line,
        "order_ts": f"{day} 10:15:00",
        "customer_id": cid,
        "product_id": pid,
        "campaign_id": "",
        "quantity": 2,
        "unit_price": "20.00",
        "discount": "5.00",
        "revenue": "35.00",
        "unit_cost": "8.00",
        "status": "completed",
        "delivery_days": 3,
    }
    return row | over


def write_batch(root: Path, day: date = DAY, **rows_by_entity: list[dict]) -> Path:
    """Write every entity file of one batch (header-only where no rows are given)."""
    batch = root / day.isoformat()
    batch.mkdir(parents=True, exist_ok=True)
    for name in rows_by_entity:
        assert name in BY_NAME, name
    for entity in ENTITIES:
        with (batch / entity.file_name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=entity.columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows_by_entity.get(entity.name, []))
    return batch


def fill_days(root: Path) -> None:
    """Header-only batches for the days between the first and the last batch under `root` that have
    none: a day without data, as the generator writes it (a date after a missing day is refused)."""
    days = sorted(date.fromisoformat(p.name) for p in root.iterdir() if p.is_dir())
    day = days[0]
    while day < days[-1]:
        if day not in days:
            write_batch(root, day)
        day += timedelta(days=1)


def small_batch(root: Path, day: date = DAY, n_customers: int = 3, n_orders: int = 20) -> Path:
    """A clean batch: customers, products and `n_orders` one-line orders."""
    customers = [customer(i) for i in range(1, n_customers + 1)]
    products = [product(i) for i in range(1, 4)]
    orders = [order_line(1000 + i, 1, 1 + i % n_customers, 1 + i % 3) for i in range(n_orders)]
    return write_batch(root, day, customers=customers, products=products, order_items=orders)
