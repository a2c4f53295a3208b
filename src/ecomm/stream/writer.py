"""The one writer of the `stream` tables: micro-batches of posted events, COPY, idempotent insert.

Requests put their posted events on a queue and wait. One task, the checker, validates what has
queued (several requests, up to `max_batch` events) in one `check_batches` call: the contract's
checks cost mostly per call, so a batch of 1,000 checked alone spent most of its time there. Another
task writes the micro-batch checked before it in one transaction, meanwhile: the ids already stored
are looked up, the new rows COPYed into a temporary table and inserted (should a concurrent writer
store one of them first: `INSERT ... ON CONFLICT (stream_event_id) DO NOTHING RETURNING` says which
were new). Only after that transaction commits is each request answered, so nothing acknowledged can
be lost when the process dies (an unacknowledged batch is the client's to retry; retrying is
idempotent). A request with no valid event is answered once checked.

The queue is bounded in events (`capacity`, posted events until answered): a request that would
overflow it is refused at once (`Busy`, the API's 429), so a writer that falls behind costs callers
a retry, never memory.
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
from ecomm.stream.ingest import Checked, check_batches
from ecomm.stream.tables import ID_COLUMN, STREAM_ENTITIES

log = logging.getLogger("ecomm.stream")


class Busy(Exception):
    """The queue cannot take the batch now; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the event writer is behind; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Submission:
    events: list[tuple[str, str, dict]]  # (event_id, entity, data) as posted
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


class StoreFailed(Exception):
    """The micro-batch holding the request's events was not committed (nothing of it was acknowledged)."""


class StreamWriter:
    """Two stages, each one task: the checker validates what has queued (several requests, up to
    `max_batch` events, in one `check_batches` call) while the writer commits the micro-batch checked
    before it. A request waits for its own outcome: its rejected events, and the ids that were new."""

    def __init__(self, settings: Settings, *, capacity: int, max_batch: int) -> None:
        self.settings, self.capacity, self.max_batch = settings, capacity, max_batch
        self.queued = 0  # posted events not answered yet, in either stage (the bound applies to this)
        self.waiting = 0  # of those, the events not taken by the checker yet
        self.writing = False
        self.queue: asyncio.Queue[_Submission] = asyncio.Queue()
        # one checked micro-batch may wait for the writer: the checker then waits, and requests queue
        self.checked: asyncio.Queue[list[tuple[_Submission, Checked]]] = asyncio.Queue(maxsize=1)
        self._conn = None

    async def submit(self, events: list[tuple[str, str, dict]]) -> tuple[Checked, set[str]]:
        """Validate the events and wait until the valid ones are committed: their check, and the
        stream_event_ids that were new. `Busy` at once when the queue is full; `StoreFailed` when the
        write failed."""
        if self.queued + len(events) > self.capacity:
            raise Busy(retry_after=1)
        self.queued += len(events)
        self.waiting += len(events)
        submission = _Submission(events, len(events))
        self.queue.put_nowait(submission)
        return await asyncio.shield(submission.done)  # a client gone mid-write does not cancel it

    def _take(self, first: _Submission) -> list[_Submission]:
        """What has queued, up to `max_batch` events; while the writer has nothing to write, about half
        of it, so that the writer starts on that half while the other is checked (taking all, the
        requests answered together would come back together, and the two stages take turns)."""
        self.waiting -= first.size
        limit = self.max_batch
        if not self.writing and self.checked.empty():
            limit = min(limit, (first.size + self.waiting) // 2)
        batch, size = [first], first.size
        while size < limit and not self.queue.empty():
            batch.append(self.queue.get_nowait())
            size += batch[-1].size
            self.waiting -= batch[-1].size
        return batch

    def _check(self, batch: list[_Submission]) -> list[Checked | Exception]:
        zone = self.settings.shop_timezone
        try:
            return check_batches([s.events for s in batch], zone)
        except Exception:
            if len(batch) == 1:
                raise
        outcomes: list[Checked | Exception] = []  # one request's fault fails that request alone
        for submission in batch:
            try:
                outcomes += check_batches([submission.events], zone)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _write(self, batch: list[tuple[_Submission, Checked]]) -> set[str]:
        rows: dict[str, list[pd.DataFrame]] = {}
        for _, checked in batch:
            for name, frame in checked.rows.items():
                rows.setdefault(name, []).append(frame)
        merged = {
            name: frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            for name, frames in rows.items()
        }
        try:
            if self._conn is None or self._conn.closed:
                self._conn = db.connect(self.settings)
            return write_rows(self._conn, merged)
        except Exception:
            if self._conn is not None:
                self._conn.close()  # a fresh connection next time (the server may have restarted)
            self._conn = None
            raise

    def _answer(self, submission: _Submission, outcome) -> None:
        self.queued -= submission.size
        if isinstance(outcome, Exception):
            submission.done.set_exception(outcome)
        else:
            submission.done.set_result(outcome)

    async def _checker(self) -> None:
        while True:
            batch = self._take(await self.queue.get())
            try:
                outcomes = await anyio.to_thread.run_sync(self._check, batch)
            except Exception as exc:
                log.exception("checking %d queued requests failed", len(batch))
                outcomes = [exc] * len(batch)
            to_write = []
            for submission, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Checked) and outcome.accepted:
                    to_write.append((submission, outcome))
                else:  # nothing to store: answered now
                    self._answer(submission, (outcome, set()) if isinstance(outcome, Checked) else outcome)
            if to_write:
                await self.checked.put(to_write)

    async def run(self) -> None:
        """The writer task (one per process), with its checker."""
        checker = asyncio.create_task(self._checker(), name="stream-checker")
        try:
            while True:
                batch = await self.checked.get()
                self.writing = True
                try:
                    stored = await anyio.to_thread.run_sync(self._write, batch)
                except Exception as exc:
                    log.exception("writing %d queued requests failed", len(batch))
                    failed = StoreFailed(str(exc))
                    for submission, _ in batch:
                        self._answer(submission, failed)
                else:
                    for submission, checked in batch:
                        self._answer(submission, (checked, stored))
                finally:
                    self.writing = False
        finally:
            checker.cancel()
            if self._conn is not None:
                self._conn.close()
