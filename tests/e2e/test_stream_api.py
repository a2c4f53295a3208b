"""POST /events on a real `ecomm serve api` (uvicorn) over a real warehouse: events validated with
the raw contract, landed once in the `stream` schema, acknowledged after the commit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import TEMPLATE_DB
from ecomm import db

from support.api import assert_error, start_api
from support.stream import DAY, KEY, order_line, stream_api, web_event


@pytest.fixture(scope="module")
def stream_world(template_warehouse, tmp_path_factory):
    """The API on a fresh warehouse with keys and a small queue (1,500 events)."""
    with stream_api(
        template_warehouse,
        tmp_path_factory,
        TEMPLATE_DB,
        ECOMM_STREAM_QUEUE_EVENTS="1500",
        ECOMM_STREAM_BATCH_EVENTS="1000",
    ) as world:
        yield world


@pytest.fixture
def api(stream_world):
    return stream_world[0]


@pytest.fixture
def sql(stream_world):
    return stream_world[1]


def test_a_batch_is_stored_once_and_a_retry_answers_200(api, sql):
    batch = {"events": [web_event(n) for n in range(1, 1001)]}
    first = api.post("/events", json=batch)
    assert first.status_code == 202, first.text
    assert first.json() == {
        "accepted": 1000,
        "stored": 1000,
        "duplicates": 0,
        "rejected": 0,
        "rejected_events": [],
    }
    retry = api.post("/events", json=batch)
    assert retry.status_code == 200, retry.text
    assert retry.json() == {
        "accepted": 1000,
        "stored": 0,
        "duplicates": 1000,
        "rejected": 0,
        "rejected_events": [],
    }
    rows = sql(
        "SELECT count(*), count(DISTINCT stream_event_id), min(event_id), max(event_id) FROM stream.web_events WHERE stream_event_id LIKE 'w-%'"
    )
    assert rows == [(1000, 1000, 1, 1000)]
    # half new, half retried: 202 with the counts of each
    mixed = api.post("/events", json={"events": [web_event(n) for n in range(501, 1501)]})
    assert mixed.status_code == 202
    assert (mixed.json()["stored"], mixed.json()["duplicates"]) == (500, 500)
    assert sql.one("SELECT count(*) FROM stream.web_events WHERE stream_event_id LIKE 'w-%'") == 1500


def test_bad_events_are_each_named_and_the_good_ones_stored(api, sql):
    events = [
        order_line(1),
        order_line(2, revenue=25.0),  # breaks the contract's row rule
        order_line(3, status="shipped"),
        web_event(5001, event_type="buy", event_ts="yesterday"),
        web_event(5002, event_type="buy"),
        {"event_id": "o-4-1", "entity": "order_items", "data": {**order_line(4)["data"], "colour": "red"}},
        order_line(1),  # the same event_id again within the batch
        order_line(5, order_ts="2026-03-02T23:30:00-02:00"),  # a zone offset: converted to shop time (UTC)
        order_line(6, quantity=None),
    ]
    response = api.post("/events", json={"events": events})
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["stored"], body["rejected"]) == (2, 2, 7)
    assert body["rejected_events"] == [
        {"index": 1, "event_id": "o-2-1", "reason": "revenue != quantity * unit_price - discount"},
        {
            "index": 2,
            "event_id": "o-3-1",
            "reason": "status: must be one of completed, cancelled (got 'shipped')",
        },
        {
            "index": 3,
            "event_id": "w-5001",
            # as in a raw file: a row whose cell does not parse is named for that cell alone
            "reason": "event_ts: 'yesterday' is not a timestamp (YYYY-MM-DD HH:MM:SS)",
        },
        {
            "index": 4,
            "event_id": "w-5002",
            "reason": "event_type: must be one of view, add_to_cart, purchase (got 'buy')",
        },
        {"index": 5, "event_id": "o-4-1", "reason": "colour: unknown field of order_items"},
        {"index": 6, "event_id": "o-1-1", "reason": "event_id: repeated within the batch"},
        {"index": 8, "event_id": "o-6-1", "reason": "quantity: required value missing"},
    ]
    rows = sql(
        "SELECT stream_event_id, order_ts::text, revenue::text, unit_cost::text FROM stream.order_items "
        "WHERE order_id IN (1, 5) ORDER BY 1"
    )
    assert rows == [
        ("o-1-1", f"{DAY} 11:00:00", "20.00", "4.25"),
        ("o-5-1", "2026-03-03 01:30:00", "20.00", "4.25"),
    ]


def test_envelope_errors_are_422_naming_the_field(api):
    assert_error(api.post("/events", json={"events": []}), 422, "validation_error", "events")
    too_many = {"events": [web_event(n) for n in range(1001)]}
    assert_error(api.post("/events", json=too_many), 422, "validation_error", "events")
    unknown = {"events": [{**web_event(1), "entity": "customers"}]}
    assert_error(api.post("/events", json=unknown), 422, "validation_error", "events[0].entity")
    spaced = {"events": [{**web_event(1), "event_id": "an id"}]}
    assert_error(api.post("/events", json=spaced), 422, "validation_error", "events[0].event_id")
    no_id = {"events": [{"entity": "web_events", "data": {}}]}
    assert_error(api.post("/events", json=no_id), 422, "validation_error", "events[0].event_id")


def test_a_body_over_the_limit_is_413_and_a_missing_key_401(api, stream_world):
    huge = {"events": [web_event(1, event_type="x" * 2_000_000)]}
    assert_error(api.post("/events", json=huge), 413, "payload_too_large")
    assert_error(
        httpx.post(api.base_url.join("/events"), json={"events": [web_event(1)]}), 401, "unauthorized"
    )


def wait_for_writer_on_lock(sql) -> None:
    deadline = time.monotonic() + 30
    # the writer COPYs the new rows straight into the stream table
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY stream.%'"
    )
    while sql.one(waiting) != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_full_queue_is_429_with_retry_after_and_the_queued_batch_still_commits(api, stream_world):
    _, _, server = stream_world
    locker = db.connect(stream_world[1].settings)
    answers = {}
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE stream.web_events IN EXCLUSIVE MODE")  # the writer now waits
            batch = {"events": [web_event(n) for n in range(20_001, 21_001)]}
            worker = threading.Thread(target=lambda: answers.update(first=api.post("/events", json=batch)))
            worker.start()
            wait_for_writer_on_lock(stream_world[1])
            # 1,000 events queued of 1,500: another 1,000 do not fit, 500 do
            full = api.post("/events", json={"events": [web_event(n) for n in range(30_001, 31_001)]})
            body = assert_error(full, 429, "too_many_requests")
            assert full.headers["retry-after"] == "1"
            assert body["message"] == "the event writer is behind; retry after 1 s"
            assert "first" not in answers  # not acknowledged before the commit
        locker.commit()
    finally:
        locker.close()
    worker.join(timeout=60)
    assert answers["first"].status_code == 202 and answers["first"].json()["stored"] == 1000
    sql = stream_world[1]
    assert sql.one("SELECT count(*) FROM stream.web_events WHERE event_id BETWEEN 20001 AND 31000") == 1000


def test_requests_queued_together_each_get_their_own_outcome(api, stream_world):
    """Posted while the writer is held, requests queue and are validated together (several per
    micro-batch): each answer names its own rejected events by their index in its own batch; an event
    another request also carries (a retry racing its original) is valid in both and stored once; two
    lines of one order key in one request are both rejected, as in one file."""
    sql = stream_world[1]
    own = {
        "b": [order_line(60_002), order_line(60_003, status="shipped")],
        "c": [web_event(60_010, event_type="buy"), order_line(60_002)],
        "d": [order_line(60_004), {**order_line(60_004), "event_id": "o-60004-again"}],
    }
    answers: dict = {}

    def post(name: str, events: list[dict]) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: answers.update({name: api.post("/events", json={"events": events})})
        )
        thread.start()
        return thread

    locker = db.connect(sql.settings)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE stream.order_items IN EXCLUSIVE MODE")  # the writer now waits
            threads = [post("a", [order_line(60_001)])]
            wait_for_writer_on_lock(sql)
            threads += [post(name, events) for name, events in own.items()]
            time.sleep(1)  # they queue behind the held write
        locker.commit()
    finally:
        locker.close()
    for thread in threads:
        thread.join(timeout=60)
    shipped = "status: must be one of completed, cancelled (got 'shipped')"
    buy = "event_type: must be one of view, add_to_cart, purchase (got 'buy')"
    shared = "duplicate key (order_id, line_no) within the file"
    b, c, d = (answers[name].json() for name in ("b", "c", "d"))
    assert answers["a"].json()["stored"] == 1
    # o-60002-1 is in b and c: whichever was written first stored it (both, when in one micro-batch)
    assert (b["accepted"], b["stored"] + b["duplicates"]) == (1, 1)
    assert b["rejected_events"] == [{"index": 1, "event_id": "o-60003-1", "reason": shipped}]
    assert (c["accepted"], c["stored"] + c["duplicates"]) == (1, 1)
    assert c["rejected_events"] == [{"index": 0, "event_id": "w-60010", "reason": buy}]
    assert (answers["d"].status_code, d["accepted"], d["rejected"]) == (202, 0, 2)
    assert d["rejected_events"] == [
        {"index": 0, "event_id": "o-60004-1", "reason": shared},
        {"index": 1, "event_id": "o-60004-again", "reason": shared},
    ]
    assert sql(
        "SELECT stream_event_id, count(*) FROM stream.order_items WHERE order_id BETWEEN 60001 AND 60004 "
        "GROUP BY 1 ORDER BY 1"
    ) == [("o-60001-1", 1), ("o-60002-1", 1)]


def test_an_api_killed_before_the_commit_acknowledged_nothing_and_a_retry_stores_once(
    stream_world, tmp_path_factory
):
    _, sql, _ = stream_world
    server, base = start_api(sql.settings, tmp_path_factory, ECOMM_API_KEYS=f'["{KEY}"]')
    batch = {"events": [web_event(n) for n in range(40_001, 41_001)]}
    answers = {}

    def post() -> None:
        try:
            answers["response"] = httpx.post(
                f"{base}/events", json=batch, headers={"X-API-Key": KEY}, timeout=60
            )
        except httpx.TransportError as exc:
            answers["error"] = exc

    locker = db.connect(sql.settings)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE stream.web_events IN EXCLUSIVE MODE")
            worker = threading.Thread(target=post)
            worker.start()
            wait_for_writer_on_lock(sql)
            os.killpg(server.process.pid, signal.SIGKILL)  # between accept and commit
            worker.join(timeout=30)
        locker.rollback()
    finally:
        locker.close()
        server.stop()
    assert "response" not in answers and isinstance(answers["error"], httpx.TransportError)
    # the killed server's transaction is rolled back once its connection is gone
    deadline = time.monotonic() + 30
    busy = (
        "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' AND query LIKE 'COPY stream.%' "
        "AND pid <> pg_backend_pid()"
    )
    while sql.one(busy) > 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert sql.one("SELECT count(*) FROM stream.web_events WHERE event_id BETWEEN 40001 AND 41000") == 0
    api = stream_world[0]
    retried = api.post("/events", json=batch)
    assert retried.status_code == 202 and retried.json()["stored"] == 1000
    assert api.post("/events", json=batch).status_code == 200
    assert sql.one("SELECT count(*) FROM stream.web_events WHERE event_id BETWEEN 40001 AND 41000") == 1000


def test_schemathesis_finds_no_server_error_in_post_events(api, tmp_path):
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            str(api.base_url.join("/openapi.json")),
            "--include-path",
            "/events",
            "--header",
            f"X-API-Key: {KEY}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "60",
            "--seed",
            "7",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--no-shrink",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "No issues found" in done.stdout, done.stdout[-3000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", done.stdout).groups())
    assert generated == passed > 50, done.stdout[-2000:]


def test_a_lone_surrogate_in_a_cell_is_a_rejected_event_not_a_server_error(api):
    body = b'{"events": [{"event_id": "s-1", "entity": "web_events", "data": {"event_type": "\\ud800"}}]}'
    response = api.post("/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    assert response.json()["rejected_events"] == [
        {"index": 0, "event_id": "s-1", "reason": "event_type: not valid Unicode text"}
    ]
