"""WS /ws/live with two uvicorn workers sharing the live KPIs through a real redis-server
(`ECOMM_LIVE_BUS_URL`): one worker computes, clients of both workers get the same ticks with the
database's numbers, Redis lost and back, and the producer's worker killed (another takes over)."""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import TEMPLATE_DB
from ecomm.stream.bus import LATEST, LOCK, lock_ttl

from support.redis_server import RedisServer
from support.stream import DAY, order_line, stream_api, web_event

TICK = 0.25


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bus_world(template_warehouse, tmp_path_factory, redis_server):
    env = {"ECOMM_STREAM_TICK_SECONDS": str(TICK), "ECOMM_API_WORKERS": "2"}
    with stream_api(
        template_warehouse, tmp_path_factory, TEMPLATE_DB, **env, ECOMM_LIVE_BUS_URL=redis_server.url
    ) as (api, sql, server):
        # where `ecomm serve api` keeps its workers' metric files (ecomm.api.serve)
        metrics = template_warehouse.home / "run" / f"prometheus-{api.base_url.port}"
        yield api, sql, server, metrics


def per_worker(metrics: Path, kind: str, metric: str) -> dict[int, float]:
    """uvicorn worker pid -> the value of `metric` in its prometheus_client file (several labels summed)."""
    from prometheus_client.mmap_dict import MmapedDict

    values: dict[int, float] = {}
    for path in glob.glob(str(metrics / f"{kind}_*.db")):
        pid = int(re.search(r"_(\d+)[.]db$", path).group(1))
        for key, value, *_ in MmapedDict.read_all_values_from_file(path):
            if json.loads(key)[1] == metric:
                values[pid] = values.get(pid, 0) + value
    return values


def clients_per_worker(metrics: Path) -> dict[int, int]:
    found = per_worker(metrics, "gauge_livesum", "ecomm_live_clients")
    return {pid: int(n) for pid, n in found.items() if n > 0}


def ws_url(api) -> str:
    return str(api.base_url.join("/ws/live")).replace("http://", "ws://")


def post_some(api, first: int) -> None:
    events = [order_line(first + i, status="completed" if i % 4 else "cancelled") for i in range(20)]
    events += [web_event(first + i, event_type="purchase" if i % 5 == 0 else "view") for i in range(60)]
    response = api.post("/events", json={"events": events})
    assert response.status_code == 202 and response.json()["stored"] == 80, response.text


def completed_orders_and_revenue(sql) -> tuple[int, float]:
    orders, revenue = sql(
        "SELECT count(DISTINCT order_id), coalesce(sum(revenue), 0)::text FROM stream.order_items "
        "WHERE status = 'completed' AND order_ts::date = %s",
        (DAY,),
    )[0]
    return orders, float(revenue)


def open_clients_on_both_workers(api, metrics: Path, stack: ExitStack, at_most: int = 40) -> list:
    """Clients connected (each past its first tick, so counted) until both workers serve some."""
    clients = []
    while len(clients) < at_most:
        ws = stack.enter_context(connect(ws_url(api)))
        clients.append(ws)
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        assert json.loads(ws.recv(timeout=10))["type"] == "tick"
        counted = clients_per_worker(metrics)  # (a client that left is counted until its worker notices)
        if len(clients) >= 6 and len(counted) == 2 and sum(counted.values()) == len(clients):
            return clients
    raise AssertionError(f"{at_most} clients all reached one worker: {clients_per_worker(metrics)}")


def frames_until(ws, last_seq: int, timeout: float = 15.0) -> dict[int, dict]:
    """seq -> the tick (without `clients`, which counts the clients of the client's worker) up to `last_seq`."""
    frames, deadline = {}, time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        assert frame.pop("type") == "tick"
        frame.pop("clients")
        frames[frame["seq"]] = frame
        if frame["seq"] >= last_seq:
            return frames


def producer_pid(redis_server) -> int | None:
    """The pid of the worker holding the producer lock (None while nobody does)."""
    holder = redis_server.client().get(LOCK)
    return int(holder.rsplit(":", 1)[1]) if holder else None


def test_one_worker_computes_and_every_client_of_both_workers_gets_the_same_ticks(bus_world, redis_server):
    api, sql, server, metrics = bus_world
    post_some(api, 1)
    with ExitStack() as stack:
        clients = open_clients_on_both_workers(api, metrics, stack)
        served = clients_per_worker(metrics)
        first = [json.loads(ws.recv(timeout=5))["seq"] for ws in clients]
        upto = max(first) + 8
        post_some(api, 1001)
        seen = [frames_until(ws, upto) for ws in clients]
        common = range(max(first) + 1, upto + 1)
        for frames in seen:  # every client got every tick of the range, and the same ones
            assert [frames[s] for s in common] == [seen[0][s] for s in common]
        final = seen[0][upto]
        assert (
            (final["today"]["orders"], final["today"]["revenue"])
            == completed_orders_and_revenue(sql)
            == (30, 600.0)
        )
        assert final["last_minute"]["events"] == 160
    computed = {
        pid: n for pid, n in per_worker(metrics, "counter", "ecomm_live_ticks_computed_total").items() if n
    }
    producer = producer_pid(redis_server)
    assert list(computed) == [producer], computed  # one worker computed every tick
    assert computed[producer] >= upto  # seq 1..upto, all its own
    assert len(served) == 2 and producer in served and sum(served.values()) == len(clients), served
    assert server.tail(200).count("now computes the live KPIs") == 1


def drain(ws, last: int) -> int:
    """The seq of the last tick sent to `ws` (`last` or one still unread; waits 1.5 ticks for a late one)."""
    while True:
        try:
            last = json.loads(ws.recv(timeout=1.5 * TICK))["seq"]
        except TimeoutError:
            return last


def test_redis_lost_pauses_the_ticks_and_they_go_on_when_it_is_back(bus_world, redis_server):
    api, sql, server, metrics = bus_world
    with ExitStack() as stack:
        clients = open_clients_on_both_workers(api, metrics, stack)
        seen = [json.loads(ws.recv(timeout=5))["seq"] for ws in clients]
        redis_server.stop()
        last = max(drain(ws, n) for ws, n in zip(clients, seen, strict=True))
        for ws in clients:  # connected, and nothing comes
            with pytest.raises(TimeoutError):
                ws.recv(timeout=4 * TICK)
        assert api.get("/health").status_code == 200
        with connect(ws_url(api)) as late:  # a new client gets its worker's last KPIs
            assert json.loads(late.recv(timeout=5))["seq"] == last
        redis_server.start()
        resumed_by = time.monotonic() + 5.0
        for ws in clients:
            frames = frames_until(ws, last + 3, timeout=resumed_by - time.monotonic())
            # numbered on from the last tick (a worker resubscribing late misses the first: pub/sub)
            assert sorted(frames) == list(range(min(frames), last + 4)) and min(frames) > last
    log = server.tail(400)
    for what in ("the producer lock", "the tick subscription"):  # once per worker, not every tick
        assert log.count(f"live bus: {what} lost Redis") == 2, log
        assert log.count(f"live bus: {what} reached Redis again") == 2, log


def test_the_producers_worker_killed_another_takes_over_and_numbers_on(bus_world, redis_server):
    api, sql, server, metrics = bus_world
    with ExitStack() as stack:
        clients = open_clients_on_both_workers(api, metrics, stack)
        served, producer = clients_per_worker(metrics), producer_pid(redis_server)
        os.kill(producer, signal.SIGKILL)
        killed_at = time.monotonic()
        while producer_pid(redis_server) in (producer, None):  # its lock expires, another worker takes it
            assert time.monotonic() - killed_at < lock_ttl(TICK) + 2.0, "nobody took the producer lock over"
            time.sleep(0.05)
        successor, took_over = producer_pid(redis_server), time.monotonic() - killed_at
        stored = json.loads(redis_server.client().get(LATEST))["seq"]
        closed, survivors = 0, []
        for ws in clients:
            try:
                survivors.append(frames_until(ws, stored + 3))
            except ConnectionClosed:
                closed += 1
    assert closed == served[producer] and len(survivors) == served[successor], served
    for frames in survivors:  # every tick before and after the takeover, none missing or repeated
        assert sorted(frames) == list(range(min(frames), stored + 4))
    computed = per_worker(metrics, "counter", "ecomm_live_ticks_computed_total")
    assert computed[successor] >= 3
    assert took_over < lock_ttl(TICK) + 2 * TICK + 0.5  # the lock's time to live and a tick or two
