"""The segment champion's assignment of the customers at every month start, stored in
marts.customer_segments (one row per customer x as-of month) with the segments' names and profiles
in marts.segment_profiles; both replaced whole in one transaction (readers see the old or the new).

Months: every first of month from the first one with `MIN_HISTORY_DAYS` of warehouse history up to
the training as-of date, so the dashboard can show movement between segments month over month. Each
month's features are computed as of that day (ecomm.features.segments: point in time).
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pandas as pd

from ecomm.features import columns as C
from ecomm.features.churn import month_starts, warehouse_span
from ecomm.features.segments import AS_OF, segment_features
from ecomm.ml.churn.scoring import ModelRef
from ecomm.ml.serving import SEGMENT_ID

SEGMENTS_TABLE = "marts.customer_segments"
PROFILES_TABLE = "marts.segment_profiles"
MIN_HISTORY_DAYS = 28


def assignment_months(first_day: date, as_of: date) -> list[date]:
    return month_starts(first_day + timedelta(days=MIN_HISTORY_DAYS), as_of)


def assign(pyfunc, conn, months: list[date]) -> pd.DataFrame:
    """customer_id, as_of_date, segment_id of every active customer at each month start."""
    frames = []
    for month in months:
        features = segment_features(conn, month)
        if features.empty:
            continue
        segments = pyfunc.predict(None, features)
        frames.append(
            features[[C.CUSTOMER_ID, AS_OF]].assign(**{SEGMENT_ID: segments[SEGMENT_ID].to_numpy()})
        )
    if not frames:
        return pd.DataFrame(columns=[C.CUSTOMER_ID, AS_OF, SEGMENT_ID])
    return pd.concat(frames, ignore_index=True)


def _copy(cur, table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def store(conn, assigned: pd.DataFrame, segments: list[dict], model: ModelRef) -> int:
    """Replace both tables in the caller's transaction, which must commit."""
    profiles = pd.DataFrame(
        {
            "model_version": model.version,
            "segment_id": [s["segment_id"] for s in segments],
            "segment_name": [s["name"] for s in segments],
            "training_size": [s["size"] for s in segments],
            "training_share": [s["share"] for s in segments],
            "profile": [json.dumps(s["profile"]) for s in segments],
        }
    )
    rows = assigned.assign(model_name=model.name, model_version=model.version, model_source=model.source)
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {SEGMENTS_TABLE}, {PROFILES_TABLE}")
        _copy(cur, PROFILES_TABLE, profiles)
        _copy(cur, SEGMENTS_TABLE, rows)
    return len(rows)


def assign_and_store(conn, pyfunc, model: ModelRef, as_of: date) -> int:
    """Assign every month start up to `as_of` with the loaded champion (`pyfunc`: a SegmentPyfunc)
    and store it; the number of rows stored."""
    months = assignment_months(warehouse_span(conn).first_day, as_of)
    count = store(conn, assign(pyfunc, conn, months), pyfunc.segments, model)
    conn.commit()
    return count
