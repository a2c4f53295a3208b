"""`ecomm import interactions`: events become web events in derived sessions, ratings become reviews
of no known order; through the contract and the one loader like every batch."""

from __future__ import annotations

from datetime import date

import pytest

from ecomm import db
from ecomm.features.churn import FeatureError, warehouse_span
from ecomm.imports import interactions
from ecomm.imports.run import import_interactions
from ecomm.imports.values import parse_mapping

from support.cli import ecomm


def _map(spec: str) -> dict[str, str]:
    return parse_mapping(spec, interactions.REQUIRED, interactions.OPTIONAL)


def test_events_become_web_events_in_sessions(warehouse, sql, tmp_path):
    log = tmp_path / "events.csv"
    rows = [
        "visitor,item,kind,ts",
        "u1,A,click,2024-05-01 10:00:00",
        "u1,B,addtocart,2024-05-01 10:10:00",
        "u1,B,transaction,2024-05-01 10:20:00",
        "u1,A,view,2024-05-01 11:00:00",  # 40 minutes later: a new session
        "u2,A,wishlist,2024-05-01 10:05:00",  # not an event of the contract: quarantined by the loader
    ] + [f"u{3 + i},C,view,2024-05-01 12:00:00" for i in range(20)]  # 1 bad row of 25 stays under 5%
    log.write_text("\n".join(rows) + "\n")
    report = import_interactions(
        warehouse, log, _map("user_id=visitor,item_id=item,event=kind,timestamp=ts"), out=tmp_path / "b"
    )
    d = report.derived
    assert (d.rows_read, d.events, d.customers, d.products) == (25, 25, 22, 3)
    assert report.imported == {"customers": 22, "products": 3, "web_events": 24}
    assert report.quarantined == {
        "web_events: event_type: must be one of view, add_to_cart, purchase (got 'wishlist')": 1
    }
    assert report.load.ok
    assert [(c.passed, c.details) for c in report.load.checks if c.name == "freshness"] == [
        (
            True,
            "24 web events and 0 reviews in the latest batch 2024-05-01 (a log of interactions: the "
            "warehouse holds no order line)",
        )
    ]
    assert sql(
        "SELECT session_id, p.product_name, event_type, event_ts::text FROM warehouse.fact_web_events e "
        "JOIN warehouse.dim_product p USING (product_id) WHERE customer_id = 1 ORDER BY event_ts"
    ) == [
        (1, "A", "view", "2024-05-01 10:00:00"),
        (1, "B", "add_to_cart", "2024-05-01 10:10:00"),
        (1, "B", "purchase", "2024-05-01 10:20:00"),
        (3, "A", "view", "2024-05-01 11:00:00"),  # sessions numbered by start: u2's (10:05) is 2
    ]


def test_ratings_become_reviews_of_no_known_order_and_reimport_changes_nothing(warehouse, sql, tmp_path):
    log = tmp_path / "ratings.csv"
    log.write_text(
        "user\titem\trating\ttimestamp\n196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250949\n"
    )
    mapping = _map("user_id=user,item_id=item,rating=rating,timestamp=timestamp")
    report = import_interactions(warehouse, log, mapping, delimiter="\t", out=tmp_path / "b")
    assert report.derived.ratings == 3
    assert (report.derived.first_day, report.derived.last_day) == (date(1997, 12, 4), date(1998, 4, 4))
    # a log without orders is fresh when its latest batch holds ratings (no order line to look for)
    assert report.load.ok
    assert [(c.passed, c.details) for c in report.load.checks if c.name == "freshness"] == [
        (
            True,
            "0 web events and 1 reviews in the latest batch 1998-04-04 (a log of interactions: the "
            "warehouse holds no order line)",
        )
    ]
    expected = [
        (186, 302, None, 3, date(1998, 4, 4)),
        (196, 242, None, 3, date(1997, 12, 4)),
        (196, 302, None, 5, date(1997, 12, 4)),
    ]
    query = "SELECT customer_id, product_id, order_id, rating, review_date FROM warehouse.fact_reviews ORDER BY 1, 2"
    assert sql(query) == expected
    again = import_interactions(warehouse, log, mapping, delimiter="\t", out=tmp_path / "b")
    assert again.imported == {} and {b.status for b in again.load.batches} == {"skipped"}
    assert sql(query) == expected
    # the shop's models learn from orders and web events: each says so in one line
    with db.connection(warehouse) as conn, pytest.raises(FeatureError) as refused:
        warehouse_span(conn)
    assert str(refused.value) == (
        "the warehouse holds 3 ratings but no orders or web events (a rating log): this model learns from "
        "orders and web events"
    )


def test_half_stars_are_refused(tmp_path):
    log = tmp_path / "ratings.csv"
    log.write_text("user,item,rating,timestamp\n1,2,4.5,881250949\n")
    result = ecomm(
        "import",
        "interactions",
        str(log),
        "--map",
        "user_id=user,item_id=item,rating=rating,timestamp=timestamp",
        env={"ECOMM_HOME": str(tmp_path / "home")},
    )
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "error: rating: row 1: 4.5 is not a whole number of stars",
    )
    assert not (tmp_path / "home" / "imports").exists()
