"""Validation of posted events with the raw files' contract: the same parser and pandera schema
(`ecomm.warehouse.validate`), not a second copy of the rules.

An event is `{event_id, entity, data}`: `data` holds one row of `entity` (web_events or order_items),
cells as JSON scalars. Its day (the date of the entity's event-time column) is the batch date the
contract's date rule checks against, so an event is valid exactly when the same row would be valid in
that day's raw file. References to the warehouse (does the customer exist?) are the nightly load's
SQL check, not ingestion's: today's new customers are not in the warehouse until tonight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from ecomm.entities import Entity
from ecomm.stream.tables import ID_COLUMN, STREAM_ENTITIES, event_time_column
from ecomm.warehouse.contract import parse
from ecomm.warehouse.raw import RawFile
from ecomm.warehouse.validate import validate


@dataclass(frozen=True)
class Rejected:
    index: int  # position in the posted batch
    event_id: str
    reason: str


@dataclass
class Checked:
    rows: dict[str, pd.DataFrame]  # entity name -> typed valid rows, with stream_event_id
    rejected: list[Rejected]

    @property
    def accepted(self) -> int:
        return sum(len(f) for f in self.rows.values())


def cell(value) -> str | None:
    """A JSON scalar as the text a CSV cell would hold (the contract parses text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _batch_dates(entity: Entity, frame: pd.DataFrame, zone: str) -> np.ndarray:
    """Each row's day by its event time (rows whose time does not parse get any day: the parser
    rejects them there with the same reason)."""
    column = event_time_column(entity)
    cells = pa.array(frame[column.name], type=pa.string(), from_pandas=True)
    times, _ = parse(cells, column, zone)
    days = pd.Series(times.to_pandas()).dt.normalize()
    return days.fillna(pd.Timestamp("2000-01-01")).dt.date.to_numpy()


def _check_entity(
    entity: Entity, events: list[tuple[int, str, dict]], zone: str
) -> tuple[pd.DataFrame, list[Rejected]]:
    rejected, rows, ids = [], [], {}
    for index, event_id, data in events:
        unknown = sorted(set(data) - set(entity.columns))
        if unknown:
            reason = "; ".join(f"{name}: unknown field of {entity.name}" for name in unknown)
            rejected.append(Rejected(index, event_id, reason))
            continue
        if unencodable := [k for k, v in data.items() if isinstance(v, str) and not _is_utf8(v)]:
            # JSON may escape a lone surrogate; no text column (nor UTF-8) can hold it
            reason = "; ".join(f"{name}: not valid Unicode text" for name in sorted(unencodable))
            rejected.append(Rejected(index, event_id, reason))
            continue
        rows.append({"row_no": index, **{c: cell(data.get(c)) for c in entity.columns}})
        ids[index] = event_id
    if not rows:
        return pd.DataFrame(), rejected
    frame = pd.DataFrame(rows, columns=["row_no", *entity.columns], dtype=object)
    frame["row_no"] = frame["row_no"].astype("int64")
    good = []
    days = _batch_dates(entity, frame, zone)
    for day in sorted(set(days)):
        part = frame[days == day].reset_index(drop=True)
        typed, bad = validate(RawFile(entity, part, zone=zone), date.fromisoformat(str(day)))
        good.append(typed)
        rejected += [Rejected(b.row_no, ids[b.row_no], b.reason) for b in bad]
    typed = pd.concat(good, ignore_index=True)
    typed.insert(0, ID_COLUMN, typed["row_no"].map(ids))
    return typed.drop(columns="row_no"), rejected


def check_events(events: list[tuple[str, str, dict]], zone: str = "UTC") -> Checked:
    """`events`: (event_id, entity name, data) in posted order. The valid rows by entity, and every
    rejected event with its reason (an event_id repeated within the batch: the later ones)."""
    by_entity: dict[str, list[tuple[int, str, dict]]] = {}
    rejected, seen = [], set()
    for index, (event_id, name, data) in enumerate(events):
        if event_id in seen:
            rejected.append(Rejected(index, event_id, "event_id: repeated within the batch"))
            continue
        seen.add(event_id)
        by_entity.setdefault(name, []).append((index, event_id, data))
    rows = {}
    for name, part in by_entity.items():
        frame, bad = _check_entity(STREAM_ENTITIES[name], part, zone)
        rejected += bad
        if len(frame):
            rows[name] = frame
    return Checked(rows, sorted(rejected, key=lambda r: r.index))
