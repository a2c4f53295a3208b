"""Validation of posted events with the raw files' contract: the same parser and pandera schema
(`ecomm.warehouse.validate`), not a second copy of the rules.

An event is `{event_id, entity, data}`: `data` holds one row of `entity` (web_events or order_items),
cells as JSON scalars. Its day (the date of the entity's event-time column) is the batch date the
contract's date rule checks against, so an event is valid exactly when the same row would be valid in
that day's raw file. References to the warehouse (does the customer exist?) are the nightly load's
SQL check, not ingestion's: today's new customers are not in the warehouse until tonight.

The cells are parsed once per micro-batch (a column of JSON numbers in an integer or numeric column
is taken as numbers: the values their text would parse to), then checked by day; a clean frame
passes `validate.holds` (the schema's checks, without pandera's failure report) and only a frame
with a failure goes through pandera, which names each bad row. The valid rows stay a pyarrow table:
what the writer sends to COPY.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from ecomm.entities import Column, Entity
from ecomm.stream.tables import ID_COLUMN, STREAM_ENTITIES, event_time_column
from ecomm.warehouse.contract import arrow_type, kind, to_pandas
from ecomm.warehouse.raw import RawFile
from ecomm.warehouse.validate import duplicate_key_reason, parse_columns, validate


@dataclass(frozen=True)
class Rejected:
    index: int  # position in the posted batch
    event_id: str
    reason: str


@dataclass
class Checked:
    rows: dict[str, pa.Table]  # entity name -> typed valid rows: stream_event_id, then the entity's columns
    rejected: list[Rejected]

    @property
    def accepted(self) -> int:
        return sum(t.num_rows for t in self.rows.values())


def cell(value) -> str | None:
    """A JSON scalar as the text a CSV cell would hold (the contract parses text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


# `cell` of the types JSON numbers arrive as, called straight (as many calls as numeric cells)
_NUMBER_TEXT = {int: int.__repr__, float: float.__repr__}


def _text(values: list) -> list[str | None]:
    """JSON scalars as text cells."""
    return [v if v is None or v.__class__ is str else _NUMBER_TEXT.get(v.__class__, cell)(v) for v in values]


# the JSON numbers an integer or numeric column may take as they are (a bool is not one)
_NUMBERS = {"integer": (int,), "numeric": (int, float)}


def _column(column: Column, values: list) -> pa.Array:
    """A column's cells: JSON numbers as the integer or numeric column's type when every cell is one
    (the values their text parses to: pyarrow refuses an integer beyond int64, or one a float64
    cannot hold exactly, and that column goes the text way), else the cells as text (what a raw
    file's text path reads, for the contract's parser)."""
    numbers = _NUMBERS.get(kind(column))
    if numbers and all(v is None or v.__class__ in numbers for v in values):
        try:
            return pa.array(values, type=arrow_type(column))
        except (pa.ArrowInvalid, OverflowError):
            pass
    return pa.array(_text(values), type=pa.string())


def _unencodable(values: list) -> list[int]:
    """Positions of the text cells UTF-8 cannot hold (JSON may escape a lone surrogate; no text
    column can store it)."""
    bad = []
    for pos, text in enumerate(values):
        try:
            if isinstance(text, str):
                text.encode()
        except UnicodeEncodeError:
            bad.append(pos)
    return bad


def _known(entity: Entity, events: list[tuple[int, str, dict]]) -> tuple[list, list[Rejected]]:
    """The events whose fields are all the entity's, and the others rejected naming the unknown ones."""
    allowed, kept, rejected = entity.columns, [], []
    fields = frozenset(allowed)
    for event in events:
        if event[2].keys() <= fields:
            kept.append(event)
            continue
        unknown = sorted(set(event[2]) - fields)
        reason = "; ".join(f"{name}: unknown field of {entity.name}" for name in unknown)
        rejected.append(Rejected(event[0], event[1], reason))
    return kept, rejected


def _columns(
    entity: Entity, events: list[tuple[int, str, dict]]
) -> tuple[list, dict[str, pa.Array], list[Rejected]]:
    """The events as columns (`_column`), less the events with a cell no text column can hold
    (pyarrow refuses such a column whole: then each cell is looked at)."""
    datas = [data for _, _, data in events]
    values = {c.name: [data.get(c.name) for data in datas] for c in entity.fields}
    try:
        return events, {c.name: _column(c, values[c.name]) for c in entity.fields}, []
    except UnicodeEncodeError:
        pass
    bad: dict[int, list[str]] = {}
    for name, cells in values.items():
        for pos in _unencodable(cells):
            bad.setdefault(pos, []).append(f"{name}: not valid Unicode text")
    rejected = [Rejected(events[pos][0], events[pos][1], "; ".join(sorted(why))) for pos, why in bad.items()]
    keep = [pos for pos in range(len(events)) if pos not in bad]
    columns = {c.name: _column(c, [values[c.name][pos] for pos in keep]) for c in entity.fields}
    return [events[pos] for pos in keep], columns, rejected


def _days(entity: Entity, frame: pd.DataFrame) -> np.ndarray:
    """Each row's day by its event time (rows without one get any day: the contract rejects them
    there with the same reason)."""
    days = frame[event_time_column(entity).name].to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(days), np.datetime64("2000-01-01"), days)


def _check_entity(
    entity: Entity, events: list[tuple[int, str, dict]], zone: str
) -> tuple[pa.Table | None, list[Rejected]]:
    """The valid rows (stream_event_id, the entity's columns, and row_no: the event's number) and the
    rejected events. The cells are parsed once; the parsed rows are validated by the day of their
    event time, as that day's raw file would be (usually one day: one call)."""
    events, rejected = _known(entity, events)
    events, cells, unencodable = _columns(entity, events)
    rejected += unencodable
    if not events:
        return None, rejected
    table, unparsed = parse_columns(entity, cells, zone)
    row_no = np.fromiter((index for index, _, _ in events), dtype="int64", count=len(events))
    rejected += [Rejected(int(row_no[pos]), events[pos][1], "; ".join(why)) for pos, why in unparsed.items()]
    frame = to_pandas(table)
    frame.insert(0, "row_no", row_no)
    if unparsed:
        frame = frame.drop(index=list(unparsed))
    days = _days(entity, frame)
    good, unique = [np.empty(0, dtype="int64")], np.unique(days)
    for day in unique:
        part = frame if len(unique) == 1 else frame[days == day]
        typed, bad = validate(RawFile(entity, part, typed=True, zone=zone), date.fromisoformat(str(day)))
        good.append(typed["row_no"].to_numpy())
        rejected += [
            Rejected(b.row_no, events[int(np.searchsorted(row_no, b.row_no))][1], b.reason) for b in bad
        ]
    kept = np.searchsorted(row_no, np.sort(np.concatenate(good)))  # row_no rises with the position
    ids = pa.array([event_id for _, event_id, _ in events], type=pa.string())
    valid = table.take(kept).add_column(0, ID_COLUMN, ids.take(kept))
    return valid.append_column("row_no", pa.array(row_no[kept])), rejected


def check_batches(batches: list[list[tuple[str, str, dict]]], zone: str = "UTC") -> list[Checked]:
    """Several posted batches validated in one call per entity (the contract's checks cost mostly per
    call, little per row), each batch's outcome exactly what it alone would get: every check looks at
    one row but the key's uniqueness within the file, so a batch with a row found to share its key
    (with a row of its own or of another batch) is validated again alone."""
    offsets = np.cumsum([0, *map(len, batches)])
    by_entity: dict[str, list[tuple[int, str, dict]]] = {}
    rejected: list[list[Rejected]] = [[] for _ in batches]
    for k, events in enumerate(batches):
        seen: set[str] = set()
        first = int(offsets[k])
        for index, (event_id, name, data) in enumerate(events):
            if event_id in seen:
                rejected[k].append(Rejected(index, event_id, "event_id: repeated within the batch"))
                continue
            seen.add(event_id)
            by_entity.setdefault(name, []).append((first + index, event_id, data))
    rows: list[dict[str, pa.Table]] = [{} for _ in batches]
    alone = set()  # batches to validate again on their own
    for name, part in by_entity.items():
        entity = STREAM_ENTITIES[name]
        table, bad = _check_entity(entity, part, zone)
        shared_key = duplicate_key_reason(entity)
        for r in bad:
            k = int(np.searchsorted(offsets, r.index, side="right")) - 1
            rejected[k].append(Rejected(r.index - int(offsets[k]), r.event_id, r.reason))
            if len(batches) > 1 and shared_key in r.reason:
                alone.add(k)
        if table is None or not table.num_rows:
            continue
        owner = np.searchsorted(offsets, table.column("row_no").to_numpy(), side="right") - 1
        table = table.drop_columns(["row_no"])
        for k in np.unique(owner):
            rows[k][name] = table if len(batches) == 1 else table.filter(pa.array(owner == k))
    checked = [Checked(rows[k], sorted(rejected[k], key=lambda r: r.index)) for k in range(len(batches))]
    for k in alone:
        [checked[k]] = check_batches([batches[k]], zone)
    return checked


def check_events(events: list[tuple[str, str, dict]], zone: str = "UTC") -> Checked:
    """`events`: (event_id, entity name, data) in posted order. The valid rows by entity, and every
    rejected event with its reason (an event_id repeated within the batch: the later ones)."""
    [checked] = check_batches([events], zone)
    return checked


# one event of each entity, valid by the contract: `warm_up` validates them
_WARM_UP = [
    ("warm-up-web", "web_events", {
        "event_id": 1, "session_id": 1, "customer_id": 1, "product_id": 1, "event_type": "view",
        "event_ts": "2026-01-05 10:00:00",
    }),
    ("warm-up-order", "order_items", {
        "order_id": 1, "line_no": 1, "order_ts": "2026-01-05 10:00:00", "customer_id": 1, "product_id": 1,
        "campaign_id": None, "quantity": 1, "unit_price": 10.5, "discount": 0.0, "revenue": 10.5,
        "unit_cost": 4.25, "status": "completed", "delivery_days": 2,
    }),
]  # fmt: skip


def warm_up(zone: str = "UTC") -> Checked:
    """Validate one event of each entity, so that what the first validation imports and builds once
    (pandera imports hypothesis on its first validation: about 1 s of CPU) is done before the first
    request, not during it."""
    return check_events(_WARM_UP, zone)
