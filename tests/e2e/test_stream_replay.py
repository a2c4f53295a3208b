"""`ecomm stream` replaying the next business date into a real `ecomm serve api` and warehouse; the
nightly load of that date reconciled with what streamed, then the landing area pruned; the stream's
lag and events per second in `ecomm status`.

World: 300 customers, 40 products, 60 days to 2026-03-01 (loaded), so the next date is 2026-03-02.
"""

from __future__ import annotations

import csv
import re
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from conftest import TEMPLATE_DB
from ecomm import db
from ecomm.dashboard import queries as Q
from ecomm.dashboard.pages.overview import stream_caption
from ecomm.dashboard.source import open_warehouse
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.pipeline import QualityCheckFailed, check_date, load_date
from ecomm.stream.health import stream_health
from ecomm.warehouse.run import load_path

from support.cli import ecomm
from support.servers import free_port, settings_env
from support.stream import KEY, stream_api, web_event

WORLD = GeneratorConfig(seed=4, as_of=date(2026, 3, 1), days=60, customers=300, products=40)
NEXT = date(2026, 3, 2)


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    """(API client, Query, raw dir, env of `ecomm`): the history loaded and checked, nothing streamed;
    the API's queue holds 1,000 events (a second batch waiting behind a held writer gets 429)."""
    with stream_api(template_warehouse, tmp_path_factory, TEMPLATE_DB, ECOMM_STREAM_QUEUE_EVENTS="1000") as (
        client,
        sql,
        _server,
    ):
        raw = tmp_path_factory.mktemp("stream-world")
        generate_history(WORLD, raw)
        assert {b.status for b in load_path(sql.settings, raw, marts=False).batches} == {"loaded"}
        env = settings_env(sql.settings, ECOMM_API_KEYS=f'["{KEY}"]')
        yield client, sql, raw, env


def batch_file(raw, entity: str) -> list[dict]:
    with open(raw / NEXT.isoformat() / f"{entity}.csv", newline="") as f:
        return list(csv.DictReader(f))


def execute(sql, statement: str, *params) -> None:
    with sql.conn.cursor() as cur:
        cur.execute(statement, params)


def stream(world, *extra: str):
    client, _, raw, env = world
    return ecomm("stream", "--raw-dir", str(raw), "--api-url", str(client.base_url), *extra, env=env)


def test_the_stream_holds_exactly_the_batch_of_the_next_date(world):
    _, sql, raw, _ = world
    assert not (raw / NEXT.isoformat()).exists()  # the world ends the day before
    result = stream(world, "--speed", "1000000")  # the day in 0.09 s
    assert result.returncode == 0, result.stderr
    lines, events = batch_file(raw, "order_items"), batch_file(raw, "web_events")
    total = len(lines) + len(events)
    assert len(lines) > 5 and len(events) > 20
    assert f"streamed {NEXT}: {total:,} events sent, {total:,} stored, 0 already stored, 0 rejected" in (
        result.stdout
    )
    # finished: compared exactly
    assert sql("SELECT business_date, events, finished_at IS NOT NULL FROM stream.replays") == [
        (NEXT, total, True)
    ]
    revenue = sum(Decimal(row["revenue"]) for row in lines)
    assert sql(
        "SELECT count(*), count(DISTINCT order_id), sum(revenue), min(order_ts)::date, max(order_ts)::date "
        "FROM stream.order_items"
    ) == [(len(lines), len({row["order_id"] for row in lines}), revenue, NEXT, NEXT)]
    assert sql("SELECT count(*), count(DISTINCT event_id), min(event_ts)::date FROM stream.web_events") == [
        (len(events), len(events), NEXT)
    ]
    # the history was never streamed: its batches got no stream check
    assert sql.one("SELECT count(*) FROM audit.quality_checks WHERE check_name LIKE 'stream%%'") == 0

    again = stream(world, "--speed", "1000000")  # a replay of the same date stores nothing twice
    assert again.returncode == 0, again.stderr
    assert f"{total:,} events sent, 0 stored, {total:,} already stored, 0 rejected" in again.stdout

    status = ecomm("status", env=world[3])  # within the minute: every event counts in the last minute
    assert status.returncode == 0, status.stderr
    times = [row["event_ts"] for row in events] + [row["order_ts"] for row in lines]
    newest = datetime.fromisoformat(max(times))
    assert str(newest) in status.stdout and f"{total / 60:.2f}" in status.stdout
    with db.connection(sql.settings) as conn, conn.cursor() as cur:
        health = stream_health(cur, "UTC", now=newest + timedelta(hours=1, minutes=2, seconds=3))
    assert (health.newest_event, health.lag_text(), health.events_per_second) == (
        newest,
        "1h 02m 03s",
        round(total / 60, 2),
    )
    assert stream_caption(health, sql.settings) == (
        f"Live stream: lag 1h 02m 03s (newest event {newest}), {total / 60:.2f} events/s over the last minute."
    )


def test_the_overview_reads_the_same_figures(world):
    """The dashboard's Overview line reads the stream through the dashboard's pool (the page itself
    is rendered in tests/integration/test_dashboard.py)."""
    _, sql, _, _ = world
    shown = Q.stream_health(open_warehouse(sql.settings), "UTC")
    with db.connection(sql.settings) as conn, conn.cursor() as cur:
        health = stream_health(cur, "UTC")
    assert (shown.newest_event, shown.events_per_second) == (health.newest_event, health.events_per_second)
    assert shown.events_per_second > 0


def test_the_nightly_load_reconciles_the_streamed_date_then_prunes_it(world):
    _, sql, raw, _ = world
    lines = batch_file(raw, "order_items")
    orders, revenue = len({row["order_id"] for row in lines}), sum(Decimal(r["revenue"]) for r in lines)
    sessions = len({row["session_id"] for row in batch_file(raw, "web_events")})
    web = len(batch_file(raw, "web_events"))
    assert load_date(sql.settings, raw / NEXT.isoformat(), NEXT).loaded_dates == [NEXT]
    # one streamed order line lost: a single-line order, so orders differ by one too
    lost_id, lost_revenue = sql(
        "SELECT min(stream_event_id), min(revenue) FROM stream.order_items o WHERE "
        "(SELECT count(*) FROM stream.order_items x WHERE x.order_id = o.order_id) = 1 "
        "GROUP BY order_id ORDER BY order_id LIMIT 1"
    )[0]
    execute(
        sql,
        "CREATE TABLE public.lost AS SELECT * FROM stream.order_items WHERE stream_event_id = %s",
        lost_id,
    )
    execute(sql, "DELETE FROM stream.order_items WHERE stream_event_id = %s", lost_id)
    with pytest.raises(QualityCheckFailed) as failed:
        check_date(sql.settings, NEXT)
    assert str(failed.value) == (
        f"stream_order_items: streamed {len(lines) - 1} order lines of {orders - 1} orders, revenue "
        f"{revenue - lost_revenue:.2f}; batch {len(lines)} order lines of {orders} orders, revenue {revenue:.2f}"
    )
    assert sql.one("SELECT count(*) FROM stream.order_items") == len(lines) - 1  # kept to look into

    execute(sql, "INSERT INTO stream.order_items SELECT * FROM public.lost")  # found again: the check passes
    checks = {c.name: c for c in check_date(sql.settings, NEXT)}
    assert checks["stream_order_items"].passed and checks["stream_web_events"].passed
    assert checks["stream_web_events"].details == (
        f"streamed {web} web events of {sessions} sessions; batch {web} web events of {sessions} sessions"
    )
    assert sql(
        "SELECT (SELECT count(*) FROM stream.order_items), (SELECT count(*) FROM stream.web_events)"
    ) == [(0, 0)]  # pruned: the warehouse holds the date now


def test_an_unreachable_api_is_one_line_and_exit_1(world):
    _, _, raw, env = world
    url = f"http://127.0.0.1:{free_port()}"
    result = ecomm("stream", "--raw-dir", str(raw), "--api-url", url, env=env)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: cannot reach the API at {url} (")
    assert "Traceback" not in result.stderr


def refused(client) -> float:
    metrics = client.get("/metrics").text
    found = re.search(r'^ecomm_stream_events_total\{outcome="refused"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_429_is_waited_out_and_the_date_still_streams_whole(world):
    """The writer held on a lock with 1,000 events queued: the replay's batch gets 429, waits its
    Retry-After and is stored once the writer moves (the next date now: 2026-03-03)."""
    client, sql, raw, _ = world
    before, answers = refused(client), {}
    filler = {"events": [web_event(n, event_ts="2026-02-01 10:00:00") for n in range(1, 1001)]}
    locker = db.connect(sql.settings)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE stream.web_events IN EXCLUSIVE MODE")  # the writer now waits
            held = threading.Thread(target=lambda: answers.update(filler=client.post("/events", json=filler)))
            held.start()
            replay = threading.Thread(
                target=lambda: answers.update(stream=stream(world, "--speed", "1000000"))
            )
            replay.start()
            deadline = time.monotonic() + 60
            while refused(client) == before:  # the replay's first batch was refused
                assert time.monotonic() < deadline
                time.sleep(0.1)
        locker.commit()
    finally:
        locker.close()
    held.join(timeout=60)
    replay.join(timeout=60)
    assert answers["filler"].status_code == 202 and answers["filler"].json()["stored"] == 1000
    result = answers["stream"]
    assert result.returncode == 0, result.stderr
    day = raw / "2026-03-03"
    with open(day / "order_items.csv") as lines, open(day / "web_events.csv") as events:
        total = len(list(csv.DictReader(lines))) + len(list(csv.DictReader(events)))
    assert f"streamed 2026-03-03: {total:,} events sent, {total:,} stored, 0 already stored" in result.stdout
    assert (
        sql.one(
            "SELECT (SELECT count(*) FROM stream.order_items WHERE order_ts::date = '2026-03-03') "
            "+ (SELECT count(*) FROM stream.web_events WHERE event_ts::date = '2026-03-03')"
        )
        == total
    )


def test_a_batch_loaded_while_its_date_streams_is_not_called_a_loss(world, monkeypatch):
    """A run triggered by hand during the day loads the date the stream is replaying: the stream's
    part is not compared (the checks say so, with both sides), the landing area is pruned, and a
    replay that sees its date loaded stops instead of sending the rest."""
    from ecomm.pipeline import ensure_batch
    from ecomm.stream import replay as r

    client, sql, raw, _ = world
    day = date(2026, 3, 4)
    events = r.batch_events(ensure_batch(raw, day), day)
    with db.connection(sql.settings) as conn:
        r.record_started(conn, day, len(events))  # what `ecomm stream` records before its first event
    first = [e.body for e in events[:5]]
    assert client.post("/events", json={"events": first}).json()["stored"] == 5
    streamed_lines = sum(e["entity"] == "order_items" for e in first)
    lines = batch_file_of(raw, day, "order_items")
    # the 429 test's date is loaded on the way (streamed whole, not checked here)
    assert load_date(sql.settings, raw / day.isoformat(), day).loaded_dates == [date(2026, 3, 3), day]
    checks = {c.name: c for c in check_date(sql.settings, day)}
    orders = len({row["order_id"] for row in lines})
    revenue = sum(Decimal(row["revenue"]) for row in lines)
    assert checks["stream_order_items"].passed
    assert checks["stream_order_items"].details.startswith(
        f"not compared: the replay of {day} had not finished when its batch loaded (streamed {streamed_lines} "
    )
    assert checks["stream_order_items"].details.endswith(
        f"batch {len(lines)} order lines of {orders} orders, revenue {revenue:.2f})"
    )
    assert sql.one("SELECT count(*) FROM stream.web_events WHERE event_ts::date = %s", (day,)) == 0  # pruned
    assert sql("SELECT events, finished_at FROM stream.replays WHERE business_date = %s", (day,)) == [
        (len(events), None)
    ]

    monkeypatch.setattr(r, "STILL_WANTED_EVERY_SECONDS", 0.0)
    result = r.replay(client, events, day, 1_000_000, say=lambda _: None, still_wanted=lambda: False)
    assert (result.overtaken, result.sent) == (True, 0)


def batch_file_of(raw, day: date, entity: str) -> list[dict]:
    with open(raw / day.isoformat() / f"{entity}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_events_of_a_date_no_replay_started_are_compared_exactly(world):
    """Events another client posted (no replay of the date began) are held to the batch: one left
    out fails the check with both sides' numbers."""
    from ecomm.pipeline import ensure_batch
    from ecomm.stream import replay as r

    client, sql, raw, _ = world
    day = date(2026, 3, 5)
    events = r.batch_events(ensure_batch(raw, day), day)
    web = [e.body for e in events if e.body["entity"] == "web_events"]
    assert client.post("/events", json={"events": web[:-1]}).json()["stored"] == len(web) - 1
    assert load_date(sql.settings, raw / day.isoformat(), day).loaded_dates == [day]
    with pytest.raises(QualityCheckFailed) as failed:
        check_date(sql.settings, day)
    sessions = len({e["data"]["session_id"] for e in web})
    assert f"batch {len(web)} web events of {sessions} sessions" in str(failed.value)
    assert str(failed.value).startswith("stream_order_items: streamed 0 order lines of 0 orders")


def test_events_of_a_checked_date_posted_after_its_prune_go_with_the_next_passing_batch(world):
    """Late events of 03-04 (loaded and passed, its replay overtaken) land after its prune; the next
    batch that passes its checks deletes them. 03-05 failed its checks: its rows stay to look into."""
    from ecomm.pipeline import ensure_batch
    from ecomm.stream import replay as r

    client, sql, raw, _ = world
    late_day, failed_day, day = date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6)
    late = [e.body for e in r.batch_events(ensure_batch(raw, late_day), late_day)[5:9]]
    assert client.post("/events", json={"events": late}).json()["stored"] == 4
    rows_of = (
        "SELECT (SELECT count(*) FROM stream.web_events WHERE event_ts::date = %(d)s) "
        "+ (SELECT count(*) FROM stream.order_items WHERE order_ts::date = %(d)s)"
    )
    assert sql.one(rows_of, {"d": late_day}) == 4
    kept = sql.one(rows_of, {"d": failed_day})
    assert kept > 0
    assert load_date(sql.settings, ensure_batch(raw, day), day).loaded_dates == [day]
    with pytest.raises(QualityCheckFailed) as failed:  # 03-05's failure stands until a check passes
        check_date(sql.settings, day)
    assert "stream_web_events: streamed" in str(failed.value)
    assert sql(
        "SELECT batch_date, checks_passed FROM audit.load_runs WHERE batch_date >= %s ORDER BY 1",
        (failed_day,),
    ) == [
        (failed_day, False),
        (day, True),
    ]
    assert sql.one(rows_of, {"d": late_day}) == 0
    assert sql.one(rows_of, {"d": failed_day}) == kept
