"""The API (in-process, no server) and the customers the purchase routes answer for, on a trained
world: shared by the purchase serving and scoring tests."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from ecomm import db
from ecomm.ml import registry

ACTIVE_BEFORE = """
SELECT c.customer_id FROM warehouse.dim_customer c
WHERE c.signup_date < %(d)s
  AND (EXISTS (SELECT 1 FROM warehouse.fact_order_items f
               WHERE f.customer_id = c.customer_id AND f.order_date < %(d)s)
       OR EXISTS (SELECT 1 FROM warehouse.fact_web_events e
                  WHERE e.customer_id = c.customer_id AND e.event_date < %(d)s))
ORDER BY 1
"""


def purchase_api(settings) -> tuple[TestClient, dt.date]:
    """A client of the API with purchase_model v1 loaded, and the warehouse's 'now'."""
    from ecomm.api.app import create_app
    from ecomm.api.model_store import ModelStore

    store = ModelStore(settings)
    assert store.refresh()[registry.PURCHASE_MODEL] == "loaded v1"
    app = create_app(settings, store=store)
    return TestClient(app), app.state.warehouse.as_of()  # no lifespan: the store is loaded above


def active_customers(settings, as_of: dt.date) -> list[int]:
    """Customers signed up before `as_of` with an order or a web session before it, in id order."""
    with db.connection(settings) as conn:
        return db.query_frame(conn, ACTIVE_BEFORE, {"d": as_of})["customer_id"].tolist()
