"""Reading one raw CSV file of a batch into strings, keeping every unreadable line as a bad row.

Row numbers are the row's position among the file's non-blank lines, header = 1 (the generator
writes no blank lines, so for its files this is the line number).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ecomm.entities import FALSE_VALUES, TRUE_VALUES, Entity
from ecomm.warehouse.contract import arrow_types, to_pandas


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


def _read_typed(data: bytes, entity: Entity, header: list[str]) -> RawFile | None:
    """The fast path for a clean file: pyarrow parses every column to the contract's type in C++.
    None when any row is malformed or any value does not parse (the text path then says which;
    it parses with the same value parser, `contract.parse`, so both accept the same values)."""
    malformed = []
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=True),
            parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: malformed.append(row) or "skip"),
            convert_options=pacsv.ConvertOptions(
                column_types={c: t for c, t in arrow_types(entity).items() if c in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                include_columns=list(entity.columns),
                true_values=list(TRUE_VALUES),
                false_values=list(FALSE_VALUES),
            ),
        )
    except pa.ArrowInvalid:
        return None
    if malformed:
        return None
    frame = to_pandas(table)
    frame.insert(0, "row_no", range(2, len(frame) + 2))
    return RawFile(entity, frame, [], typed=True, has_nul=b"\x00" in data)


def read_raw_file(path: Path, entity: Entity, *, typed: bool = True) -> RawFile:
    """The file's rows: parsed to their types when every value parses (pyarrow's CSV reader),
    else as text for `validate` to parse and name each bad cell. typed=False: always as text."""
    if not path.exists():
        raise BatchError(f"{path}: file missing (every batch has one {entity.file_name})")
    data = path.read_bytes()
    if not data.strip():
        raise BatchError(f"{path}: file is empty (expected at least the header row)")
    data, utf8_bad = _invalid_utf8_rows(data)

    header = data.split(b"\n", 1)[0].decode("utf-8").strip("\r\ufeff").split(",")
    header = [h.strip().strip('"') for h in header]
    missing = [c for c in entity.columns if c not in header]
    if missing:
        raise BatchError(f"{path}: missing column(s) {', '.join(missing)}")

    if typed and not utf8_bad:
        parsed = _read_typed(data, entity, header)
        if parsed is not None:
            return parsed

    malformed: list[BadRow] = []

    def on_invalid(row) -> str:
        malformed.append(
            BadRow(
                row.number,
                {"line": row.text},
                f"malformed CSV row: {row.actual_columns} fields, expected {row.expected_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False),  # row numbers need one thread
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                include_columns=list(entity.columns),
            ),
        )
    except pa.ArrowInvalid as exc:
        raise BatchError(f"{path}: unreadable CSV ({exc})") from exc

    frame = table.to_pandas()
    for col in frame.columns:  # pandas gives NaN for nulls; None keeps object columns uniform
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    malformed_nos = {b.row_no for b in malformed}
    total = len(frame) + len(malformed) + 1
    frame.insert(0, "row_no", [n for n in range(2, total + 1) if n not in malformed_nos])

    bad_rows = malformed
    if utf8_bad:
        is_bad = frame["row_no"].isin(list(utf8_bad))
        for rec in frame[is_bad].to_dict("records"):
            row_no = rec.pop("row_no")
            bad_rows.append(BadRow(row_no, rec, utf8_bad[row_no]))
        frame = frame[~is_bad]
    return RawFile(entity, frame.reset_index(drop=True), bad_rows, has_nul=b"\x00" in data)
