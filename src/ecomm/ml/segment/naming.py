"""Segment ids, names and profiles, all derived from the fitted centroids (never hand-labelled).

Ids: clusters numbered by size, largest first (ties: the smaller centroid, lexicographically), so
the same data and seed give the same ids. A centroid in the scaled space is a vector of z-scores
(each feature standardised over all customers, log1p first for the skewed ones): how far the
segment's typical customer sits from the average one, in standard deviations. A segment's name is
its `NAME_FEATURES` most distinctive features, largest |z| first (ties by feature name), each as
"high <feature>" or "low <feature>" ("high orders per 30d, low recency days"); features within
`NEUTRAL_Z` of the average are not distinctive, and a segment with none is "average customers".
When two segments would share a name, both use one more feature until the names differ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from ecomm.features import columns as C

NAME_FEATURES = 2
PROFILE_FEATURES = 5
NEUTRAL_Z = 0.25
AVERAGE = "average customers"


def size_order(model: KMeans) -> np.ndarray:
    """Old cluster labels in their new order: by size descending, ties by the centroid's values."""
    sizes = np.bincount(model.labels_, minlength=model.n_clusters)
    keys = [(-sizes[c], tuple(np.round(model.cluster_centers_[c], 12))) for c in range(model.n_clusters)]
    return np.array(sorted(range(model.n_clusters), key=lambda c: keys[c]))


def relabel(model: KMeans, order: np.ndarray) -> KMeans:
    """The model with its clusters renumbered: new label i is old label order[i] (predict follows)."""
    new_of_old = np.empty_like(order)
    new_of_old[order] = np.arange(len(order))
    model.cluster_centers_ = model.cluster_centers_[order]
    model.labels_ = new_of_old[model.labels_]
    return model


def readable(feature: str) -> str:
    """'orders_per_30d' -> 'orders per 30d'; 'cat_share_home_kitchen' -> 'home kitchen share'."""
    if feature.startswith(C.CATEGORY_SHARE_PREFIX):
        return feature.removeprefix(C.CATEGORY_SHARE_PREFIX).replace("_", " ") + " share"
    return feature.replace("_", " ")


def distinctive(z: pd.Series) -> list[str]:
    """Features with |z| >= NEUTRAL_Z, the largest |z| first, ties by name."""
    keep = z[z.abs() >= NEUTRAL_Z]
    return sorted(keep.index, key=lambda f: (-abs(round(float(keep[f]), 9)), f))


def phrase(features: list[str], z: pd.Series) -> str:
    if not features:
        return AVERAGE
    return ", ".join(f"{'high' if z[f] > 0 else 'low'} {readable(f)}" for f in features)


def segment_names(centroids: pd.DataFrame, n: int = NAME_FEATURES) -> list[str]:
    """One name per row of `centroids` (segment x feature z-scores), unique when the centroids differ."""
    ranked = [distinctive(centroids.loc[s]) for s in centroids.index]
    depth = [n] * len(ranked)
    while True:
        names = [
            phrase(r[:d], centroids.loc[s]) for s, r, d in zip(centroids.index, ranked, depth, strict=True)
        ]
        clashes = {name for name in names if names.count(name) > 1}
        grow = [i for i, name in enumerate(names) if name in clashes and depth[i] < len(ranked[i])]
        if not grow:
            break
        for i in grow:
            depth[i] += 1
    # identical centroids (or none distinctive): still distinct names
    return [f"{name} ({i})" if names.count(name) > 1 else name for i, name in enumerate(names)]


@dataclass(frozen=True)
class Segment:
    segment_id: int
    name: str
    size: int
    share: float
    profile: list[dict]  # the most distinctive features: feature, z, the segment's mean, everyone's mean

    def to_dict(self) -> dict:
        return asdict(self)


def describe(
    model: KMeans, scaled_names: list[str], features: pd.DataFrame, labels: np.ndarray
) -> list[Segment]:
    """Every segment of a relabelled model: its name and profile from its centroid, and its raw means."""
    centroids = pd.DataFrame(model.cluster_centers_, columns=scaled_names)
    names = segment_names(centroids)
    overall = features[scaled_names].mean()
    out = []
    for s in range(model.n_clusters):
        members = features.loc[labels == s, scaled_names]
        z = centroids.loc[s]
        profile = [
            {
                "feature": f,
                "z": round(float(z[f]), 3),
                "mean": round(float(members[f].mean()), 4),
                "overall_mean": round(float(overall[f]), 4),
            }
            for f in distinctive(z)[:PROFILE_FEATURES]
        ]
        out.append(Segment(s, names[s], int(len(members)), len(members) / len(features), profile))
    return out
