"""The predictions each daily drift run made, kept until their labels mature (marts.monitored_predictions).

The drift run of business date D builds the population a version would score on D + 1 and scores
it (monitoring.models). The realised quality on D + horizon needs exactly those predictions (the
same version on the same point-in-time features), so the drift run logs them and the quality reads
them back instead of rebuilding that cutoff's features (monitoring.quality). A cutoff whose log is
missing (the first days after a deployment or a new champion, a day the drift run did not run) is
rebuilt as before. The quality of date D deletes the model's rows of cutoffs before its own, and
those of its own once measured, so the table holds about `horizon` cutoffs per model.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd

from ecomm.features import columns as C

TABLE = "marts.monitored_predictions"
PREDICTION = "prediction"


def logged_models() -> tuple[str, ...]:
    """The models whose drift run logs its predictions: those whose realised quality is measured
    (monitoring.quality.monitored_outcomes)."""
    from ecomm.ml import registry

    return (registry.CHURN_MODEL, registry.PURCHASE_MODEL)


def log_predictions(conn, name: str, version: str, cutoff: dt.date, customers, predictions) -> int:
    """Replace the (model, version, cutoff) rows with one per customer, in the caller's transaction."""
    rows = pd.DataFrame({
        "model_name": name,
        "model_version": int(version),
        "cutoff_date": cutoff,
        C.CUSTOMER_ID: np.asarray(customers, dtype=np.int64),
        PREDICTION: np.asarray(predictions, dtype=float),
    })  # fmt: skip
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False)  # floats written at full precision (repr)
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.execute(
            f"DELETE FROM {TABLE} WHERE model_name = %s AND model_version = %s AND cutoff_date = %s",
            (name, int(version), cutoff),
        )
        cur.copy_expert(f"COPY {TABLE} ({', '.join(rows.columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
    return len(rows)


def logged_predictions(conn, name: str, version: str, cutoff: dt.date) -> pd.DataFrame | None:
    """customer_id, prediction the version logged for `cutoff` (by customer); None if none logged."""
    from ecomm.db import query_frame

    frame = query_frame(
        conn,
        f"SELECT {C.CUSTOMER_ID}, {PREDICTION} FROM {TABLE} WHERE model_name = %(name)s "
        "AND model_version = %(version)s AND cutoff_date = %(cutoff)s ORDER BY 1",
        {"name": name, "version": int(version), "cutoff": cutoff},
    )
    return None if frame.empty else frame.astype({C.CUSTOMER_ID: "int64", PREDICTION: "float64"})


def forget_through(conn, name: str, cutoff: dt.date) -> int:
    """Delete the model's rows of every version up to `cutoff` (their quality is measured or past),
    in the caller's transaction; the number deleted."""
    with conn.cursor() as cur:
        cur.execute(f"DELETE FROM {TABLE} WHERE model_name = %s AND cutoff_date <= %s", (name, cutoff))
        return cur.rowcount
