"""The registered models as the dashboard sees them: the champions, loaded once per version, and
every version's gate decision and run metrics (MLflow)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ecomm import db
from ecomm.ml import registry, tracking
from ecomm.settings import Settings

REGISTRY_TTL_SECONDS = 30  # how soon a promotion shows


class RegistryUnavailable(RuntimeError):
    """MLflow cannot be read; the message says why."""


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    registry: str  # the registry URI: with name and version, the cache key of the loaded model
    download_uri: str  # the model's files
    registered_at: dt.datetime


def registry_key(settings: Settings) -> str:
    """Which registry these settings use (without connecting)."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    return db.database_url(settings, settings.mlflow_db, start=False).render_as_string(hide_password=False)


@st.cache_resource(show_spinner=False)
def _client(key: str, _settings: Settings):
    # tracking.configure creates the MLflow database on first use and quiets MLflow's logging
    return tracking.configure(_settings)


def _from_registry(read, settings: Settings, name: str):
    """`read(key, name, client)` on the registry of `settings`; its failures as RegistryUnavailable."""
    try:
        return read(registry_key(settings), name, _client(registry_key(settings), settings))
    except Exception as exc:  # MLflow and the database raise many kinds; one line for the page
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegistryUnavailable(f"the MLflow registry cannot be read: {first_line}") from exc


@st.cache_data(ttl=REGISTRY_TTL_SECONDS, show_spinner=False)
def _champion(key: str, name: str, _client) -> Champion | None:
    version = registry.alias_version(_client, name, registry.CHAMPION)
    if version is None:
        return None
    details = _client.get_model_version(name, version)
    return Champion(
        name=name,
        version=version,
        registry=key,
        download_uri=_client.get_model_version_download_uri(name, version),
        registered_at=dt.datetime.fromtimestamp(details.creation_timestamp / 1000, tz=dt.UTC),
    )


def champion(settings: Settings, name: str) -> Champion | None:
    """The version aliased `champion` (None if the model or the alias does not exist yet)."""
    return _from_registry(_champion, settings, name)


@st.cache_resource(show_spinner=False, max_entries=4)
def load_model(champion: Champion):
    """The pyfunc of this version, loaded once per process (its files, not the moving alias)."""
    import mlflow

    tracking._quiet()
    return mlflow.pyfunc.load_model(champion.download_uri)


@st.cache_data(ttl=REGISTRY_TTL_SECONDS, show_spinner=False)
def _versions(key: str, name: str, _client) -> pd.DataFrame:
    from mlflow.exceptions import MlflowException

    try:
        found = _client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        found = []
    aliases = registry.aliases(_client, name)
    rows = []
    for v in found:
        metrics = _client.get_run(v.run_id).data.metrics if v.run_id else {}
        score = v.tags.get("gate.challenger_score")
        rows.append(
            {
                "version": int(v.version),
                "registered_at": pd.Timestamp(v.creation_timestamp, unit="ms", tz="UTC"),
                "aliases": ", ".join(a for a, ver in aliases.items() if ver == str(v.version)),
                "gate_metric": v.tags.get("gate.metric", ""),
                "gate_score": float(score) if score else None,
                "promoted": v.tags.get("gate.promoted") == "true",
                "gate_reason": v.tags.get("gate.reason", ""),
                **{f"metric.{k}": val for k, val in metrics.items()},
            }
        )
    return pd.DataFrame(rows).sort_values("version").reset_index(drop=True) if rows else pd.DataFrame()


def versions(settings: Settings, name: str) -> pd.DataFrame:
    """One row per registered version: registration time, aliases, the gate's metric and decision, and
    the training run's metrics (columns `metric.<name>`); empty if the model is not registered."""
    return _from_registry(_versions, settings, name)


@st.cache_data(ttl=REGISTRY_TTL_SECONDS, show_spinner=False)
def _forecast_backtests(key: str, version: str, _client) -> dict[str, pd.DataFrame]:
    import json
    import tempfile
    from pathlib import Path

    run_id = _client.get_model_version(registry.DEMAND_FORECAST_MODEL, version).run_id
    tables = {}
    for level in ("total", "category", "product"):
        # through our client, not mlflow.artifacts: that reads the process's global tracking URI
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = _client.download_artifacts(run_id, f"evaluation/backtest_{level}.json", tmp)
            except Exception:  # a version trained without this level logged no table for it
                continue
            tables[level] = pd.DataFrame(json.loads(Path(path).read_text()))
    return tables


def forecast_backtests(settings: Settings, version: str) -> dict[str, pd.DataFrame]:
    """level -> the backtest table (ecomm.ml.forecast.backtest.error_table's rows) that this version
    of demand_forecast_model's training run logged; {} when it logged none."""
    return _from_registry(_forecast_backtests, settings, version)


@st.cache_data(ttl=REGISTRY_TTL_SECONDS, show_spinner=False)
def recommend(champion: Champion, customer_id: int, k: int, country: str, categories: tuple[str, ...]):
    """The champion recommender's list for one customer (customer_id, rank, product_id, score, source)."""
    model = load_model(champion)
    request = {"customer_id": [int(customer_id)], "k": [int(k)], "country": [country]}
    if categories:
        request["categories"] = [",".join(categories)]
    return model.predict(pd.DataFrame(request))
