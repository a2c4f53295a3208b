"""The stream writer's transaction on the real `stream` tables: new ids COPYed straight in, ids stored
before (a retry) or by a concurrent writer left alone by the idempotent path."""

from __future__ import annotations

import asyncio
import threading
import time

import pyarrow as pa

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
        assert write_rows(conn, {"web_events": pa.concat_tables([twice, twice])}) == {"wr-6"}
        assert _stored(conn) == [(f"wr-{n}", n) for n in range(1, 7)]
        with conn.cursor() as cur:
            cur.execute("DELETE FROM stream.web_events WHERE stream_event_id LIKE 'wr-%'")
        conn.commit()


def test_an_id_another_writer_stores_meanwhile_takes_the_idempotent_path(warehouse):
    """The COPY waits on the other writer's uncommitted key, fails when it commits, and the batch is
    inserted ON CONFLICT DO NOTHING: the other ids only."""
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


def test_requests_still_arriving_join_the_micro_batch_the_checker_takes(warehouse):
    """The checker waits for bodies being read and parsed (up to `gather_seconds`), then takes every
    queued request in one micro-batch; with nothing arriving it takes what is queued at once."""
    from ecomm.stream.writer import StreamWriter, _Submission

    async def scenario() -> tuple[list[int], list[int], float]:
        writer = StreamWriter(warehouse, capacity=10_000, max_batch=5_000, gather_seconds=5)

        def queue(size: int) -> None:
            writer.waiting += size
            writer.queue.put_nowait(_Submission([], size))

        async def arrive(size: int, after: float) -> None:
            with writer.arrival():
                await asyncio.sleep(after)  # its body still being read
                queue(size)

        queue(1000)
        arriving = [asyncio.create_task(arrive(n, 0.05 * k)) for k, n in enumerate((10, 20), 1)]
        await asyncio.sleep(0)  # both are being read now
        started = asyncio.get_running_loop().time()
        first = await writer.queue.get()
        await writer._gather()
        together = [s.size for s in writer._take(first)]
        await asyncio.gather(*arriving)
        queue(7)
        alone_started = asyncio.get_running_loop().time()
        first = await writer.queue.get()
        await writer._gather()
        alone = [s.size for s in writer._take(first)]
        return together, alone, (alone_started - started, asyncio.get_running_loop().time() - alone_started)

    together, alone, (waited, not_waited) = asyncio.run(scenario())
    assert together == [1000, 10, 20]
    assert 0.09 < waited < 1  # until the later one was queued, far from the 5 s limit
    assert alone == [7] and not_waited < 0.05


def test_the_warm_up_events_are_valid_by_the_contract():
    """What the API validates at start (so pandera's first-call imports are not the first request's):
    one event of each stream entity, each accepted (a contract change that rejected one would leave
    the warm-up half done, silently)."""
    from ecomm.stream.ingest import warm_up
    from ecomm.stream.tables import STREAM_ENTITIES

    checked = warm_up()
    assert checked.rejected == []
    assert {name: len(frame) for name, frame in checked.rows.items()} == dict.fromkeys(STREAM_ENTITIES, 1)
