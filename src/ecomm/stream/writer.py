"""The one writer of the `stream` tables: micro-batches of posted events, COPY, idempotent insert.

Requests put their posted events on a queue and wait. One task, the checker, validates what has
queued (several requests, up to `max_batch` events) in one `check_batches` call: the contract's
checks cost mostly per call, so a batch of 1,000 checked alone spent most of its time there. Before
it takes them, the checker waits (20 ms at most) for the requests whose bodies are being read and
parsed meanwhile (`arrival()`), so that requests answered together and sent again together are
checked together, not one by one. Another task writes the micro-batch checked before it in one
transaction, meanwhile (the checker takes its next micro-batch once the writer has started on the
last, so what queued meanwhile is checked and written together): the rows are COPYed into their
tables (should one of their ids be stored already, a retry, or a concurrent writer store one first: a
temporary table and `INSERT ... ON CONFLICT (stream_event_id) DO NOTHING RETURNING`, which says
which were new). Only after that transaction commits is each request answered, so nothing
acknowledged can be lost when the process dies (an unacknowledged batch is the client's to retry; retrying is
idempotent). A request with no valid event is answered once checked.

The queue is bounded in events (`capacity`, posted events until answered): a request that would
overflow it is refused at once (`Busy`, the API's 429), so a writer that falls behind costs callers
a retry, never memory.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
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


def _csv(name: str, table: pa.Table) -> io.BytesIO:
    """The rows as COPY's CSV, written by pyarrow from the typed table the check made."""
    buffer = io.BytesIO()
    columns = table.select([ID_COLUMN, *STREAM_ENTITIES[name].columns])
    pacsv.write_csv(columns, buffer, pacsv.WriteOptions(include_header=False))
    buffer.seek(0)
    return buffer


def _columns(name: str) -> str:
    return ", ".join([ID_COLUMN, *STREAM_ENTITIES[name].columns])


def _ids(table: pa.Table) -> list[str]:
    return table.column(ID_COLUMN).to_pylist()


def _once(table: pa.Table) -> pa.Table:
    """The rows less those whose id an earlier row has (two queued requests may carry the same id:
    a retry racing its original)."""
    first = {event_id: pos for pos, event_id in reversed(list(enumerate(_ids(table))))}
    return table if len(first) == table.num_rows else table.take(sorted(first.values()))


def _write_new(cur, rows: dict[str, pa.Table]) -> set[str]:
    """The rows COPYed straight into their tables; their ids. Should one of them be stored already
    (a retry), or a concurrent writer store one meanwhile, the COPY fails on the key
    (UniqueViolation)."""
    cur.execute("SAVEPOINT plain")
    new: set[str] = set()
    for name, table in rows.items():
        cur.copy_expert(f"COPY stream.{name} ({_columns(name)}) FROM STDIN (FORMAT csv)", _csv(name, table))
        new.update(_ids(table))
    return new


def _write_idempotent(cur, rows: dict[str, pa.Table]) -> set[str]:
    """The rows COPYed into temporary tables (that COPY never waits on another transaction's lock),
    then inserted ON CONFLICT DO NOTHING; the ids this inserted."""
    for name, table in rows.items():
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS incoming_{name} ON COMMIT DELETE ROWS "
            f"AS SELECT {_columns(name)} FROM stream.{name} WITH NO DATA"
        )
        cur.copy_expert(f"COPY incoming_{name} ({_columns(name)}) FROM STDIN (FORMAT csv)", _csv(name, table))
    inserts = ", ".join(
        f"{n} AS (INSERT INTO stream.{n} ({_columns(n)}) SELECT {_columns(n)} FROM incoming_{n} "
        f"ON CONFLICT ({ID_COLUMN}) DO NOTHING RETURNING {ID_COLUMN})"
        for n in rows
    )
    cur.execute(f"WITH {inserts} " + " UNION ALL ".join(f"SELECT {ID_COLUMN} FROM {n}" for n in rows))
    return {r[0] for r in cur.fetchall()}


def write_rows(conn, rows: dict[str, pa.Table]) -> set[str]:
    """Insert the rows of each entity once (by stream_event_id) in one transaction; the ids that
    were new.

    The rows are COPYed straight into their tables: COPY inserts rows in bulk, about half the
    server's work (and time) of an `INSERT ... SELECT` from a temporary table, and one round trip per
    entity. Should one of those ids be stored already (a retried request) or another API worker store
    one meanwhile, the COPY fails on the key, the savepoint takes back this attempt, and the rows go
    the idempotent way instead (a temporary table, `INSERT ... ON CONFLICT DO NOTHING`): a retry
    costs a second COPY, a new batch no look-up."""
    rows = {name: _once(table) for name, table in rows.items() if table.num_rows}
    if not rows:
        return set()
    with conn.cursor() as cur:
        try:
            stored = _write_new(cur, rows)
        except psycopg2.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT plain")
            stored = _write_idempotent(cur, rows)
    conn.commit()
    return stored


class StoreFailed(Exception):
    """The micro-batch holding the request's events was not committed (nothing of it was acknowledged)."""


class StreamWriter:
    """Two stages, each one task: the checker validates what has queued (several requests, up to
    `max_batch` events, in one `check_batches` call) while the writer commits the micro-batch checked
    before it. A request waits for its own outcome: its rejected events, and the ids that were new."""

    def __init__(
        self, settings: Settings, *, capacity: int, max_batch: int, gather_seconds: float = 0.02
    ) -> None:
        self.settings, self.capacity, self.max_batch = settings, capacity, max_batch
        self.gather_seconds = gather_seconds
        self.queued = 0  # posted events not answered yet, in either stage (the bound applies to this)
        self.waiting = 0  # of those, the events not taken by the checker yet
        self.writing = False
        self.arriving = 0  # requests whose body is being read or parsed (`arrival()`)
        self._arrived = asyncio.Event()  # set when one of them was queued or gave up
        self.queue: asyncio.Queue[_Submission] = asyncio.Queue()
        # the checked micro-batch on its way to the writer (the checker waits until it is taken)
        self.checked: asyncio.Queue[list[tuple[_Submission, Checked]]] = asyncio.Queue(maxsize=1)
        self._conn = None

    @contextmanager
    def arrival(self) -> Iterator[None]:
        """A request's body being read and parsed: the checker waits (`gather_seconds` at most) for
        such requests to join the micro-batch it takes next (checked one at a time, each paid the
        contract's per-call cost again)."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1
            self._arrived.set()

    async def _gather(self) -> None:
        """Until no request is arriving, the queue holds `max_batch` events, or `gather_seconds`."""
        deadline = asyncio.get_running_loop().time() + self.gather_seconds
        while self.arriving and self.waiting < self.max_batch:
            self._arrived.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return

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
        """What has queued, up to `max_batch` events (the contract's checks cost mostly per call: the
        more requests one call checks, the less each pays)."""
        self.waiting -= first.size
        batch, size = [first], first.size
        while size < self.max_batch and not self.queue.empty():
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
        rows: dict[str, list[pa.Table]] = {}
        for _, checked in batch:
            for name, table in checked.rows.items():
                rows.setdefault(name, []).append(table)
        merged = {name: pa.concat_tables(tables) for name, tables in rows.items()}
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
            first = await self.queue.get()
            await self._gather()
            batch = self._take(first)
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
                # the next group is taken once the writer starts on this one: what queues meanwhile
                # is checked (and then written) together
                await self.checked.join()

    async def run(self) -> None:
        """The writer task (one per process), with its checker."""
        checker = asyncio.create_task(self._checker(), name="stream-checker")
        try:
            while True:
                batch = await self.checked.get()
                self.writing = True
                self.checked.task_done()
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
