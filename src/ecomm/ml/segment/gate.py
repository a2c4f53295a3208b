"""The segment model's promotion gate: a challenger replaces the champion when it is not worse on
either criterion of the training run's k choice - silhouette and stability.

Silhouette: both versions assign the same fresh customers (the challenger's training rows: the
latest as-of date), each in its own scaled space, scored by `silhouette(model_uri)`. Stability: each
version's bootstrap ARI, stored as its tag `segment.stability` at registration (a property of how the
version was fitted, not of today's rows). "Not worse" within `tolerance` (default 0): a retrain on the
same data ties and takes over (the freshest fit is served); a fit that is less separated or less
stable than the champion does not. The first version becomes champion without a contest. The
decision is recorded as tags on the version, like registry.promotion_gate's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from ecomm.ml import registry

STABILITY_TAG = "segment.stability"


@dataclass
class SegmentGate:
    model_name: str
    challenger_version: str
    champion_before: str | None
    champion_after: str
    challenger_silhouette: float
    champion_silhouette: float | None
    challenger_stability: float
    champion_stability: float | None
    tolerance: float
    promoted: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def not_worse(challenger: float, champion: float, tolerance: float) -> bool:
    return challenger >= champion - tolerance


def segment_gate(
    client,
    version: str | int,
    *,
    stability: float,
    silhouette: Callable[[str], float],
    tolerance: float = 0.0,
    name: str = registry.SEGMENT_MODEL,
) -> SegmentGate:
    version = str(version)
    # full precision: the next gate compares a fresh stability with this one (a rounded tag made an
    # identical refit look worse)
    client.set_model_version_tag(name, version, STABILITY_TAG, repr(float(stability)))
    client.set_registered_model_alias(name, registry.CHALLENGER, version)
    champion = registry.alias_version(client, name, registry.CHAMPION)
    challenger_sil = float(silhouette(registry.model_uri(name, version)))
    champion_sil = champion_stab = None
    if champion is None:
        promoted, reason = True, "first version of the model"
    elif champion == version:
        promoted, reason = False, "the challenger is already the champion"
    else:
        champion_sil = float(silhouette(registry.model_uri(name, champion)))
        champion_stab = float(client.get_model_version(name, champion).tags.get(STABILITY_TAG, "nan"))
        promoted = not_worse(challenger_sil, champion_sil, tolerance) and not_worse(
            stability, champion_stab, tolerance
        )
        verb = "is not worse than" if promoted else "is worse than"
        reason = (
            f"challenger silhouette {challenger_sil:.4f}, stability {stability:.4f} {verb} champion "
            f"v{champion}'s {champion_sil:.4f}, {champion_stab:.4f} (tolerance {tolerance})"
        )
    if promoted:
        client.set_registered_model_alias(name, registry.CHAMPION, version)
    decision = SegmentGate(
        name,
        version,
        champion,
        version if promoted else str(champion),
        challenger_sil,
        champion_sil,
        stability,
        champion_stab,
        tolerance,
        promoted,
        reason,
    )
    for key, value in {
        "gate.metric": "silhouette and stability, not worse",
        "gate.challenger_score": f"{challenger_sil:.6f}",
        "gate.champion_version": champion or "",
        "gate.champion_score": "" if champion_sil is None else f"{champion_sil:.6f}",
        "gate.margin": str(tolerance),
        "gate.promoted": str(promoted).lower(),
        "gate.reason": reason,
    }.items():
        client.set_model_version_tag(name, version, key, value)
    return decision
