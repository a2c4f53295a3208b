"""Reading one raw CSV file of a batch into strings, keeping every unreadable line as a bad row.

Row numbers are the row's position among the file's non-blank rows, header = 1 (the generator
writes no blank lines and no line breaks inside values, so for its files this is the line number).

What rejects the whole batch (`BatchError`) rather than one row: a file missing, a directory, empty,
without a required column, or truncated. A file looks truncated (a crashed or partial export) when a
quoted value is never closed (it would swallow the rest of the file), or when its last line has no
line end and does not parse (wrong number of fields, or a cell that is not of its type): quarantining
that line as one bad row would hide that the rest of the file is missing.
What is one bad row: a malformed line (wrong number of fields), invalid UTF-8, a cell larger than
`MAX_FIELD_BYTES`; `validate` adds the cells that do not parse or break a rule.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ecomm.entities import FALSE_VALUES, MANIFEST_FILE, TRUE_VALUES, Entity
from ecomm.warehouse.contract import arrow_types, kind, parse, parse_failure, to_pandas

MAX_FIELD_BYTES = 1 << 20  # a larger cell makes its row a bad row ("field too large")
_PREVIEW_CHARS = 200  # of an oversized cell or line, as kept in the quarantine record
_FAST_BLOCK = 1 << 20  # pyarrow's block (and parallelism) unit on the fast path: a row never spans two
_MAX_BLOCK = (1 << 31) - 1  # pyarrow's block size is an int32


class BatchError(ValueError):
    """A batch (or one of its files) cannot be loaded at all; the message says why."""


@dataclass
class BadRow:
    row_no: int
    record: dict
    reason: str


@dataclass
class RawFile:
    entity: Entity
    frame: pd.DataFrame  # the entity's columns (None = empty cell), plus `row_no`
    bad_rows: list[BadRow] = field(default_factory=list)
    typed: bool = False  # True: columns already have their types; False: all text, to be parsed
    has_nul: bool = True  # the file holds a NUL byte (False: no text cell can hold one; no need to look)
    zone: str = "UTC"  # the shop's time zone: timestamps with a zone offset are converted to it

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.bad_rows)


def _invalid_utf8_rows(data: bytes) -> tuple[bytes, dict[int, str]]:
    """Replace undecodable bytes so the file parses, and remember which rows had them."""
    try:
        data.decode("utf-8")
        return data, {}
    except UnicodeDecodeError:
        pass
    bad: dict[int, str] = {}
    row_no = 0
    for line in data.split(b"\n"):
        if not line.strip(b"\r"):
            continue  # blank lines are not rows
        row_no += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad[row_no] = f"invalid UTF-8 at byte {exc.start} of the row"
    return data.decode("utf-8", errors="replace").encode("utf-8"), bad


def _unclosed_quote(data: bytes) -> int | None:
    """Where (byte offset) a quoted value opens that no quote closes, as pyarrow's CSV parser
    reads it: a quote opens a value only at the start of a field (elsewhere it is a literal
    character), and inside a quoted value `""` is a quote. Only called when the file has an odd
    number of quotes, so the loop (one step per quote) never runs on a clean file.
    Such a value runs to the end of the file: on the fast path it is a text cell of the last row
    holding a line break (a typed cell would not parse), which sends the file to the text path."""
    pos, n = 0, len(data)
    while (start := data.find(b'"', pos)) != -1:
        if start > 0 and data[start - 1] not in b",\n\r":
            pos = start + 1  # a literal quote inside an unquoted value
            continue
        end = start + 1
        while True:  # the closing quote: one not doubled
            end = data.find(b'"', end)
            if end == -1:
                return start
            if end + 1 < n and data[end + 1] == 0x22:
                end += 2
                continue
            break
        pos = end + 1
    return None


def _check_quotes(path: Path, data: bytes) -> None:
    if data.count(b'"') % 2 and (start := _unclosed_quote(data)) is not None:
        line = data.count(b"\n", 0, start) + 1
        raise BatchError(
            f"{path}: the file looks truncated: the quoted value opened on line {line} is never "
            "closed (it runs to the end of the file)"
        )


def _text_columns(entity: Entity) -> list[str]:
    return [c.name for c in entity.fields if kind(c) == "text"]


def _empty_as_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A quoted empty text cell ("") is missing, like an empty cell (the contract: empty is NULL)."""
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)


def _typed_table(data: bytes, entity: Entity, header: list[str], newlines_in_values: bool) -> pa.Table | str:
    """The table, or why not: "malformed" (a row has the wrong number of fields) or "invalid"."""
    malformed = []
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=True, block_size=_FAST_BLOCK),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=lambda row: malformed.append(row) or "skip",
                newlines_in_values=newlines_in_values,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: t for c, t in arrow_types(entity).items() if c in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                include_columns=list(entity.columns),
                true_values=list(TRUE_VALUES),
                false_values=list(FALSE_VALUES),
            ),
        )
    except pa.ArrowInvalid:  # a value that does not parse, a row larger than a block
        return "invalid"
    return "malformed" if malformed else table


def _timestamps_parsed(table: pa.Table, entity: Entity, zone: str) -> pa.Table | None:
    """The timestamp columns (read as text) parsed by `contract.parse`; None if a cell does not parse."""
    for column in entity.fields:
        if kind(column) != "timestamp":
            continue
        values, bad = parse(table.column(column.name).combine_chunks(), column, zone)
        if bad.any():
            return None
        table = table.set_column(table.schema.get_field_index(column.name), column.name, values)
    return table


def _read_typed(data: bytes, entity: Entity, header: list[str], zone: str) -> RawFile | None:
    """The fast path for a clean file: pyarrow parses every column to the contract's type in C++,
    in parallel blocks (timestamps by `contract.parse`, which converts zone offsets to the shop's
    `zone`). None when any row is malformed, a row does not fit a block, a text cell
    is larger than MAX_FIELD_BYTES or any value does not parse (the text path then says which;
    it parses with the same value parser, `contract.parse`, so both accept the same values).

    Blocks end at a line end, found without regard to quotes (10-15% faster than with), so a
    quoted line break that ends a block splits its row in malformed parts: then the file is read
    again with quote-aware block ends (no clean file is ever read wrong, only a little slower)."""
    table = _typed_table(data, entity, header, newlines_in_values=False)
    if table == "malformed":
        table = _typed_table(data, entity, header, newlines_in_values=True)
    if isinstance(table, str):
        return None
    table = _timestamps_parsed(table, entity, zone)
    if table is None:
        return None
    for name in _text_columns(entity):
        column = table.column(name)
        if table.num_rows and "\n" in (column[-1].as_py() or ""):
            return None  # perhaps a quote never closed, swallowing the file's end: the text path checks
        lengths = pc.min_max(pc.binary_length(column))
        if lengths["max"].is_valid and lengths["max"].as_py() > MAX_FIELD_BYTES:
            return None
        if lengths["min"].is_valid and lengths["min"].as_py() == 0:
            table = table.set_column(table.schema.get_field_index(name), name, _empty_as_null(column))
    frame = to_pandas(table)
    frame.insert(0, "row_no", range(2, len(frame) + 2))
    return RawFile(entity, frame, [], typed=True, has_nul=b"\x00" in data, zone=zone)


def _read_bytes(path: Path, entity: Entity) -> bytes:
    if path.is_dir():
        raise BatchError(f"{path}: is a directory, not a file (every batch has one {entity.file_name})")
    if not path.exists():
        raise BatchError(f"{path}: file missing (every batch has one {entity.file_name})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BatchError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise BatchError(f"{path}: file is empty (expected at least the header row)")
    return data


def _preview(text: str) -> str:
    if len(text.encode("utf-8")) <= _PREVIEW_CHARS:
        return text
    return f"{text[:_PREVIEW_CHARS]}… ({len(text.encode('utf-8')):,} bytes)"


def _manifest_entry(path: Path) -> dict[str, int] | None:
    """The file's bytes and rows as the batch's manifest records them (None: no manifest, or the
    manifest does not list the file)."""
    manifest = path.parent / MANIFEST_FILE
    try:
        stat = manifest.stat()
    except FileNotFoundError:
        return None
    return _manifest(manifest, stat.st_mtime_ns, stat.st_size).get(path.name)


@lru_cache(maxsize=16)
def _manifest(manifest: Path, _mtime_ns: int, _size: int) -> dict[str, dict[str, int]]:
    """A manifest's files (read once per version of it: a batch's eight files share one)."""
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        return {name: {"bytes": int(e["bytes"]), "rows": int(e["rows"])} for name, e in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BatchError(f"{manifest}: unreadable manifest ({type(exc).__name__}: {exc})") from None


def _differs(path: Path, what: str, found: int, expected: int) -> BatchError:
    return BatchError(
        f"{path}: {found:,} {what} where the batch's {MANIFEST_FILE} says {expected:,}: the file is "
        "truncated or incomplete (or was changed after it was written)"
    )


def read_raw_file(path: Path, entity: Entity, *, typed: bool = True, zone: str = "UTC") -> RawFile:
    """The file's rows: parsed to their types when every value parses (pyarrow's CSV reader),
    else as text for `validate` to parse and name each bad cell. typed=False: always as text.
    `zone`: the shop's time zone (timestamps with a zone offset are converted to it).
    When the batch has a manifest, the file's bytes and rows must be the ones it records."""
    data = _read_bytes(path, entity)
    expected = _manifest_entry(path)
    if expected is not None and len(data) != expected["bytes"]:
        raise _differs(path, "bytes", len(data), expected["bytes"])
    raw = _read(path, entity, data, typed, zone)
    if expected is not None and raw.rows_read != expected["rows"]:
        raise _differs(path, "rows", raw.rows_read, expected["rows"])
    return raw


def _read(path: Path, entity: Entity, data: bytes, typed: bool, zone: str) -> RawFile:
    data, utf8_bad = _invalid_utf8_rows(data)
    unterminated = not data.endswith(b"\n")
    if unterminated:
        _check_quotes(path, data)
        # read the last line as a line: pyarrow takes an empty last field at the end of the
        # data after a quoted one for a quoted "" (not NULL)
        data += b"\n"

    header = data.split(b"\n", 1)[0].decode("utf-8").strip("\r\ufeff").split(",")
    header = [h.strip().strip('"') for h in header]
    missing = [c for c in entity.columns if c not in header]
    if missing:
        raise BatchError(f"{path}: missing column(s) {', '.join(missing)}")

    if typed and not utf8_bad:
        parsed = _read_typed(data, entity, header, zone)
        if parsed is not None:
            return parsed

    _check_quotes(path, data)
    malformed: list[BadRow] = []

    def on_invalid(row) -> str:
        malformed.append(
            BadRow(
                row.number,
                {"line": _preview(row.text)},
                f"malformed CSV row: {row.actual_columns} fields, expected {row.expected_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            # one thread: row numbers; one block: no block boundary splits a quoted line break
            # or a large row (pyarrow's "straddling object")
            read_options=pacsv.ReadOptions(
                use_threads=False, block_size=min(max(len(data) + 1, _FAST_BLOCK), _MAX_BLOCK)
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                include_columns=list(entity.columns),
            ),
        )
    except pa.ArrowInvalid as exc:
        raise BatchError(f"{path}: unreadable CSV ({exc})") from exc

    last_row_no = table.num_rows + len(malformed) + 1
    if unterminated:
        _check_last_line(path, entity, data, table, malformed, last_row_no, zone)
    for name in _text_columns(entity):
        table = table.set_column(table.schema.get_field_index(name), name, _empty_as_null(table.column(name)))
    oversized = _oversized(table)

    frame = table.to_pandas()
    for col in frame.columns:  # pandas gives NaN for nulls; None keeps object columns uniform
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    malformed_nos = {b.row_no for b in malformed}
    frame.insert(0, "row_no", [n for n in range(2, last_row_no + 1) if n not in malformed_nos])

    reasons = dict(oversized)  # by position in the frame
    if utf8_bad:
        for pos in np.flatnonzero(frame["row_no"].isin(list(utf8_bad)).to_numpy()):
            why = utf8_bad[int(frame["row_no"].iat[pos])]
            reasons[pos] = f"{why}; {oversized[pos]}" if pos in oversized else why
    bad_rows = malformed
    for pos, reason in sorted(reasons.items()):
        record = frame.iloc[pos].to_dict()
        row_no = int(record.pop("row_no"))
        if pos in oversized:
            record = {k: _preview(v) if isinstance(v, str) else v for k, v in record.items()}
        bad_rows.append(BadRow(row_no, record, reason))
    frame = frame.drop(index=frame.index[list(reasons)])
    return RawFile(
        entity,
        frame.reset_index(drop=True),
        sorted(bad_rows, key=lambda b: b.row_no),
        has_nul=b"\x00" in data,
        zone=zone,
    )


def _oversized(table: pa.Table) -> dict[int, str]:
    """Positions of the rows with a cell larger than MAX_FIELD_BYTES, and the reason."""
    found: dict[int, str] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        lengths = pc.binary_length(column)
        too_big = pc.fill_null(pc.greater(lengths, MAX_FIELD_BYTES), False)
        if not pc.any(too_big).as_py():
            continue
        sizes = lengths.to_numpy(zero_copy_only=False)
        for pos in too_big.to_numpy(zero_copy_only=False).nonzero()[0]:
            found.setdefault(
                int(pos),
                f"field too large: {name} is {int(sizes[pos]):,} bytes (at most {MAX_FIELD_BYTES:,})",
            )
    return found


def _check_last_line(
    path: Path,
    entity: Entity,
    data: bytes,
    table: pa.Table,
    malformed: list[BadRow],
    last_row_no: int,
    zone: str,
) -> None:
    """A last line without a line end that does not parse is where the file was cut."""
    line = data.count(b"\n")  # the data has one more line end than the file: its last line's number
    cut = f"{path}: the file looks truncated: its last line ({line}) has no line end and "
    for bad in malformed:
        if bad.row_no == last_row_no:
            raise BatchError(cut + bad.reason.removeprefix("malformed CSV row: "))
    if table.num_rows == 0:
        return
    last = table.slice(table.num_rows - 1)
    for column in entity.fields:
        cells = last.column(column.name).combine_chunks()
        if parse(cells, column, zone)[1].any():
            raise BatchError(cut + parse_failure(column, cells[0].as_py()))
