"""The stream writer's transaction on the real `stream` tables: new ids COPYed straight in, ids stored
before left alone, and a concurrent writer's ids handled by the idempotent path."""

from __future__ import annotations

import threading
import time

import pandas as pd

from ecomm import db
from ecomm.stream.ingest import check_events
from ecomm.stream.writer import write_rows

DAY = "2026-03-02"


def _rows(numbers) -> dict:
    events = [
        (
            f"wr-{n}",
            "web_events",
            {
                "event_id": n,
                "session_id": n,
                "customer_id": 1,
                "product_id": 2,
                "event_type": "view",
                "event_ts": f"{DAY} 10:00:{n % 60:02d}",
            },
        )  # fmt: skip
        for n in numbers
    ]
    checked = check_events(events)
    assert checked.rejected == []
    return checked.rows


def _stored(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT stream_event_id, event_id FROM stream.web_events WHERE stream_event_id LIKE 'wr-%' "
            "ORDER BY event_id"
        )
        return cur.fetchall()


def test_new_ids_are_stored_once_and_known_ones_left_alone(warehouse):
    with db.connection(warehouse) as conn:
        assert write_rows(conn, _rows(range(1, 4))) == {"wr-1", "wr-2", "wr-3"}
        assert write_rows(conn, _rows(range(1, 4))) == set()  # a retry
        assert write_rows(conn, _rows(range(2, 6))) == {"wr-4", "wr-5"}
        # two queued requests with the same id in one micro-batch: stored once
        twice = _rows([6])["web_events"]
        assert write_rows(conn, {"web_events": pd.concat([twice, twice], ignore_index=True)}) == {"wr-6"}
        assert _stored(conn) == [(f"wr-{n}", n) for n in range(1, 7)]
        with conn.cursor() as cur:
            cur.execute("DELETE FROM stream.web_events WHERE stream_event_id LIKE 'wr-%'")
        conn.commit()


def test_an_id_another_writer_stores_meanwhile_takes_the_idempotent_path(warehouse):
    """The other writer's uncommitted row is invisible to the look-up; the COPY waits on its key, fails
    when it commits, and the batch is inserted ON CONFLICT DO NOTHING: the other ids only."""
    other, ours = db.connect(warehouse), db.connect(warehouse)
    result: dict = {}
    try:
        with other.cursor() as cur:
            cur.execute(
                "INSERT INTO stream.web_events (stream_event_id, event_id, session_id, customer_id, "
                f"event_type, event_ts) VALUES ('wr-12', 12, 12, 1, 'view', '{DAY} 10:00:12')"
            )
        worker = threading.Thread(target=lambda: result.update(stored=write_rows(ours, _rows(range(10, 15)))))
        worker.start()
        deadline = time.monotonic() + 30
        with db.connection(warehouse) as watcher, watcher.cursor() as cur:
            watcher.autocommit = True  # pg_stat_activity is read once per transaction
            while True:  # our COPY into the stream table waits for the other transaction's key
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'COPY stream.web_events%'"
                )
                if cur.fetchone()[0] == 1:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.05)
        other.commit()
        worker.join(timeout=30)
        assert result["stored"] == {"wr-10", "wr-11", "wr-13", "wr-14"}
        assert _stored(ours) == [(f"wr-{n}", n) for n in range(10, 15)]
    finally:
        with ours.cursor() as cur:
            cur.execute("DELETE FROM stream.web_events WHERE stream_event_id LIKE 'wr-%'")
        ours.commit()
        other.close()
        ours.close()
