"""Generation throughput: our vectorised simulator vs a row-wise Faker generator (the templates' way)."""

from __future__ import annotations

from benchmarks.common import WORK, measure

OURS = """
import shutil
from datetime import date
from pathlib import Path
from ecomm.datagen import GeneratorConfig, generate_history
out = Path({out!r}); shutil.rmtree(out, ignore_errors=True)
summary = generate_history(GeneratorConfig(seed=7, as_of=date(2025, 6, 30), days={days},
                                           customers={customers}, products={products}), out)
result = {{"rows": summary.rows, "orders": summary.orders, "seconds": summary.seconds}}
"""

# One Faker call per field per row, as the seed templates do; the same kind of order-line row.
ROW_WISE = """
import random, time
import pandas as pd
from faker import Faker
fake = Faker(); Faker.seed(0); random.seed(0)
categories = ["Electronics", "Fashion", "Home & Kitchen", "Beauty", "Sports", "Books", "Toys", "Grocery"]
start = time.perf_counter()
rows = []
for i in range({n}):
    quantity = fake.random_int(1, 3)
    price = fake.pyfloat(min_value=5, max_value=500, right_digits=2)
    rows.append({{"order_id": i, "customer_name": fake.name(), "email": fake.email(), "city": fake.city(),
                 "country": fake.country(), "product_name": fake.catch_phrase(),
                 "category": random.choice(categories), "quantity": quantity, "unit_price": price,
                 "revenue": round(quantity * price, 2), "order_ts": fake.date_time_this_year()}})
pd.DataFrame(rows).to_csv({out!r}, index=False)
result = {{"rows": {n}, "seconds": time.perf_counter() - start}}
"""


def run(customers: int, products: int, days: int, baseline_rows: int) -> dict:
    out = WORK / "world"
    ours = measure(OURS.format(out=str(out), days=days, customers=customers, products=products))
    base = measure(ROW_WISE.format(n=baseline_rows, out=str(WORK / "row_wise.csv")))
    rows = ours["rows"]
    total_rows = sum(rows.values())
    ours_lines_per_s = rows["order_items"] / ours["seconds"]
    base_rows_per_s = base["rows"] / base["seconds"]
    return {
        "config": {"customers": customers, "products": products, "days": days},
        "ours": {
            "seconds": round(ours["seconds"], 2),
            "orders": ours["orders"],
            "rows": rows,
            "total_rows": total_rows,
            "rows_per_s": round(total_rows / ours["seconds"]),
            "order_lines_per_s": round(ours_lines_per_s),
            "peak_rss_mib": round(ours["peak_rss_mib"]),
        },
        "row_wise_faker": {
            "rows": base["rows"],
            "seconds": round(base["seconds"], 2),
            "rows_per_s": round(base_rows_per_s),
            "peak_rss_mib": round(base["peak_rss_mib"]),
        },
        # Conservative: only our order lines count, although every other entity was generated too.
        "ratio_order_lines_vs_row_wise": round(ours_lines_per_s / base_rows_per_s, 1),
        "ratio_all_rows_vs_row_wise": round(total_rows / ours["seconds"] / base_rows_per_s, 1),
        "world_dir": str(out),
    }
