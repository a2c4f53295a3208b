"""The one writer of the `stream` tables: micro-batches of posted events, COPY, idempotent insert.

Requests put their valid rows on a queue and wait; one task drains what has queued (several requests,
up to `max_batch` events) and writes it in one transaction: the ids already stored are looked up, the
new rows COPYed into a temporary table and inserted (should a concurrent writer store one of them
first: `INSERT ... ON CONFLICT (stream_event_id) DO NOTHING RETURNING` says which were new). Only after
that transaction commits is each request answered, so nothing acknowledged can be lost when the
process dies (an unacknowledged batch is the client's to retry; retrying is idempotent).

The queue is bounded in events (`capacity`): a request that would overflow it is refused at once
(`Busy`, the API's 429), so a writer that falls behind costs callers a retry, never memory.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field

import anyio
import pandas as pd
import psycopg2.errors
import pyarrow as pa
import pyarrow.csv as pacsv

from ecomm import db
from ecomm.settings import Settings
from ecomm.stream.tables import ID_COLUMN, STREAM_ENTITIES

log = logging.getLogger("ecomm.stream")


class Busy(Exception):
    """The queue cannot take the batch now; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the event writer is behind; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Submission:
    rows: dict[str, pd.DataFrame]
    size: int
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _csv(frame: pd.DataFrame, columns: list[str]) -> io.BytesIO:
    """The rows as COPY's CSV, written by pyarrow (in C++; pandas' writer is per cell in Python)."""
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame[columns], preserve_index=False)
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    buffer.seek(0)
    return buffer


def _write_entity(cur, name: str, frame: pd.DataFrame) -> list[str]:
    """Store the rows whose stream_event_id is new; those ids.

    The rows are COPYed into a temporary table (that COPY never waits on another transaction's lock)
    and those whose id is not stored yet inserted with a plain INSERT, which spares the speculative
    insertion `INSERT ... ON CONFLICT DO NOTHING` makes for each row. Should
    another API worker store one of them meanwhile, the plain INSERT fails on the key and the
    savepoint sends the batch down the ON CONFLICT path instead."""
    columns = [ID_COLUMN, *STREAM_ENTITIES[name].columns]
    names = ", ".join(columns)
    cur.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS incoming_{name} "
        f"ON COMMIT DELETE ROWS AS SELECT {names} FROM stream.{name} WITH NO DATA"
    )
    # two queued requests may carry the same id (a retry racing its original): one of them
    rows = _csv(frame.drop_duplicates(ID_COLUMN), columns)
    cur.copy_expert(f"COPY incoming_{name} ({names}) FROM STDIN (FORMAT csv)", rows)
    cur.execute("SAVEPOINT plain")
    try:
        cur.execute(
            f"INSERT INTO stream.{name} ({names}) SELECT {names} FROM incoming_{name} AS i "
            f"WHERE NOT EXISTS (SELECT FROM stream.{name} AS s WHERE s.{ID_COLUMN} = i.{ID_COLUMN}) "
            f"RETURNING {ID_COLUMN}"
        )
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT plain")
        cur.execute(
            f"INSERT INTO stream.{name} ({names}) SELECT {names} FROM incoming_{name} "
            f"ON CONFLICT ({ID_COLUMN}) DO NOTHING RETURNING {ID_COLUMN}"
        )
        return [r[0] for r in cur.fetchall()]
    stored = [r[0] for r in cur.fetchall()]
    cur.execute("RELEASE SAVEPOINT plain")
    return stored


def write_rows(conn, rows: dict[str, pd.DataFrame]) -> set[str]:
    """Insert the rows of each entity once (by stream_event_id) in one transaction; the ids that
    were new."""
    stored: set[str] = set()
    with conn.cursor() as cur:
        for name, frame in rows.items():
            stored.update(_write_entity(cur, name, frame))
    conn.commit()
    return stored


class StreamWriter:
    def __init__(self, settings: Settings, *, capacity: int, max_batch: int) -> None:
        self.settings, self.capacity, self.max_batch = settings, capacity, max_batch
        self.queued = 0  # events waiting or being written (the bound applies to this)
        self.queue: asyncio.Queue[_Submission] = asyncio.Queue()
        self._conn = None

    async def submit(self, rows: dict[str, pd.DataFrame]) -> set[str]:
        """Wait until the rows are committed; the stream_event_ids that were new. `Busy` at once
        when the queue is full."""
        size = sum(len(f) for f in rows.values())
        if self.queued + size > self.capacity:
            raise Busy(retry_after=1)
        self.queued += size
        submission = _Submission(rows, size)
        self.queue.put_nowait(submission)
        return await asyncio.shield(submission.done)  # a client gone mid-write does not cancel it

    def _take(self, first: _Submission) -> list[_Submission]:
        batch, size = [first], first.size
        while size < self.max_batch and not self.queue.empty():
            batch.append(self.queue.get_nowait())
            size += batch[-1].size
        return batch

    def _write(self, batch: list[_Submission]) -> set[str]:
        rows: dict[str, list[pd.DataFrame]] = {}
        for submission in batch:
            for name, frame in submission.rows.items():
                rows.setdefault(name, []).append(frame)
        merged = {name: pd.concat(frames, ignore_index=True) for name, frames in rows.items()}
        try:
            if self._conn is None or self._conn.closed:
                self._conn = db.connect(self.settings)
            return write_rows(self._conn, merged)
        except Exception:
            if self._conn is not None:
                self._conn.close()  # a fresh connection next time (the server may have restarted)
            self._conn = None
            raise

    async def run(self) -> None:
        """The writer task (one per process)."""
        try:
            while True:
                batch = self._take(await self.queue.get())
                try:
                    stored = await anyio.to_thread.run_sync(self._write, batch)
                except Exception as exc:
                    log.exception("writing %d queued requests failed", len(batch))
                    for submission in batch:
                        submission.done.set_exception(exc)
                else:
                    for submission in batch:
                        submission.done.set_result(stored)
                finally:
                    self.queued -= sum(s.size for s in batch)
        finally:
            if self._conn is not None:
                self._conn.close()
