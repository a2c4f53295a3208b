"""Point-in-time churn features and labels on a hand-made shop, value by value.

Customer 1 (signed up 2024-01-15) around the cutoff 2025-03-14:
  03-01  order 100: line 1 product 1 (Home & Kitchen), line 2 product 2 (Books); delivered in 3 days;
         session 1: views, a cart add and two purchases
  03-02  campaign 1 exposure (treated)
  03-05  order 101: product 1 with a discount, delivery in 10 days (lands 03-15, after the cutoff)
  03-08  line 100/1 returned; review of product 2 (2 stars)
  03-10  order 102 cancelled; session 2: a view and a cart add, no purchase (abandoned)
  03-14  (the cutoff) order 103, session 3, campaign 2 exposure  -> not features; order 103 -> label
  03-15  review of product 1 (5 stars)                            -> not a feature
  03-16  line 101/1 returned                                      -> not a feature (kept as completed)
Customer 2 (signed up 2024-06-01): one order 03-02, nothing after -> churned.
Customer 3 signs up 2025-03-20: not in the cutoff's population.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ecomm import db
from ecomm.features import columns as C
from ecomm.features import interactions as I
from ecomm.features.churn import FeatureError, buyers_among, churn_features, churn_labels, warehouse_span
from ecomm.ml.recommend.general.interactions import Params, validate_interactions
from ecomm.ml.recommend.general.shop import SHOP_EVENT_WEIGHTS, shop_interactions, shop_items
from ecomm.warehouse.run import load_path

from support.batches import customer, fill_days, order_line, product, write_batch

CUTOFF = date(2025, 3, 14)
D = {d: date(2025, 3, d) for d in range(1, 21)}


def line(oid, no, cid, pid, day, *, discount="0.00", status="completed", delivery=3, campaign=""):
    revenue = f"{40 - float(discount):.2f}"
    return order_line(
        oid,
        no,
        cid,
        pid,
        day,
        discount=discount,
        revenue=revenue,
        status=status,
        delivery_days="" if status == "cancelled" else delivery,
        campaign_id=campaign,
    )


def events(first_id, session, cid, day, kinds):
    return [
        {
            "event_id": first_id + i,
            "session_id": session,
            "customer_id": cid,
            "product_id": pid,
            "event_type": kind,
            "event_ts": f"{day} 12:{i:02d}:00",
        }
        for i, (kind, pid) in enumerate(kinds)
    ]


def campaign(cid, day):
    return {
        "campaign_id": cid,
        "campaign_name": f"campaign {cid}",
        "channel": "email",
        "campaign_type": "targeted",
        "offer": "10% off",
        "discount_pct": "10.00",
        "target_countries": "",
        "start_date": day,
        "end_date": day + timedelta(days=7),
    }


def review(rid, cid, pid, oid, rating, day):
    return {
        "review_id": rid,
        "customer_id": cid,
        "product_id": pid,
        "order_id": oid,
        "rating": rating,
        "review_date": day,
    }


@pytest.fixture
def shop(warehouse, tmp_path):
    root = tmp_path / "raw"
    write_batch(
        root,
        D[1],
        customers=[customer(1), customer(2, signup_date="2024-06-01", country="Germany")],
        products=[product(1), product(2, category="Books", subcategory="Fiction")],
        campaigns=[campaign(1, D[2]), campaign(2, D[14])],
        order_items=[line(100, 1, 1, 1, D[1]), line(100, 2, 1, 2, D[1])],
        web_events=events(
            1, 1, 1, D[1], [("view", 1), ("add_to_cart", 1), ("view", 2), ("purchase", 1), ("purchase", 2)]
        ),
    )
    write_batch(
        root,
        D[2],
        campaign_exposure=[{"customer_id": 1, "campaign_id": 1, "treated": "true", "exposure_date": D[2]}],
        order_items=[line(110, 1, 2, 2, D[2])],
    )
    write_batch(root, D[5], order_items=[line(101, 1, 1, 1, D[5], discount="5.00", delivery=10)])
    write_batch(
        root,
        D[8],
        returns=[{"order_id": 100, "line_no": 1, "return_date": D[8], "reason": "damaged"}],
        reviews=[review(1, 1, 2, 100, 2, D[8])],
    )
    write_batch(
        root,
        D[10],
        order_items=[line(102, 1, 1, 2, D[10], status="cancelled")],
        web_events=events(10, 2, 1, D[10], [("view", 2), ("add_to_cart", 2)]),
    )
    write_batch(
        root,
        D[14],
        order_items=[line(103, 1, 1, 2, D[14])],
        web_events=events(20, 3, 1, D[14], [("view", 1)]),
        campaign_exposure=[{"customer_id": 1, "campaign_id": 2, "treated": "true", "exposure_date": D[14]}],
    )
    write_batch(root, D[15], reviews=[review(2, 1, 1, 101, 5, D[15])])
    write_batch(
        root, D[16], returns=[{"order_id": 101, "line_no": 1, "return_date": D[16], "reason": "damaged"}]
    )
    write_batch(
        root,
        D[20],
        customers=[customer(3, signup_date="2025-03-20")],
        web_events=events(30, 4, 3, D[20], [("view", 1)]),
    )
    fill_days(root)  # the days between are days without data
    report = load_path(warehouse, root, marts=False)  # features read the warehouse
    assert [b.status for b in report.batches] == ["loaded"] * 20
    assert sum(b.total("quarantined") for b in report.batches) == 0
    return warehouse


def test_features_at_the_cutoff_value_by_value(shop):
    with db.connection(shop) as conn:
        frame = churn_features(conn, CUTOFF, buyers_only=False).set_index(C.CUSTOMER_ID)
    assert frame.index.tolist() == [1, 2]
    one = frame.loc[1]
    expected = {
        C.CUTOFF: CUTOFF,
        C.AGE: 35,
        C.COUNTRY: "United States",
        C.GENDER: "female",
        C.ACQUISITION_CHANNEL: "organic",
        C.TOTAL_ORDERS: 2,  # 100 and 101; 102 was cancelled, 103 is on the cutoff
        C.CANCELLED_ORDERS: 1.0,
        C.CANCEL_RATE: 1 / 3,
        C.TOTAL_SPENT: 40.0 + 35.0,  # line 100/1 was returned before the cutoff; 101/1 only after it
        C.AVG_ORDER_VALUE: 37.5,
        C.DAYS_SINCE_LAST_ORDER: 9,
        C.CUSTOMER_DURATION_DAYS: (CUTOFF - date(2024, 1, 15)).days,
        C.ORDER_FREQUENCY: 2 / (CUTOFF - date(2024, 1, 15)).days,
        C.DAILY_SPEND: 75.0 / (CUTOFF - date(2024, 1, 15)).days,
        C.OBSERVED_DAYS: 13.0,  # the warehouse starts on 03-01
        C.ORDERS_PER_30D: 2 * 30 / 13,
        C.RECENCY_RATIO: 9 * 2 / 13,
        C.MEAN_DAYS_BETWEEN_ORDERS: 4.0,
        C.ORDERS_30D: 2.0,
        C.ORDERS_PREV_60D: 0.0,
        C.ORDER_TREND: 2.0,
        C.ORDERS_180D: 2.0,
        C.SPEND_90D: 75.0,
        C.LINES_PER_ORDER: 1.5,
        C.RETURN_RATE: 1 / 3,
        C.RETURNS_90D: 1.0,
        C.DELIVERED_ORDERS: 1.0,  # 101 lands on 03-15
        C.LATE_DELIVERY_SHARE: 0.0,
        C.AVG_DELIVERY_DAYS: 3.0,
        C.DISCOUNTED_ORDER_SHARE: 0.5,
        C.DISCOUNT_SHARE: 5 / 120,
        C.CAMPAIGN_ORDERS: 0.0,
        C.CAMPAIGN_ORDER_SHARE: 0.0,
        C.SESSIONS_30D: 2.0,
        C.SESSIONS_90D: 2.0,
        C.VIEWS_30D: 3.0,
        C.SESSIONS_TOTAL: 2.0,
        C.SESSIONS_PER_30D: 2 * 30 / 13,
        C.DAYS_SINCE_LAST_SESSION: 4.0,
        C.SESSION_RECENCY_RATIO: 4 * 2 / 13,
        C.CART_SESSIONS_90D: 2.0,
        C.CART_ABANDONMENT_RATE: 0.5,
        C.REVIEWS: 1.0,
        C.REVIEW_RATE: 0.5,
        C.AVG_RATING: 2.0,
        C.LOW_RATING_SHARE: 1.0,
        C.CAMPAIGNS_ELIGIBLE: 1.0,
        C.CAMPAIGNS_TREATED: 1.0,
        C.DAYS_SINCE_CAMPAIGN: 12.0,
        C.CATEGORY_COUNT: 2.0,
        C.TOP_CATEGORY_SHARE: 2 / 3,
        "cat_share_home_kitchen": 2 / 3,
        "cat_share_books": 1 / 3,
    }
    for name, value in expected.items():
        assert one[name] == pytest.approx(value), name
    assert set(frame.columns) - {C.CUSTOMER_ID} == {
        C.CUTOFF,
        *C.CATEGORICAL_FEATURES,
        *C.NUMERIC_FEATURES,
        "cat_share_home_kitchen",
        "cat_share_books",
    }


def test_buyers_only_and_labels(shop):
    with db.connection(shop) as conn:
        buyers = churn_features(conn, CUTOFF)
        labels = churn_labels(conn, CUTOFF, horizon_days=7).set_index(C.CUSTOMER_ID)[C.LABEL]
        with pytest.raises(
            FeatureError, match="label window ends 2025-03-23, after the last loaded date 2025-03-20"
        ):
            churn_labels(conn, CUTOFF, horizon_days=10)
        span = warehouse_span(conn)
    assert buyers[C.CUSTOMER_ID].tolist() == [1, 2]
    assert labels.to_dict() == {1: 0, 2: 1}  # 103 on the cutoff counts for customer 1
    assert (span.first_day, span.last_day) == (D[1], D[20])


def test_a_customer_without_orders_is_scored_but_not_trained_on(shop):
    """On 03-02 customer 2 has signed up but not ordered yet (its order is on the cutoff)."""
    with db.connection(shop) as conn:
        everyone = churn_features(conn, D[2], buyers_only=False).set_index(C.CUSTOMER_ID)
        buyers = churn_features(conn, D[2])
    assert buyers[C.CUSTOMER_ID].tolist() == [1]
    two = everyone.loc[2]
    assert two[C.TOTAL_ORDERS] == 0
    assert two[C.TOTAL_SPENT] == 0.0
    assert two[C.DAYS_SINCE_LAST_ORDER] is pd.NA
    assert two[C.SESSIONS_TOTAL] == 0.0


@pytest.mark.parametrize("day", [2, 3, 9, 15, 17, 21])
def test_the_buyers_taken_from_everyones_features_are_the_churn_population(shop, day):
    """Monitoring builds every customer's features once and takes the churn population from them
    (features.churn.buyers_among): the same rows, values and types as building it again."""
    with db.connection(shop) as conn:
        cutoff = D[day] if day in D else D[20] + timedelta(days=1)
        taken = buyers_among(conn, churn_features(conn, cutoff, buyers_only=False), cutoff)
        built = churn_features(conn, cutoff)
    pd.testing.assert_frame_equal(taken, built)


def test_recommender_inputs_respect_their_window(shop):
    with db.connection(shop) as conn:
        views = I.web_interactions(conn, None, CUTOFF)
        bought = I.purchases(conn, None, CUTOFF)
        later = I.purchases(conn, CUTOFF, D[20])
        stars = I.reviews(conn, None, CUTOFF)
        catalog = I.catalog(conn, CUTOFF)
        people = I.customers(conn, CUTOFF)
    assert views.to_dict("records") == [
        {"customer_id": 1, "product_id": 1, "views": 1.0, "carts": 1.0, "purchases": 1.0},
        {"customer_id": 1, "product_id": 2, "views": 2.0, "carts": 1.0, "purchases": 1.0},
    ]
    assert bought.to_dict("records") == [
        {"customer_id": 1, "product_id": 1, "lines": 2.0},
        {"customer_id": 1, "product_id": 2, "lines": 1.0},
        {"customer_id": 2, "product_id": 2, "lines": 1.0},
    ]
    assert later.to_dict("records") == [{"customer_id": 1, "product_id": 2, "lines": 1.0}]
    assert stars.to_dict("records") == [{"customer_id": 1, "product_id": 2, "rating": 2.0}]
    assert catalog[C.PRODUCT_ID].tolist() == [1, 2]
    assert people[C.CUSTOMER_ID].tolist() == [1, 2]


def test_the_general_recommenders_shop_adapter_reads_events_with_timestamps(shop):
    with db.connection(shop) as conn:
        frame = shop_interactions(conn, CUTOFF)
        items = shop_items(conn, CUTOFF)
    assert frame.to_dict("records") == [
        {"user_id": 1, "item_id": 1, "event": "order", "timestamp": order_time(D[1])},
        {"user_id": 1, "item_id": 2, "event": "order", "timestamp": order_time(D[1])},
        {"user_id": 1, "item_id": 1, "event": "view", "timestamp": ts(D[1], 0)},
        {"user_id": 1, "item_id": 1, "event": "add_to_cart", "timestamp": ts(D[1], 1)},
        {"user_id": 1, "item_id": 2, "event": "view", "timestamp": ts(D[1], 2)},
        {"user_id": 1, "item_id": 1, "event": "purchase", "timestamp": ts(D[1], 3)},
        {"user_id": 1, "item_id": 2, "event": "purchase", "timestamp": ts(D[1], 4)},
        {"user_id": 2, "item_id": 2, "event": "order", "timestamp": order_time(D[2])},
        {"user_id": 1, "item_id": 1, "event": "order", "timestamp": order_time(D[5])},
        {"user_id": 1, "item_id": 2, "event": "view", "timestamp": ts(D[10], 0)},
        {"user_id": 1, "item_id": 2, "event": "add_to_cart", "timestamp": ts(D[10], 1)},
    ]
    assert items.to_dict("records") == [
        {"item_id": 1, "category": "Home & Kitchen", "price": 20.0},
        {"item_id": 2, "category": "Books", "price": 20.0},
    ]
    validate_interactions(frame, Params(event_weights=SHOP_EVENT_WEIGHTS))  # every shop event has a weight


def ts(day: date, minute: int) -> pd.Timestamp:
    """The time of the `minute`-th web event of a session in `events` (12:00 on)."""
    return pd.Timestamp(f"{day} 12:{minute:02d}:00")


def order_time(day: date) -> pd.Timestamp:
    return pd.Timestamp(f"{day} 10:15:00")  # support.batches.order_line's order_ts
