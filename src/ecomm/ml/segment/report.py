"""The segments in `ecomm evaluate`: champion and challenger assign the customers of the latest month
start (the same rows for both), beside the RFM-quintile cells; scored by silhouette (in each
version's own scaled space) and, where the simulated shop planted them, by the adjusted Rand index
against the personas (truth.customer_persona, read for evaluation only).

Targets (issue 15): persona ARI >= 0.5 and >= 2 x the RFM cells'; K-Means stability (ARI between
restarts, from the champion's training run) >= 0.8.
"""

from __future__ import annotations

import pandas as pd

from ecomm import db
from ecomm.features import columns as C
from ecomm.features.churn import warehouse_span
from ecomm.features.segments import segment_features
from ecomm.ml import registry
from ecomm.ml.comparison import Comparison, Target, champion_row, entries
from ecomm.ml.segment import evaluate as ev
from ecomm.ml.segment.train import default_as_of, labels_silhouette, model_assignment, planted_personas
from ecomm.settings import Settings

SEGMENT_METRICS = ("segments", "silhouette", "persona_ari")
RFM_BASELINE = "RFM cells (baseline)"
SEED = 42  # the silhouette's sample


def compare_segments(settings: Settings, client) -> Comparison:
    versions = entries(client, registry.SEGMENT_MODEL)
    if not versions:
        return Comparison(
            registry.SEGMENT_MODEL, "", SEGMENT_METRICS, message="not registered: run `ecomm train segments`"
        )
    with db.connection(settings) as conn:
        as_of = default_as_of(warehouse_span(conn).last_day)
        frame = segment_features(conn, as_of)
        personas = planted_personas(conn)
    index = frame[C.CUSTOMER_ID]
    rows = {}
    for label, version in versions.items():
        x, labels = model_assignment(registry.model_uri(registry.SEGMENT_MODEL, version), frame)
        rows[label] = {"segments": float(len(set(labels))), "silhouette": labels_silhouette(x, labels, SEED)}
        if personas is not None:
            rows[label]["persona_ari"] = ev.ari_against(pd.Series(labels, index=index), personas)
    rfm = ev.rfm_segments(frame.set_index(C.CUSTOMER_ID))
    rows[RFM_BASELINE] = {"segments": float(rfm.nunique())}
    if personas is not None:
        rows[RFM_BASELINE]["persona_ari"] = ev.ari_against(rfm, personas)
    truth = "the planted personas" if personas is not None else "no planted truth"
    return Comparison(
        registry.SEGMENT_MODEL,
        f"customers active before {as_of} ({len(frame)}), against {truth}",
        SEGMENT_METRICS,
        rows,
        registry.aliases(client, registry.SEGMENT_MODEL),
    )


def segment_targets(comp: Comparison, run: dict[str, float]) -> list[Target]:
    row, rfm = champion_row(comp), comp.rows.get(RFM_BASELINE, {})
    ari = row.get("persona_ari") if row else None
    out = [
        Target(
            "segments ARI vs planted personas",
            ari,
            ">= 0.5",
            None if ari is None else ari >= 0.5,
            "" if ari is not None else "no champion or no planted personas",
        )
    ]
    if ari is not None and rfm.get("persona_ari"):
        ratio = ari / rfm["persona_ari"]
        out.append(
            Target(
                "segments ARI / RFM cells' ARI",
                ratio,
                ">= 2",
                ratio >= 2,
                f"{ari:.4f} / {rfm['persona_ari']:.4f}",
            )
        )
    else:
        out.append(Target("segments ARI / RFM cells' ARI", None, ">= 2", None, "no champion or no truth"))
    stability = run.get("restart_stability")
    out.append(
        Target(
            "segments K-Means stability (ARI between restarts)",
            stability,
            ">= 0.8",
            None if stability is None else stability >= 0.8,
            "champion's training run" if stability is not None else "no run metrics",
        )
    )
    return out
