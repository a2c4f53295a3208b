"""What `ecomm evaluate` is made of, shared by every model's evaluation: a Comparison (champion,
challenger, baselines and the truth scored on the same fresh holdout) and a quality Target, plus
the registry lookups they need (the versions to score, the champion's training-run metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecomm.ml import registry


@dataclass
class Comparison:
    model: str
    holdout: str
    metrics: tuple[str, ...]
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # entry -> metric -> value
    versions: dict[str, str] = field(default_factory=dict)  # alias -> version
    message: str = ""
    # further tables on their own split: title -> entry -> metric -> value (e.g. the parts of the
    # champion as its training run scored them)
    sections: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "holdout": self.holdout,
            "versions": self.versions,
            "rows": self.rows,
            "message": self.message,
            "sections": self.sections,
        }


def entries(client, name: str) -> dict[str, str]:
    """Entry label -> version, champion first; a version holding both aliases appears once."""
    found = registry.aliases(client, name)
    out: dict[str, str] = {}
    for alias in (registry.CHAMPION, registry.CHALLENGER):
        if alias in found and found[alias] not in out.values():
            out[f"{alias} v{found[alias]}"] = found[alias]
        elif alias in found:
            label = next(k for k, v in out.items() if v == found[alias])
            out[f"{label} = {alias}"] = out.pop(label)
    return out


def run_params(client, name: str, version: str | None) -> dict[str, str]:
    if version is None:
        return {}
    run_id = client.get_model_version(name, version).run_id
    return dict(client.get_run(run_id).data.params) if run_id else {}


def run_metrics(client, name: str, version: str | None) -> dict[str, float]:
    if version is None:
        return {}
    run_id = client.get_model_version(name, version).run_id
    return dict(client.get_run(run_id).data.metrics) if run_id else {}


@dataclass
class Target:
    name: str
    observed: float | None
    required: str
    met: bool | None  # None = could not be measured
    detail: str = ""

    def to_dict(self) -> dict:
        return {
            "target": self.name,
            "observed": self.observed,
            "required": self.required,
            "met": self.met,
            "detail": self.detail,
        }


def champion_row(comp: Comparison) -> dict[str, float] | None:
    champion = comp.versions.get(registry.CHAMPION)
    for label, row in comp.rows.items():
        if label.startswith(f"{registry.CHAMPION} v{champion}"):
            return row
    return None
