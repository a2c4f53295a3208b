"""Reading and validating raw batches ahead of the database, in worker processes.

Each file of a date is one task (a file over PART_BYTES is split into line-aligned parts, one task
each); a bounded number of dates is read ahead of the database work (`BatchReader`), so memory follows
the dates in flight, not the range. The result of a file is its good rows as a COPY payload (CSV in
staging's column order) and its bad rows with their reasons; `load.py` does the database side.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ecomm.entities import ENTITIES, Entity
from ecomm.warehouse.raw import BadRow, BatchError, read_raw_file
from ecomm.warehouse.validate import validate, warm_up

# Below this many bytes of raw files a load is read in-process (a worker pool's start costs more).
PROCESS_POOL_MIN_BYTES = 32 * 2**20
# A file larger than this (a business date of a million orders) is validated in parts, in parallel.
PART_BYTES = 64 * 2**20


@dataclass
class EntityCounts:
    read: int = 0
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    corrected: int = 0  # a re-delivered date: rows it loaded before, overwritten (SCD type 1)
    kept: int = 0  # a re-delivered date: rows it loaded before that this delivery lacks or quarantined


def batch_checksum(batch_dir: Path) -> str:
    digest = hashlib.sha256()
    for entity in ENTITIES:
        path = batch_dir / entity.file_name
        digest.update(entity.name.encode())
        if path.is_file():  # a directory in a file's place is rejected by the reader
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class PreparedFile:
    """One raw file read and validated: its good rows as the COPY payload, its bad rows."""

    entity: str
    read: int
    bad: list[BadRow]
    payload: bytes  # CSV rows (row_no, the entity's columns, batch_date), no header
    good: int


def _copy_payload(entity: Entity, frame: pd.DataFrame, batch: date) -> bytes:
    """The good rows as CSV in staging's column order. Dates and timestamps are written as
    timestamps (PostgreSQL reads '2025-03-03 00:00:00' into a date column as that day)."""
    table = pa.Table.from_pandas(frame[["row_no", *entity.columns]], preserve_index=False)
    columns = [
        pc.cast(c, pa.timestamp("s"), safe=False) if pa.types.is_temporal(c.type) else c
        for c in table.columns
    ]
    columns.append(pa.array([batch] * table.num_rows, pa.date32()))
    table = pa.Table.from_arrays(columns, names=[*table.column_names, "batch_date"])
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _no_line_break_quoted(data: bytes, block: int = 2**26) -> bool:
    """True when no quoted field holds a line break: before every newline, an even number of quotes
    (escaped quotes come in pairs). Vectorised, a block at a time."""
    quotes_before = 0
    for offset in range(0, len(data), block):
        chunk = np.frombuffer(data, np.uint8, count=min(block, len(data) - offset), offset=offset)
        quotes = np.flatnonzero(chunk == 34)
        newlines = np.flatnonzero(chunk == 10)
        if ((np.searchsorted(quotes, newlines) + quotes_before) % 2).any():
            return False
        quotes_before += len(quotes)
    return True


def _parts(path: Path, parts: int) -> list[tuple[int, int, int]] | None:
    """(start, end, row_no of its first row) of line-aligned parts of a large file; None when it
    cannot be split safely (a quoted line break, blank lines or CR would shift row numbers)."""
    data = path.read_bytes()
    if b"\r" in data or b"\n\n" in data or not data.endswith(b"\n") or not _no_line_break_quoted(data):
        return None
    start = data.index(b"\n") + 1
    step = max(1, (len(data) - start) // parts)
    found, row_no = [], 2
    while start < len(data):
        end = data.find(b"\n", min(start + step, len(data) - 1)) + 1 or len(data)
        found.append((start, end, row_no))
        row_no += data.count(b"\n", start, end)
        start = end
    return found


def prepare_part(
    path: Path, start: int, end: int, first_row_no: int, batch: date, entity: Entity, zone: str = "UTC"
) -> PreparedFile:
    """Read and validate the rows of one part of a large file (bytes start..end), numbered as in the
    whole file. Keys duplicated across parts are found in SQL (merge.duplicate_in_file)."""
    with path.open("rb") as fh:
        header = fh.readline()
        fh.seek(start)
        body = fh.read(end - start)
    fd, name = tempfile.mkstemp(suffix=f"-{entity.file_name}")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(header)
            out.write(body)
        del body
        return prepare_file(
            Path(name).parent, batch, entity, Path(name), row_shift=first_row_no - 2, zone=zone
        )
    except BatchError as exc:
        raise BatchError(str(exc).replace(name, str(path))) from None
    finally:
        os.unlink(name)


def prepare_file(
    batch_dir: Path,
    batch: date,
    entity: Entity,
    path: Path | None = None,
    row_shift: int = 0,
    zone: str = "UTC",
) -> PreparedFile:
    """Read and validate one file of a batch (raises BatchError when the file cannot be loaded);
    `path` and `row_shift`: a part of the file, its rows numbered `row_shift` further; `zone`: the
    shop's time zone (an argument, not a setting read here: this runs in worker processes)."""
    raw = read_raw_file(path or batch_dir / entity.file_name, entity, zone=zone)
    good, bad = validate(raw, batch)
    if row_shift:
        good = good.assign(row_no=good["row_no"] + row_shift)
        bad = [BadRow(b.row_no + row_shift, b.record, b.reason) for b in raw.bad_rows + bad]
    else:
        bad = raw.bad_rows + bad
    payload = _copy_payload(entity, good, batch) if len(good) else b""
    return PreparedFile(entity.name, raw.rows_read, bad, payload, len(good))


@dataclass
class PreparedBatch:
    """A batch read and validated, ready for the database (or the error that stopped it)."""

    batch: date
    batch_dir: Path
    checksum: str
    skip: bool = False
    files: dict[str, PreparedFile] = field(default_factory=dict)
    error: BatchError | None = None
    parts: dict[str, list[PreparedFile]] = field(default_factory=dict)  # what to COPY, file by file
    split: list[str] = field(default_factory=list)  # the entities whose file was read in parts

    def counts(self) -> dict[str, EntityCounts]:
        return {name: EntityCounts(read=f.read, quarantined=len(f.bad)) for name, f in self.files.items()}


class BatchReader:
    """Batches read and validated ahead of the database, in date order, at most `ahead` dates in
    flight (bounded memory): one task per file, so the files of one large date also run in parallel."""

    def __init__(
        self, pool: Executor, batches: list[tuple[date, Path]], known: dict[date, str], ahead: int, zone: str
    ):
        self.pool, self.known, self.ahead, self.zone = pool, known, ahead, zone
        self.todo = iter(batches)
        self.flight: list[tuple[date, Path, Future, dict[str, Future]]] = []

    def _submit(self) -> None:
        nxt = next(self.todo, None)
        if nxt is None:
            return
        batch, batch_dir = nxt
        checksum = self.pool.submit(batch_checksum, batch_dir)
        files = {}
        if batch not in self.known:  # never loaded: no need to wait for the checksum to read it
            files = self._files(batch_dir, batch)
        self.flight.append((batch, batch_dir, checksum, files))

    def _files(self, batch_dir: Path, batch: date) -> dict[str, list[Future]]:
        """One task per file; a file over PART_BYTES is read in parts, one task each."""
        tasks = {}
        for e in ENTITIES:
            path = batch_dir / e.file_name
            parts = None
            if path.exists() and path.stat().st_size > PART_BYTES:
                parts = _parts(path, -(-path.stat().st_size // PART_BYTES))
            if parts and len(parts) > 1:
                tasks[e.name] = [
                    self.pool.submit(prepare_part, path, *part, batch, e, self.zone) for part in parts
                ]
            else:
                tasks[e.name] = [self.pool.submit(prepare_file, batch_dir, batch, e, zone=self.zone)]
        return tasks

    def __iter__(self) -> Iterator[PreparedBatch]:
        for _ in range(self.ahead):
            self._submit()
        while self.flight:
            batch, batch_dir, checksum, files = self.flight.pop(0)
            prepared = PreparedBatch(batch, batch_dir, checksum.result())
            if prepared.checksum == self.known.get(batch):
                prepared.skip = True
            else:
                if not files:
                    files = self._files(batch_dir, batch)
                try:
                    for name, futures in files.items():
                        done = [f.result() for f in futures]
                        prepared.files[name] = PreparedFile(
                            name, sum(f.read for f in done), [b for f in done for b in f.bad], b"", 0
                        )
                        prepared.files[name].good = sum(f.good for f in done)
                        prepared.parts[name] = done
                        if len(done) > 1:
                            prepared.split.append(name)
                except BatchError as exc:
                    prepared.error = exc
            self._submit()
            yield prepared
            del prepared, files  # the payloads are in the database now

    def cancel(self) -> None:
        for _, _, checksum, files in self.flight:
            for future in (checksum, *(f for futures in files.values() for f in futures)):
                future.cancel()


def worker_pool(batches: list[tuple[date, Path]], workers: int | None) -> Executor:
    """Worker processes for a bulk load (the cores the machine has), a thread for a small one."""
    size = sum(p.stat().st_size for _, d in batches for p in d.glob("*.csv"))
    if workers is None:
        workers = (os.cpu_count() or 1) if size >= PROCESS_POOL_MIN_BYTES else 0
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
    warm_up()  # imported once here, not once per forked worker
    # fork: the workers start in milliseconds with everything imported, and never re-run the
    # caller's __main__ (spawn and forkserver do: a script without a main guard would run again).
    # They only read files and return bytes; the parent's connection is never used by them.
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_die_with_parent
    )


def _die_with_parent() -> None:
    """A worker is killed with the loader (kill -9 included) instead of waiting forever for work."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: no such call
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
