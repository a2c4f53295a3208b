"""`validate.holds`, the shortcut a clean frame takes past pandera's failure report, agrees with pandera
on frames with random bad cells: it never passes a frame pandera rejects (that row would be stored
unchecked) and passes the clean ones. Every check of both stream schemas fails somewhere in the run,
so each of them was put to the test."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pandera.errors import SchemaErrors

from ecomm.stream.ingest import check_events
from ecomm.stream.tables import ID_COLUMN, STREAM_ENTITIES
from ecomm.warehouse import validate as V
from ecomm.warehouse.contract import kind, to_pandas

from support.stream import DAY, order_line, web_event

BAD_VALUES = {
    "integer": [None, -1, 0, 40_000, 2**40],
    "numeric": [None, -1.0, 0.0, 1e20, 10.555, float("nan"), float("inf")],
    "text": [None, "", "buy", "a\x00b"],
    "timestamp": [None, pd.Timestamp("2026-03-03 00:00:01"), pd.Timestamp("1999-01-01")],
}


def _clean(name: str) -> pd.DataFrame:
    events = (
        [web_event(n) for n in range(1, 9)] if name == "web_events" else [order_line(n) for n in range(1, 9)]
    )
    checked = check_events([(e["event_id"], e["entity"], e["data"]) for e in events])
    assert checked.rejected == []
    return to_pandas(checked.rows[name].drop_columns([ID_COLUMN]))


def _pandera(schema, frame: pd.DataFrame) -> set[str]:
    """The checks pandera finds failing (empty: it passes the frame)."""
    try:
        schema.validate(frame.copy(), lazy=True)
    except SchemaErrors as exc:
        return set(exc.failure_cases["check"].astype(str))
    return set()


@pytest.mark.parametrize("name", list(STREAM_ENTITIES))
def test_holds_passes_exactly_what_pandera_passes(name):
    entity, rng = STREAM_ENTITIES[name], random.Random(18)
    schema, clean = V.schema(entity), _clean(name)
    token = V._BATCH.set(date.fromisoformat(DAY))  # what validate() sets for the batch-date rule
    try:
        failing, outcomes = set(), []
        for _ in range(250):
            frame = clean.copy()
            for _ in range(rng.choice([1, 1, 2])):
                row, column = rng.randrange(len(frame)), rng.choice(entity.fields)
                if rng.random() < 0.1:  # another row's key
                    frame.loc[row, list(entity.key)] = frame.loc[(row + 1) % len(frame), list(entity.key)]
                else:
                    value = rng.choice(BAD_VALUES[kind(column)])
                    frame[column.name] = frame[column.name].astype(object)
                    frame.at[row, column.name] = value
                    frame[column.name] = frame[column.name].astype(clean[column.name].dtype)
            rejected = _pandera(schema, frame)
            failing |= rejected
            outcomes.append(not rejected)
            assert V.holds(schema, frame) == (not rejected), (rejected, frame)
        assert V.holds(schema, clean) and _pandera(schema, clean) == set()
    finally:
        V._BATCH.reset(token)
    checks = {str(c.error) for column in schema.columns.values() for c in column.checks}
    checks |= {str(c.error) for c in schema.checks}
    named = {c for c in failing if c not in ("not_nullable", "multiple_fields_uniqueness")}
    assert not _unreached(checks, named)  # every check of the schema failed on some frame
    assert {"not_nullable", "multiple_fields_uniqueness"} <= failing
    assert 0.05 < np.mean(outcomes) < 0.95  # and both outcomes occurred


def _unreached(checks: set[str], named: set[str]) -> set[str]:
    """The schema's checks no frame of the run failed (the batch date is named in the failure)."""
    seen = {c.replace(str(DAY), "{batch}") for c in named}
    return {c for c in checks if c not in seen}
