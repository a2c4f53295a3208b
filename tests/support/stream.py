"""Helpers of the real-time tests: events of the stream contract, and the API on a fresh warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ecomm import db

from support.api import start_api
from support.query import Query

DAY = "2026-03-02"
KEY = "stream-key"


def web_event(n: int, **changes) -> dict:
    data = {
        "event_id": n,
        "session_id": 1000 + n // 3,
        "customer_id": 1 + n % 50,
        "product_id": 1 + n % 20,
        "event_type": "view",
        "event_ts": f"{DAY} 10:{n // 60 % 60:02d}:{n % 60:02d}",
        **changes,
    }
    return {"event_id": f"w-{n}", "entity": "web_events", "data": data}


def order_line(order_id: int, line_no: int = 1, **changes) -> dict:
    data = {
        "order_id": order_id,
        "line_no": line_no,
        "order_ts": f"{DAY} 11:00:00",
        "customer_id": 7,
        "product_id": 3,
        "campaign_id": None,
        "quantity": 2,
        "unit_price": 10.5,
        "discount": 1.0,
        "revenue": 20.0,
        "unit_cost": 4.25,
        "status": "completed",
        "delivery_days": None,
        **changes,
    }
    return {"event_id": f"o-{order_id}-{line_no}", "entity": "order_items", "data": data}


@contextmanager
def stream_api(template_warehouse, tmp_path_factory, template_db: str, **env) -> Iterator:
    """(client with the API key, Query on the warehouse, server): `ecomm serve api` on a fresh
    warehouse and an empty registry, API keys on."""
    suffix = uuid.uuid4().hex[:8]
    warehouse, registry = f"wh_stream_{suffix}", f"mlflow_stream_{suffix}"
    db.create_database(template_warehouse, warehouse, template=template_db)
    db.create_database(template_warehouse, registry)
    settings = template_warehouse.model_copy(update={"warehouse_db": warehouse, "mlflow_db": registry})
    server, base = start_api(settings, tmp_path_factory, ECOMM_API_KEYS=f'["{KEY}"]', **env)
    query = Query(settings)
    try:
        with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": KEY}) as client:
            yield client, query, server
    finally:
        query.close()
        server.stop()
        db.drop_database(template_warehouse, warehouse)
        db.drop_database(template_warehouse, registry)
