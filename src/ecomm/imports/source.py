"""Reading a user's log (CSV or Parquet) as text columns, block by block, refusing a file the importer
cannot read right with one line that says why: not UTF-8, another delimiter, no header row, no rows,
a mapped column that is not there. Nothing is written before these checks pass."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

OTHER_DELIMITERS = (";", "\t", "|")
# A header cell is a name; a cell that is a number or a date means the first line is already data.
_DATA_CELL = re.compile(r"^\s*[-+]?[0-9][0-9.,:/ \-]*\s*$")
_CHUNK = 1 << 20


class ImportRefused(ValueError):
    """The source cannot be imported as it is: one line naming the problem (nothing was written)."""


def _first_bad_byte(path: Path) -> tuple[int, int] | None:
    """(byte offset, line number) of the first byte that is not UTF-8, streaming the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start, lines + chunk[: exc.start].count(b"\n")
            offset, lines = offset + len(chunk), lines + chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset, lines
    return None


def _header(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as f:
        return f.readline().rstrip("\r\n")


def _check_header(path: Path, header: str, delimiter: str) -> list[str]:
    if not header.strip():
        raise ImportRefused(f"{path.name}: the file is empty")
    if delimiter not in header:
        others = [d for d in OTHER_DELIMITERS if d in header]
        if others:
            shown = "tab" if others[0] == "\t" else repr(others[0])
            raise ImportRefused(
                f"{path.name}: fields are separated by {shown}, not {delimiter!r}: pass --delimiter {others[0]!r}"
            )
    cells = header.split(delimiter)
    if any(_DATA_CELL.match(c) for c in cells):
        raise ImportRefused(
            f"{path.name}: no header row (the first line {header[:60]!r} is data): add a first line "
            "naming the columns"
        )
    return [c.strip().strip('"') for c in cells]


DEFAULT_BLOCK_BYTES = 16 << 20  # a block of CSV text is about 6x that as pandas text columns
# The CSV reader's own block: Arrow reads up to 32 of them ahead of a slower consumer (its background
# readahead queue), so a block of 16 MiB buffered up to 512 MiB of the file (a 4M-line log: the whole
# 340 MiB); a block is made of several of these.
READ_BYTES = 1 << 20


def _csv_reader(
    path: Path, names: list[str], delimiter: str, encoding: str, block_bytes: int, columns: list[str] | None
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding, block_size=block_bytes),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            include_columns=columns or [],
        ),
    )


def _parquet_batches(path: Path, block_bytes: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    file = pq.ParquetFile(path)
    meta = file.metadata
    text_bytes = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)) or 1
    rows = max(1, block_bytes * max(meta.num_rows, 1) // text_bytes)
    yield from file.iter_batches(batch_size=rows, columns=columns)


def _as_text(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """Every column as text: one parsing path for both formats (a timestamp reads 'YYYY-MM-DD HH:MM:SS')."""
    return pa.table({name: pc.cast(batch.column(name), pa.string()) for name in batch.schema.names})


@dataclass(frozen=True)
class Log:
    """A log in one or more files (in time order) that passed the file-level checks, read block by
    block: what a pass over it holds is one block, whatever the size of the files."""

    paths: list[Path]
    mapped: dict[str, str]
    delimiter: str = ","
    encoding: str = "utf-8"
    block_bytes: int = DEFAULT_BLOCK_BYTES
    _headers: dict[Path, list[str]] = field(default_factory=dict)

    def blocks(self, fields: list[str] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
        """(file number, text columns of the fields' columns, default all mapped) block by block;
        the index counts rows from 0 over all files, as if they were one (row N = index N - 1)."""
        columns = list(dict.fromkeys(self.mapped[f] for f in (fields or self.mapped)))
        offset = 0
        for number, path in enumerate(self.paths):
            for table in self._file_blocks(path, columns):
                frame = table.to_pandas()
                frame.index = pd.RangeIndex(offset, offset + len(frame))
                offset += len(frame)
                if len(frame):
                    yield number, frame

    def _file_blocks(self, path: Path, columns: list[str]) -> Iterator[pa.Table]:
        if _is_parquet(path):
            for batch in _parquet_batches(path, self.block_bytes, columns):
                yield _as_text(batch)
            return
        names = self._headers[path]
        read_bytes = min(self.block_bytes, READ_BYTES)
        batches, per_block = [], max(1, self.block_bytes // read_bytes)
        for batch in _csv_reader(path, names, self.delimiter, self.encoding, read_bytes, columns):
            batches.append(batch)
            if len(batches) == per_block:
                yield pa.Table.from_batches(batches)
                batches = []
        if batches:
            yield pa.Table.from_batches(batches)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


class _TableLog(Log):
    """A table already in memory as a one-block log (tests, small frames)."""

    def __init__(self, table: pa.Table, mapped: dict[str, str]):
        super().__init__([], mapped)
        object.__setattr__(self, "table", table)

    def blocks(self, fields: list[str] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
        columns = list(dict.fromkeys(self.mapped[f] for f in (fields or self.mapped)))
        yield 0, self.table.select(columns).to_pandas()


def as_log(source: Log | pa.Table, mapped: dict[str, str]) -> Log:
    return source if isinstance(source, Log) else _TableLog(source, mapped)


def _check_file(path: Path, mapped: dict[str, str], delimiter: str, encoding: str) -> list[str]:
    """The file-level checks, in order; returns the CSV header's names (none for Parquet)."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    names: list[str] = []
    if _is_parquet(path):
        file = pq.ParquetFile(path)
        columns, rows = file.schema_arrow.names, file.metadata.num_rows
    else:
        if encoding.lower().replace("-", "") in ("utf8", "utf8sig") and (bad := _first_bad_byte(path)):
            offset, line = bad
            raise ImportRefused(
                f"{path.name}: not UTF-8 text (byte {offset}, line {line}): pass its encoding, e.g. "
                "--encoding latin-1"
            )
        names = _check_header(path, _header(path, encoding), delimiter)
        reader = _csv_reader(path, names, delimiter, encoding, 1 << 20, None)
        columns = reader.schema.names
        rows = next((len(b) for b in reader if len(b)), 0)  # reads up to the first block with a row
    missing = [f"{column!r} ({field_})" for field_, column in mapped.items() if column not in columns]
    if missing:
        raise ImportRefused(
            f"{path.name}: mapped column {', '.join(missing)} not in the file (its columns: "
            f"{', '.join(columns)})"
        )
    if rows == 0:
        raise ImportRefused(f"{path.name}: only a header, no rows: nothing to import")
    return names


def open_log(
    paths: list[Path],
    mapped: dict[str, str],
    delimiter: str = ",",
    encoding: str = "utf-8",
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Log:
    """The files as one log, after the file-level checks of each (nothing is read whole)."""
    headers = {p: _check_file(p, mapped, delimiter, encoding) for p in paths}
    return Log(list(paths), mapped, delimiter, encoding, block_bytes, headers)
