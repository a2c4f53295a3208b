"""The one writer of the `stream` tables: micro-batches of posted events, COPY, idempotent insert.

Requests put their valid rows on a queue and wait; one task drains what has queued (several requests,
up to `max_batch` events) and writes it in one transaction: COPY into a temporary table, then
`INSERT ... ON CONFLICT (stream_event_id) DO NOTHING RETURNING` tells which events are new. Only after
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


def _csv(frame: pd.DataFrame, columns: list[str]) -> io.StringIO:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, columns=columns, date_format="%Y-%m-%d %H:%M:%S")
    buffer.seek(0)
    return buffer


def write_rows(conn, rows: dict[str, pd.DataFrame]) -> set[str]:
    """Insert the rows of each entity once (by stream_event_id) in one transaction; the ids that
    were new."""
    stored: set[str] = set()
    with conn.cursor() as cur:
        for name, frame in rows.items():
            columns = [ID_COLUMN, *STREAM_ENTITIES[name].columns]
            names = ", ".join(columns)
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS incoming_{name} "
                f"ON COMMIT DELETE ROWS AS SELECT {names} FROM stream.{name} WITH NO DATA"
            )
            cur.copy_expert(f"COPY incoming_{name} ({names}) FROM STDIN (FORMAT csv)", _csv(frame, columns))
            # DISTINCT ON: two queued requests may carry the same id (a retry racing its original)
            cur.execute(
                f"INSERT INTO stream.{name} ({names}) "
                f"SELECT DISTINCT ON ({ID_COLUMN}) {names} FROM incoming_{name} ORDER BY {ID_COLUMN} "
                f"ON CONFLICT ({ID_COLUMN}) DO NOTHING RETURNING {ID_COLUMN}"
            )
            stored.update(r[0] for r in cur.fetchall())
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
