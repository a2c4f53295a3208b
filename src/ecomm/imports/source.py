"""Reading a user's log (CSV or Parquet) as text columns, refusing a file the importer cannot read
right with one line that says why: not UTF-8, another delimiter, no header row, no rows, a mapped
column that is not there. Nothing is written before these checks pass."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

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


def read_csv(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> pa.Table:
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig") and (bad := _first_bad_byte(path)):
        offset, line = bad
        raise ImportRefused(
            f"{path.name}: not UTF-8 text (byte {offset}, line {line}): pass its encoding, e.g. "
            "--encoding latin-1"
        )
    names = _check_header(path, _header(path, encoding), delimiter)
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        ),
    )


def read_parquet(path: Path) -> pa.Table:
    """Every column as text: one parsing path for both formats (a timestamp reads 'YYYY-MM-DD HH:MM:SS')."""
    table = pq.read_table(path)
    return pa.table({name: pc.cast(table[name], pa.string()) for name in table.column_names})


def read_source(
    path: Path, mapped: dict[str, str], delimiter: str = ",", encoding: str = "utf-8"
) -> pa.Table:
    """The mapped columns of the file as text (null = empty cell), after the file-level checks."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    table = read_parquet(path) if is_parquet else read_csv(path, delimiter, encoding)
    missing = [
        f"{column!r} ({field})" for field, column in mapped.items() if column not in table.column_names
    ]
    if missing:
        raise ImportRefused(
            f"{path.name}: mapped column {', '.join(missing)} not in the file (its columns: "
            f"{', '.join(table.column_names)})"
        )
    if table.num_rows == 0:
        raise ImportRefused(f"{path.name}: only a header, no rows: nothing to import")
    return table.select(list(dict.fromkeys(mapped.values())))
