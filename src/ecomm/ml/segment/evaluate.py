"""Agreement of segments with another labelling: adjusted Rand index, and the RFM-quintile baseline.

`ari_against(segments, labels)` aligns both series on their index (customer id) and scores the
customers present in both: the planted personas (truth.customer_persona) are passed in by the caller,
this module reads no table. The baseline is classic RFM segmentation: recency, frequency and
monetary value each cut into quintiles (5 = most recent, most frequent, highest spend; ties broken by
customer order so every quintile has a fifth of the customers), a customer's segment the cell "RFM"
of the three scores (up to 125 cells).
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import adjusted_rand_score

RECENCY, FREQUENCY, MONETARY = "recency_days", "orders", "monetary"


def ari_against(segments: pd.Series, labels: pd.Series) -> float:
    """ARI between two labellings of the customers both index (raises if they share none)."""
    common = segments.index.intersection(labels.index)
    if common.empty:
        raise ValueError("the segments and the labelling share no customer")
    return float(adjusted_rand_score(labels.loc[common].astype(str), segments.loc[common].astype(str)))


def quintile(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """1..5 by rank (ties by position), 5 = best."""
    ranks = values.rank(method="first", ascending=higher_is_better)
    return pd.qcut(ranks, 5, labels=False).astype(int) + 1


def rfm_segments(features: pd.DataFrame) -> pd.Series:
    """'RFM' cell of each row (index as `features`'), e.g. '545'."""
    r = quintile(features[RECENCY], higher_is_better=False)
    f = quintile(features[FREQUENCY])
    m = quintile(features[MONETARY])
    return r.astype(str) + f.astype(str) + m.astype(str)


def agreement(segments: pd.Series, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    """ARI of the segments and of the RFM cells against `labels`, and their ratio (index: customer id)."""
    ours = ari_against(segments, labels)
    rfm = ari_against(rfm_segments(features), labels)
    return {"ari": ours, "rfm_ari": rfm, "ari_over_rfm": ours / rfm if rfm > 0 else float("inf")}
