"""What a training run learns from, recorded on the model version it registers, so that a run with
nothing new to learn from trains nothing (the ML DAG skips it; `ecomm train` always trains).

"Nothing changed" means the same warehouse data and the same training settings as the model's
latest version (whatever the gate decided about it):
- the warehouse fingerprint: a hash of (business date, checksum of the batch's files) of each
  batch's last successful load. Loading a batch changes it; a re-run of a loaded date (same files,
  skipped) and a forced reload of the same files do not;
- the settings fingerprint: a hash of the trainer's configuration (trials, horizon, seed, margin...),
  so retraining with other settings is never mistaken for nothing new.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import loaded_checksums

TAG_WAREHOUSE = "trained_on.warehouse"
TAG_LAST_BATCH = "trained_on.last_batch"
TAG_SETTINGS = "trained_on.settings"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainingInput:
    warehouse: str  # fingerprint of the loaded batches
    last_batch: str  # the latest loaded business date (ISO; "" when none): for people reading the tags
    settings: str  # fingerprint of the trainer's configuration

    def tags(self) -> dict[str, str]:
        return {TAG_WAREHOUSE: self.warehouse, TAG_LAST_BATCH: self.last_batch, TAG_SETTINGS: self.settings}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> TrainingInput | None:
        """The input a version records; None for a version trained without recording it."""
        if TAG_WAREHOUSE not in tags or TAG_SETTINGS not in tags:
            return None
        return cls(tags[TAG_WAREHOUSE], tags.get(TAG_LAST_BATCH, ""), tags[TAG_SETTINGS])


def training_input(settings: Settings, config) -> TrainingInput:
    """The input of training with `config` (a ChurnConfig or RecConfig) on the warehouse as it is now."""
    with db.connection(settings) as conn:
        checksums = sorted(loaded_checksums(conn).items())
    batches = "\n".join(f"{day.isoformat()} {checksum}" for day, checksum in checksums)
    configuration = json.dumps(asdict(config), sort_keys=True, default=str)
    last = checksums[-1][0].isoformat() if checksums else ""
    return TrainingInput(_digest(batches), last, _digest(configuration))


def latest_version(client, name: str):
    """The newest registered version of model `name` (a ModelVersion), None if it has none."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return max(versions, key=lambda v: int(v.version), default=None)


def version_trained_on(client, name: str, current: TrainingInput) -> str | None:
    """The latest version of `name` if it was trained on exactly `current`, else None."""
    latest = latest_version(client, name)
    if latest is None or TrainingInput.from_tags(latest.tags) != current:
        return None
    return str(latest.version)


def record(client, name: str, version: str | int, used: TrainingInput) -> None:
    for key, value in used.tags().items():
        client.set_model_version_tag(name, str(version), key, value)
