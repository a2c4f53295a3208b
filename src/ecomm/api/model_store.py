"""The champions the API serves: loaded from the MLflow registry, swapped atomically when it changes.

`refresh()` asks the registry which version each model's `champion` alias points to and loads it when
it differs from the one in memory; the new model replaces the old one with a single reference
assignment, so a request sees either the old model or the new one, whole. When the registry cannot
be reached the loaded models keep serving and the failure is kept for `/ready` and `/models`. With no
model loaded a request gets `ModelUnavailable` (the API answers 503), never a stand-in.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from ecomm.api.countries import CountryNames, fitted_categories
from ecomm.features import columns as C
from ecomm.ml import registry, tracking
from ecomm.ml.builders import FeatureSpec
from ecomm.settings import Settings

log = logging.getLogger("ecomm.api.models")


class ModelUnavailable(RuntimeError):
    """No version of the model is loaded; the message says why."""


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    run_id: str
    python_model: object  # the unwrapped ecomm.ml.serving pyfunc: its predict() is what we call
    metadata: dict
    metrics: dict[str, float]
    loaded_at: datetime
    # churn: the API head compiled (ecomm.ml.churn.compiled); recommender: its state read directly
    # (ecomm.ml.recommend.lookup); each only if it verified against the pyfunc when loaded
    fast: object | None = None
    country_names: CountryNames | None = None  # churn: the countries its API head was trained on
    api_spec: FeatureSpec | None = None  # churn: its API head's fields and their roles


@dataclass
class ModelState:
    served: ServedModel | None = None
    aliases: dict[str, str] | None = None  # the registry's last answer; None until it answered
    last_error: str | None = None

    @property
    def no_champion(self) -> bool:
        """The registry's last answer had no champion, and nothing is served."""
        return self.aliases is not None and registry.CHAMPION not in self.aliases and self.served is None


def single_threaded(python_model) -> object:
    """Set every fitted estimator's n_jobs to 1: the server already answers requests in parallel, and
    a model's own thread pool on top of that costs more than it gains (XGBoost: ~10x on one row)."""
    for value in vars(python_model).values():
        if hasattr(value, "get_params") and hasattr(value, "set_params"):
            jobs = {key: 1 for key in value.get_params(deep=True) if key.split("__")[-1] == "n_jobs"}
            if jobs:
                value.set_params(**jobs)
    return python_model


def api_head_spec(python_model) -> FeatureSpec:
    """The churn API head's fields by role, as stored with the model; a model registered before the
    specs were stored has the shop's nine fields, typed as the shop's lists say."""
    stored = getattr(python_model, "specs", {}).get("api_fields")
    if stored:
        return FeatureSpec.from_dict(stored)
    columns = tuple(python_model.api_columns)
    return FeatureSpec(
        order=columns,
        numeric=tuple(c for c in columns if c not in C.CATEGORICAL_FEATURES),
        categorical=tuple(c for c in columns if c in C.CATEGORICAL_FEATURES),
        integer=tuple(c for c in columns if c in C.INTEGER_FEATURES),
    )


def body_fields_missing(spec: FeatureSpec) -> list[str]:
    """The API head's fields the POST /predict/churn body cannot carry (a model trained on other
    columns): such a champion is refused, the one loaded keeps serving."""
    from ecomm.api.schemas import ChurnUser

    return [c for c in spec.columns if c not in ChurnUser.model_fields or c == C.API_USER_ID]


def _now() -> datetime:
    return datetime.now(UTC)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class ModelStore:
    def __init__(
        self,
        settings: Settings,
        names: tuple[str, ...] = registry.REQUIRED_SERVED_MODELS,
        *,
        optional: tuple[str, ...] = registry.OPTIONAL_SERVED_MODELS,
        on_load=None,
    ) -> None:
        self.settings = settings
        self.names = names  # required: /ready and /models report these
        # also loaded when they have a champion (their routes answer 503 until then), not required:
        # a registry from before these models lacks them
        self.optional = tuple(n for n in optional if n not in names)
        self.state = {name: ModelState() for name in (*names, *self.optional)}
        self.registry_error: str | None = "not polled yet"
        self.last_poll: datetime | None = None
        self._on_load = on_load or (lambda name, version, outcome: None)
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = None

    # ------------------------------------------------------------------------------ serving
    def get(self, name: str) -> ServedModel:
        served = self.state[name].served
        if served is None:
            why = self.state[name].last_error or self.registry_error or "no champion registered"
            raise ModelUnavailable(f"no version of {name} is loaded ({why})")
        return served

    # ------------------------------------------------------------------------------ loading
    def _registry(self):
        if self._client is None:
            # fail fast instead of MLflow's minutes of retries; the poll comes back soon anyway
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
            self._client = tracking.configure(self.settings)
        return self._client

    def _load(self, client, name: str, version: str) -> ServedModel:
        import mlflow.pyfunc

        model_version = client.get_model_version(name, version)
        model = mlflow.pyfunc.load_model(registry.model_uri(name, version))
        python_model = single_threaded(model.unwrap_python_model())
        fast = country_names = api_spec = None
        if name == registry.CHURN_MODEL:
            from ecomm.ml.churn.compiled import compile_head

            api_spec = api_head_spec(python_model)
            missing = body_fields_missing(api_spec)
            if missing:
                raise ValueError(f"its API head needs fields the request body does not have: {missing}")
            fast = compile_head(python_model.api_pipeline, python_model.api_columns)
            if fast is None:
                log.warning("%s v%s: API head not compilable; scoring through its pipeline", name, version)
            if C.COUNTRY in api_spec.categorical:
                countries = fitted_categories(python_model.api_pipeline, C.COUNTRY)
                if countries is None:
                    log.warning(
                        "%s v%s: its API head's countries are unknown; none is flagged", name, version
                    )
                country_names = CountryNames(countries)
        if name == registry.RECOMMENDER_MODEL:
            from ecomm.ml.recommend.lookup import compile_lookup

            fast = compile_lookup(python_model)
            if fast is None:
                log.warning("%s v%s: no verified lookup; recommending through its pyfunc", name, version)
        metrics: dict[str, float] = {}
        if model_version.run_id:
            metrics = dict(client.get_run(model_version.run_id).data.metrics)
        return ServedModel(
            name=name,
            version=str(version),
            run_id=model_version.run_id or "",
            python_model=python_model,
            metadata=dict(model.metadata.metadata or {}),
            metrics=metrics,
            loaded_at=_now(),
            fast=fast,
            country_names=country_names,
            api_spec=api_spec,
        )

    def refresh(self) -> dict[str, str]:
        """One poll: {model name: what happened} ('unchanged', 'loaded vN', 'no champion', 'error: …')."""
        with self._refresh_lock:
            outcome: dict[str, str] = {}
            try:
                client = self._registry()
                found = {name: registry.aliases(client, name) for name in self.state}
            except Exception as exc:  # MLflow down, database gone, bad URI: keep serving what we have
                self.registry_error = _short(exc)
                self.last_poll = _now()
                log.warning("model registry unreachable: %s", self.registry_error)
                return dict.fromkeys(self.state, f"error: {self.registry_error}")
            self.registry_error = None
            self.last_poll = _now()
            for name in self.state:
                state = self.state[name]
                state.aliases = found[name]
                champion = found[name].get(registry.CHAMPION)
                if champion is None:
                    state.last_error = None if state.served else f"{name} has no champion in the registry"
                    outcome[name] = "no champion"
                    continue
                if state.served is not None and state.served.version == champion:
                    outcome[name] = "unchanged"
                    continue
                try:
                    state.served = self._load(client, name, champion)  # the atomic swap
                    gc.freeze()  # the new model's objects join the long-lived ones (see app.py)
                    state.last_error = None
                    outcome[name] = f"loaded v{champion}"
                    self._on_load(name, champion, "loaded")
                    log.info("serving %s v%s", name, champion)
                except Exception as exc:
                    state.last_error = f"loading v{champion} failed: {_short(exc)}"
                    outcome[name] = f"error: {state.last_error}"
                    self._on_load(name, champion, "failed")
                    log.warning("%s: %s", name, state.last_error)
            return outcome

    # ------------------------------------------------------------------------------ polling
    def start(self, poll_seconds: float) -> None:
        self.refresh()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, args=(poll_seconds,), daemon=True, name="models")
        self._thread.start()

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
