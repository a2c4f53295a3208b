"""One Settings object, read from the environment and the project's `.env` (see `.env.example`).

The project is the checkout the package is installed from (`make setup` and the Docker image install
it in editable mode): its `.env` and its `.ecomm/` are used wherever a command runs, so `ecomm db url`
in another folder reaches the project's server instead of starting a new one there.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _project_root() -> Path | None:
    """The checkout of src/ecomm (its pyproject.toml beside src/); None for an install elsewhere."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "ecomm").is_dir() else None


PROJECT_ROOT = _project_root()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ECOMM_", env_file=PROJECT_ROOT / ".env" if PROJECT_ROOT else None, extra="ignore"
    )

    # --- database -------------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "ECOMM_DATABASE_URL"),
        description="PostgreSQL server to use; unset = the embedded server under ECOMM_HOME. "
        "Its database part is ignored: the three databases below live on that server.",
    )
    home: Path = Field(
        default=Path(".ecomm"),
        validate_default=True,
        description="Local state: embedded PostgreSQL, raw data, logs. A relative path is relative to "
        "the project folder, wherever a command runs.",
    )
    warehouse_db: str = "data_warehouse"
    airflow_db: str = "airflow_metadata"
    mlflow_db: str = "mlflow_tracking"

    # --- the simulated shop -----------------------------------------------------------------------
    seed: int = 42
    customers: int = 5000
    products: int = 500
    history_days: int = 365
    # Planted drift (issue 19, datagen/regimes.py): a regime change from drift_start; none by default.
    drift_kind: Literal["none", "young_deal_channel", "category_price_rise", "delivery_delay"] = Field(
        default="none",
        description="A regime change the generator plants from ECOMM_DRIFT_START (recorded in "
        "truth.regime_change): young_deal_channel, category_price_rise, delivery_delay; none = no drift.",
    )
    drift_start: date | None = Field(default=None, description="First business date of the regime change.")
    drift_end: date | None = Field(default=None, description="Last business date of it; unset = for good.")
    drift_magnitude: float | None = Field(
        default=None,
        gt=0,
        description="Its size: young_deal_channel extra signups as a share of the usual rate (default 1.0), "
        "category_price_rise relative price rise (0.25), delivery_delay added late probability (0.3).",
    )
    drift_category: str = Field(
        default="Electronics", description="The category of category_price_rise (a catalog category)."
    )

    # --- the data source (README "Your own data") ---------------------------------------------------
    source: Literal["simulated", "imported"] = Field(
        default="simulated",
        description="What `ecomm pipeline bootstrap` (`make up`) loads into an empty warehouse: the "
        "simulated shop, or the log ECOMM_IMPORT_FILE through `ecomm import` (the daily simulation is "
        "then paused and there is no ground truth).",
    )
    import_file: Path | None = Field(
        default=None, description="The log to import (CSV or Parquet); relative = to the project."
    )
    import_kind: Literal["transactions", "interactions"] = Field(
        default="transactions", description="`ecomm import transactions` or `ecomm import interactions`."
    )
    import_map: str | None = Field(
        default=None, description="The import's --map: field=column pairs, or a YAML file of them."
    )
    import_date_format: str | None = Field(default=None, description="The import's --date-format.")
    import_delimiter: str = Field(default=",", description="The import's --delimiter.")
    import_encoding: str = Field(default="utf-8", description="The import's --encoding.")
    import_block_bytes: int = Field(
        default=16 << 20,
        gt=0,
        description="How much of the log the import reads at a time (bytes of CSV; Parquet: the "
        "same share of its rows). Memory follows this and the log's distinct keys, not the file's size.",
    )
    import_inbox: Path | None = Field(
        default=None,
        description="Where to drop files that continue the imported log (the `import_inbox` DAG "
        "imports them); default ECOMM_HOME/inbox; relative = to the project.",
    )

    # --- loading ----------------------------------------------------------------------------------
    bad_row_threshold: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="A batch whose share of bad rows (any entity) exceeds this is rejected whole.",
    )
    shop_timezone: str = Field(
        default="UTC",
        description="The shop's time zone (IANA name): raw timestamps with a zone offset are converted "
        "to it; naive ones are already shop time.",
    )

    # --- services (docs/architecture.md#ports; the platform runner and the tests use them) ---------
    airflow_port: int = 8080
    airflow_admin_user: str = "admin"
    airflow_admin_password: str = "admin"
    mlflow_port: int = 5050
    api_port: int = 8000
    streamlit_port: int = 8501
    jupyter_port: int = 8888
    dbt_docs_port: int = 8081
    prometheus_port: int = Field(
        default=9090, description="Prometheus (`make up` starts it when a `prometheus` binary is on PATH)."
    )
    jupyter_token: str = Field(default="ecomm", description="JupyterLab login token (local default).")

    # --- marts (the dbt project in dbt/, its own locked environment) -------------------------------
    dbt_executable: Path = Field(
        default=Path(".tools/dbt-venv/bin/dbt"),
        validate_default=True,
        description="dbt of requirements-dbt.lock (`make setup` installs it); relative = to the project.",
    )
    dbt_project_dir: Path = Field(
        default=Path("dbt"), validate_default=True, description="The dbt project of the marts."
    )

    # --- real rating logs (docs/real_logs.md; never committed: the MovieLens terms forbid it) --------
    real_logs_dir: Path = Field(
        default=Path(".tools/realdata"),
        validate_default=True,
        description="Where `make realdata` writes the MovieLens logs; relative = to the project.",
    )

    # --- prediction API (FastAPI) --------------------------------------------------------------------
    api_keys: list[str] = Field(
        default_factory=list,
        description="Accepted X-API-Key values (JSON list); empty = no key needed (the local default; "
        "the AWS profile sets keys).",
    )
    api_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8501"],
        description="Browser origins allowed to call the API (JSON list); the dashboard's by default.",
    )
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger request bodies get 413.")
    api_workers: int = Field(default=1, ge=1, description="uvicorn worker processes of `ecomm serve api`.")
    api_model_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often the API asks the registry for a new champion."
    )
    api_metrics_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long /metrics reuses the figures it read from the warehouse (freshness, drift, stream).",
    )

    # --- real time (POST /events, WS /ws/live) -----------------------------------------------------
    stream_queue_events: int = Field(
        default=50_000,
        ge=1000,
        description="Posted events POST /events may have waiting to be validated or written; a batch "
        "beyond it gets 429.",
    )
    stream_batch_events: int = Field(
        default=20_000,
        ge=1000,
        description="At most this many events per micro-batch (validated in one call, one COPY).",
    )
    stream_tick_seconds: float = Field(
        default=1.0, gt=0, description="How often the live KPIs are computed and sent to WS /ws/live."
    )
    live_bus_url: str = Field(
        default="",
        pattern=r"^(|rediss?://.+|unix://.+)$",
        description="Redis that carries the live KPIs between API workers (redis://host:6379/1): one "
        "worker computes them, every worker sends them to its WS /ws/live clients; empty = each API "
        "process computes its own (right for one worker).",
    )
    stream_speed: float = Field(
        default=60.0,
        gt=0,
        description="`ecomm stream` replays the next business date this many times faster than the "
        "clock (60: an hour of the shop per minute, a day in 24 minutes).",
    )
    stream_service: bool = Field(
        default=True, description="`make up` runs `ecomm stream --follow` as the `stream` service."
    )

    # --- ML ---------------------------------------------------------------------------------------
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking server or store; unset = the mlflow_tracking database of our server "
        "(artifacts under ECOMM_HOME/mlartifacts).",
    )
    churn_horizon_days: int = Field(
        default=90, ge=1, description="Churn = no completed order in this many days."
    )
    promotion_margin: float = Field(
        default=0.005, ge=0.0, description="A challenger must beat the champion's metric by this much."
    )
    forecast_lead_time_days: int = Field(
        default=7, ge=1, le=30, description="Days from ordering stock to its arrival (reorder points)."
    )
    forecast_service_level: float = Field(
        default=0.95,
        ge=0.5,
        lt=1.0,
        description="Target share of days with all demand met, for the reorder points' safety stock.",
    )
    forecast_models: str = Field(
        default="seasonal_naive,auto_ets",
        pattern=r"^[a-z_]+(,[a-z_]+)*$",
        description="Comma-separated candidates of demand_forecast_model, backtested per level (the "
        "lowest MASE at 14 days on the validation origins before the reported ones is registered): seasonal_naive, auto_ets, auto_theta, croston, adida, imapa, "
        "lightgbm.",
    )
    forecast_backtest_windows: int = Field(
        default=4, ge=1, le=12, description="Forecast origins of demand_forecast_model's rolling backtest."
    )
    forecast_products: int = Field(
        default=100,
        ge=0,
        description="Product-level backtest of demand_forecast_model: the best sellers before the first "
        "origin (0 = every product).",
    )
    forecast_jobs: int = Field(
        default=1,
        ge=1,
        description="Processes statsforecast fits demand_forecast_model's series in (backtests and the "
        "stored forecasts; the results are the same for any number). Default 1: statsforecast forks "
        "its workers from the calling process, and a fork inside an Airflow task hung the forecast DAG "
        "in our test run; set it to the cores for `ecomm train forecast` on a machine of its own.",
    )
    churn_trials: int = Field(
        default=20,
        ge=1,
        description="Optuna trials of the churn XGBoost; its API-fields head gets half, the logistic "
        "regression a third (at most 6).",
    )
    recommender_trials: int = Field(
        default=2,
        ge=0,
        description="Re-ranker settings the recommender tries on validation: the first n of 1, 2, 3 "
        "label windows (below 2: the default, one window).",
    )

    segment_max_k: int = Field(
        default=10,
        ge=3,
        description="segment_model tries k = 3..this (K-Means clusters), each scored by silhouette, "
        "Calinski-Harabasz, Davies-Bouldin and bootstrap stability.",
    )
    segment_refits: int = Field(
        default=5,
        ge=1,
        description="segment_model's bootstrap refits per k (its stability) and restarts of the chosen "
        "k (its restart stability). Fewer = faster training.",
    )
    purchase_trees: int = Field(
        default=300, ge=1, description="Boosting rounds of purchase_model's XGBoost candidate."
    )
    purchase_epochs: int = Field(
        default=200, ge=1, description="Maximum epochs of purchase_model's MLP candidate (early stopping)."
    )

    # --- monitoring -------------------------------------------------------------------------------
    drift_retrain_psi: float = Field(
        default=0.1,
        ge=0.0,
        description="model_monitoring's retraining trigger (monitoring/orders.py): the minimum PSI of "
        "the last 7 days' order value or basket size against the 28 days before, besides a KS p-value "
        "< ECOMM_DRIFT_RETRAIN_ALPHA / 2; an episode retrains once, after ECOMM_DRIFT_RETRAIN_DAYS days.",
    )
    drift_retrain_alpha: float = Field(
        default=0.005,
        gt=0.0,
        le=1.0,
        description="Family-wise significance of the retraining trigger's two KS tests (Bonferroni).",
    )
    drift_retrain_min_orders: int = Field(
        default=100,
        ge=1,
        description="The retraining trigger tests nothing (and retrains nothing) unless the last 7 days "
        "and the 28 days before each hold at least this many orders.",
    )
    drift_retrain_days: int = Field(
        default=2,
        ge=1,
        description="model_monitoring retrains once per drifted episode of the recent orders or of the "
        "recent inputs, on the day it has lasted this many consecutive days (1: its first day; "
        "README 'Model drift' measures the choice on stable and drifted worlds).",
    )
    drift_retrain_inputs_alpha: float = Field(
        default=0.01,
        gt=0.0,
        lt=1.0,
        description="The retraining decision's test level for the recent inputs (Bonferroni over the "
        "day's features, PSI > ECOMM_DRIFT_MIN_PSI), looser than ECOMM_DRIFT_ALPHA's daily flag "
        "because an episode must also last ECOMM_DRIFT_RETRAIN_DAYS (chosen on benchmark seeds 4-6).",
    )
    drift_psi_threshold: float = Field(
        default=0.2,
        gt=0.0,
        description="A model's feature (or prediction) is flagged as drifted in marts.model_monitoring "
        "when its PSI against the version's training reference exceeds this and its p-value is below "
        "ECOMM_DRIFT_ALPHA / the features tested that day.",
    )
    drift_min_psi: float = Field(
        default=0.1,
        ge=0.0,
        description="The recent-inputs drift view's minimum effect (run daily by model_drift as the "
        "pseudo-model `inputs` of marts.model_monitoring; benchmarks/bench_drift.py): a feature is "
        "flagged only when its PSI also exceeds this (besides ECOMM_DRIFT_ALPHA's test).",
    )
    drift_reports: Path | None = Field(
        default=None,
        description="Where model_drift writes each monitored model's daily HTML drift report "
        "(<model>/<model>-v<version>-<date>.html), which the dashboard's Monitoring page offers; "
        "default ECOMM_HOME/drift-reports; relative = to the project.",
    )
    drift_alpha: float = Field(
        default=0.005,
        gt=0.0,
        lt=1.0,
        description="Family-wise significance of one day's drift tests (Bonferroni over the features): a "
        "recent input is flagged when its KS/chi-squared p-value < alpha / features and its PSI exceeds "
        "ECOMM_DRIFT_MIN_PSI (0.005: at most about 1 false alarm per 180 days).",
    )

    @field_validator("shop_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(
                f"unknown time zone {zone!r}: use an IANA name such as Europe/Berlin or UTC"
            ) from None
        return zone

    @field_validator(
        "home",
        "dbt_executable",
        "dbt_project_dir",
        "real_logs_dir",
        "import_file",
        "import_inbox",
        "drift_reports",
    )
    @classmethod
    def _home_in_the_project(cls, home: Path | None, info: ValidationInfo) -> Path | None:
        if home is None or home.is_absolute():
            return home
        if PROJECT_ROOT is None:
            raise ValueError(
                f"{home} is relative and ecomm is not installed from a project checkout: "
                f"set ECOMM_{info.field_name.upper()} to an absolute path"
            )
        return PROJECT_ROOT / home

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def imported(self) -> bool:
        return self.source == "imported"

    @property
    def inbox_dir(self) -> Path:
        return self.import_inbox or self.home / "inbox"

    @property
    def drift_reports_dir(self) -> Path:
        return self.drift_reports or self.home / "drift-reports"

    @property
    def raw_dir(self) -> Path:
        return self.home / "raw"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def databases(self) -> tuple[str, str, str]:
        return (self.warehouse_db, self.airflow_db, self.mlflow_db)


@lru_cache
def get_settings() -> Settings:
    return Settings()
