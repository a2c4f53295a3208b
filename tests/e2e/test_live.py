"""WS /ws/live and the live page on a real `ecomm serve api`: one producer, a snapshot on connect,
ordered ticks, a client that never reads does not delay one that does, and the page in chromium shows
the database's numbers."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest
from websockets.sync.client import connect

from conftest import TEMPLATE_DB

from support import browser
from support.stream import DAY, order_line, stream_api, web_event

TICK = 0.25


@pytest.fixture(scope="module")
def live_world(template_warehouse, tmp_path_factory):
    with stream_api(
        template_warehouse, tmp_path_factory, TEMPLATE_DB, ECOMM_STREAM_TICK_SECONDS=str(TICK)
    ) as world:
        yield world


def ws_url(api) -> str:
    return str(api.base_url.join("/ws/live")).replace("http://", "ws://")


def database_kpis(sql) -> dict:
    """The day's figures straight from the stream tables, as the KPIs define them."""
    orders, revenue = sql(
        "SELECT count(DISTINCT order_id) FILTER (WHERE status = 'completed'), "
        "coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)::text FROM stream.order_items "
        "WHERE order_ts::date = %s",
        (DAY,),
    )[0]
    sessions, converted = sql(
        "SELECT count(DISTINCT session_id), count(DISTINCT session_id) FILTER (WHERE event_type = 'purchase') "
        "FROM stream.web_events WHERE event_ts::date = %s",
        (DAY,),
    )[0]
    return {"orders": orders, "revenue": float(revenue), "sessions": sessions, "converted": converted}


def post_some(api, first: int) -> None:
    events = [order_line(first + i, status="completed" if i % 4 else "cancelled") for i in range(20)]
    events += [web_event(first + i, event_type="purchase" if i % 5 == 0 else "view") for i in range(60)]
    response = api.post("/events", json={"events": events})
    assert response.status_code == 202 and response.json()["stored"] == 80, response.text


def messages_until(ws, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if predicate(message):
            return message
    raise AssertionError("no such message in time")


def test_a_client_gets_a_snapshot_on_connect_then_ordered_ticks_that_follow_posted_events(live_world):
    api, sql, _ = live_world
    post_some(api, 1)
    with connect(ws_url(api)) as first:  # the producer's latest tick may predate the 202: wait for one after
        messages_until(first, lambda m: m["today"]["orders"] == 15)
    with connect(ws_url(api)) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        assert snapshot["type"] == "snapshot" and snapshot["day"] == DAY
        expected = database_kpis(sql)
        assert snapshot["today"]["orders"] == expected["orders"] == 15
        assert snapshot["today"]["revenue"] == expected["revenue"] == 300.0
        assert snapshot["today"]["sessions"] == expected["sessions"] == 21
        assert snapshot["today"]["conversion"] == round(expected["converted"] / expected["sessions"], 4)
        ticks = [json.loads(ws.recv(timeout=5)) for _ in range(4)]
        assert [t["type"] for t in ticks] == ["tick"] * 4
        assert [t["seq"] for t in ticks] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 5))
        posted_at = time.monotonic()
        post_some(api, 1001)
        moved = messages_until(ws, lambda m: m["today"]["orders"] == 30)
        assert time.monotonic() - posted_at < 2 * TICK + 1.0  # visible within a tick or two of the 202
        assert moved["today"]["revenue"] == database_kpis(sql)["revenue"] == 600.0
        assert moved["last_minute"]["events"] == 160
        assert moved["top_products"][0] == {
            "product_id": 3,
            "name": "product 3",
            "revenue": 600.0,
            "units": 60,
        }
        assert moved["top_categories"] == [{"category": "unknown", "revenue": 600.0, "units": 60}]
        assert len(moved["recent_events"]) == 10


def stalled_client(api) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (a tiny receive buffer)."""
    sock = socket.create_connection((api.base_url.host, api.base_url.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/live HTTP/1.1\r\nHost: {api.base_url.host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


def test_clients_that_never_read_do_not_delay_one_that_does(live_world):
    api, _, _ = live_world
    stalled = [stalled_client(api) for _ in range(40)]
    try:
        with connect(ws_url(api)) as ws:
            first = json.loads(ws.recv(timeout=10))
            assert first["clients"] == 41
            # every client is written to directly (uvicorn's connection), none through a send task
            metrics = api.get("/metrics").text
            assert 'ecomm_live_clients{path="direct"} 41.0' in metrics
            assert 'ecomm_live_clients{path="asgi"}' not in metrics
            arrivals, seqs = [], []
            for _ in range(12):
                seqs.append(json.loads(ws.recv(timeout=5))["seq"])
                arrivals.append(time.monotonic())
            assert seqs == list(range(first["seq"] + 1, first["seq"] + 13))  # every tick, in order
            gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
            assert max(gaps) < 3 * TICK, gaps
    finally:
        for sock in stalled:
            sock.close()


def test_the_live_page_in_chromium_shows_the_databases_numbers_and_moves(live_world):
    api, sql, _ = live_world
    with browser.open_browser() as page:
        failures = []
        page.on("pageerror", lambda exc: failures.append(str(exc)))
        page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(str(api.base_url.join("/live")))
        page.wait_for_function("document.getElementById('status').className === 'connected'", timeout=20_000)

        def tile(name: str) -> str:
            return page.get_attribute(f"#{name}", "data-value")

        before = database_kpis(sql)
        page.wait_for_function(
            f"document.getElementById('today-orders').dataset.value === '{before['orders']}'"
        )
        assert float(tile("today-revenue")) == before["revenue"]
        post_some(api, 5001)
        after = database_kpis(sql)
        assert after["orders"] == before["orders"] + 15
        page.wait_for_function(
            f"document.getElementById('today-orders').dataset.value === '{after['orders']}'", timeout=10_000
        )
        assert float(tile("today-revenue")) == after["revenue"]
        assert int(tile("today-sessions")) == after["sessions"]
        assert float(tile("minute-eps")) > 0
        assert page.locator("#recent tr").count() == 10
        assert page.get_attribute("#line", "points").count(",") >= 2  # the chart has points
        assert failures == []
        origin = str(api.base_url).rstrip("/")
        assert {u.replace("ws://", "http://").split("/")[2] for u in requested} == {origin.split("/")[2]}
