"""`ecomm pipeline bootstrap` (run by `make up` and by the compose stack's one-shot job): bring a
fresh platform to a usable one. Idempotent, step by step:

1. the warehouse holds no loaded batch -> simulate `ECOMM_HISTORY_DAYS` of history up to yesterday
   into ECOMM_HOME/raw (unless a simulated world is already there) and load it; with
   `ECOMM_SOURCE=imported`, import `ECOMM_IMPORT_FILE` instead (`ecomm import`'s code);
2. each registered model (registry.MODEL_NAMES) without a `champion` -> train it; the promotion gate
   makes a first version champion (`demand_forecast_model`'s training stores its forecasts and
   reorder points in `marts.demand_forecast` and `marts.product_stock`, what the /forecast routes
   answer);
3. a churn champion trained in step 2, or one whose scores were never stored -> score today's
   customers into `marts.churn_scores` (what the dashboard's Churn risk page reads); a demand
   forecast champion whose forecasts of the last order date are not stored -> store them;
4. no causal estimate stored -> `ecomm causal report` into `marts.causal_estimates` (the dashboard's
   Campaigns page; the weekly `causal_report` DAG keeps it current);
and on the way, a warehouse loaded before the marts were a dbt project (migration 0007 dropped the old
views), or whose last marts build failed, gets its marts built (`dbt build`); MLflow experiments created before they were tagged as classic ML get the tag.

A second run finds the history loaded, both champions registered and the estimates stored, and does
nothing. A model that the warehouse is still too short to train or whose inputs an imported log
lacks (no product ids: the trainers' FeatureError), or campaigns its data cannot yet support an
estimate of (an estimator's ValueError) or that an imported log lacks, are reported and skipped
(the DAGs catch up once the daily pipeline has loaded enough days); any other failure raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from ecomm import db
from ecomm.settings import Settings

if TYPE_CHECKING:
    from ecomm.causal.report import CausalReport
    from ecomm.datagen.api import GenerationSummary
    from ecomm.imports.run import ImportReport
    from ecomm.ml.churn.scoring import ScoringResult
    from ecomm.ml.forecast.store import Stored
    from ecomm.warehouse.run import LoadReport

# tick(stage, done, total): the progress callback of the generator, used for every step here
Progress = Callable[[str, int, int], None]


@dataclass
class BootstrapResult:
    generated: GenerationSummary | None = None  # when a world was simulated
    imported: ImportReport | None = None  # when the configured log was imported instead
    load: LoadReport | None = None  # when the history was loaded
    batches_before: int = 0  # batches the warehouse held before
    champions_before: dict[str, str] = field(default_factory=dict)  # model -> champion version
    trained: dict[str, object] = field(default_factory=dict)  # model -> ChurnResult / RecResult
    not_trained: dict[str, str] = field(default_factory=dict)  # model -> why (history too short)
    scored: ScoringResult | None = None  # when today's churn scores were computed
    purchase_scored: ScoringResult | None = None  # when today's purchase scores were computed
    forecasts_stored: Stored | None = None  # when an earlier champion's forecasts were stored
    causal_stored: int = 0  # rows marts.causal_estimates held before
    causal: CausalReport | None = None  # when the causal report was computed
    causal_not_computed: str | None = None  # why not (the data does not support an estimate yet)
    experiments_tagged: list[str] = field(default_factory=list)  # MLflow experiments given their kind
    marts_built: dict[str, float] | None = None  # seconds, when missing or stale marts were built

    @property
    def did_nothing(self) -> bool:
        return (
            self.load is None
            and self.marts_built is None
            and not self.trained
            and self.scored is None
            and self.purchase_scored is None
            and self.forecasts_stored is None
            and self.causal is None
            and not self.experiments_tagged
        )

    @property
    def ok(self) -> bool:
        return self.load is None or self.load.ok


def loaded_batches(settings: Settings) -> int:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit.load_runs WHERE status = 'loaded'")
        return cur.fetchone()[0]


def champions(client) -> dict[str, str | None]:
    """Each registered model name -> its champion version (None: no champion yet)."""
    from ecomm.ml import registry

    return {name: registry.alias_version(client, name, registry.CHAMPION) for name in registry.MODEL_NAMES}


def load_history(settings: Settings, result: BootstrapResult, progress: Progress, say) -> None:
    """Simulate the history (unless ECOMM_HOME/raw holds a world already) and load it; with
    ECOMM_SOURCE=imported, import the configured log instead (`ecomm import`'s own code)."""
    if settings.imported:
        from ecomm.imports.run import import_configured

        say(
            f"importing {settings.import_file} ({settings.import_kind}; ECOMM_SOURCE=imported) "
            "instead of simulating a shop"
        )
        result.imported = import_configured(settings)
        result.load = result.imported.load
        return
    from ecomm.datagen import GeneratorConfig, generate_history
    from ecomm.datagen.config import planted_regimes
    from ecomm.warehouse.load import batch_directories
    from ecomm.warehouse.run import load_path

    raw = settings.raw_dir
    if not (raw / "_state").exists():
        config = GeneratorConfig(
            seed=settings.seed,
            as_of=date.today() - timedelta(days=1),
            days=settings.history_days,
            customers=settings.customers,
            products=settings.products,
            churn_horizon_days=settings.churn_horizon_days,
            regimes=planted_regimes(settings),
        )
        say(
            f"simulating {config.days} days of history to {config.as_of} "
            f"({config.customers:,} customers, {config.products:,} products) into {raw}"
        )
        result.generated = generate_history(config, raw, progress=progress)
    total = len(batch_directories(raw))
    say(f"loading {total} batches from {raw}")
    done = iter(range(1, total + 1))
    result.load = load_path(
        settings, raw, progress=lambda _batch: progress("loading batches", next(done), total)
    )


def bootstrap(settings: Settings, progress: Progress | None = None, say=None) -> BootstrapResult:
    """Load the history into an empty warehouse, then train every model without a champion.

    `progress(stage, done, total)` follows long steps; `say(message)` announces each step.
    """
    from ecomm.features.churn import FeatureError
    from ecomm.ml import registry, tracking
    from ecomm.ml.churn.scoring import score_with_champion
    from ecomm.ml.training_plan import train_model
    from ecomm.warehouse.migrate import migrate

    progress = progress or (lambda *_: None)
    say = say or (lambda _message: None)
    result = BootstrapResult()
    migrate(settings)
    result.batches_before = loaded_batches(settings)
    if result.batches_before == 0:
        load_history(settings, result, progress, say)
        if not result.ok:
            return result  # the caller reports the rejected batches and failed checks; nothing trains
    else:
        from ecomm.warehouse.marts import build_marts, marts_pending

        if marts_pending(settings):
            say("building the marts (dbt build)")
            result.marts_built = build_marts(settings)
    client = tracking.configure(settings)
    result.experiments_tagged = tracking.mark_existing_experiments(client)
    found = champions(client)
    result.champions_before = {name: v for name, v in found.items() if v is not None}
    for name in (n for n, v in found.items() if v is None):
        say(f"training {name} (no champion registered yet)")
        progress(f"training {name}", 0, 1)
        try:
            result.trained[name] = train_model(settings, name)
        except FeatureError as exc:  # each trainer's "not trainable on this warehouse", with the reason
            result.not_trained[name] = str(exc)
        progress(f"training {name}", 1, 1)
    if registry.CHURN_MODEL in result.trained or (
        registry.CHURN_MODEL in result.champions_before and not scores_stored(settings)
    ):
        result.scored = score_with_champion(settings)
    if registry.PURCHASE_MODEL in result.trained:
        from ecomm.ml.purchase.scoring import score_with_champion as score_purchase

        result.purchase_scored = score_purchase(settings)
    if registry.DEMAND_FORECAST_MODEL in result.champions_before:
        from ecomm.ml.forecast.store import store_champion_forecasts, store_state

        if not store_state(settings, client).up_to_date:
            say(f"storing the forecasts of {registry.DEMAND_FORECAST_MODEL} (none stored of the last day)")
            result.forecasts_stored = store_champion_forecasts(settings, client)
    compute_causal_estimates(settings, result, progress, say)
    return result


def compute_causal_estimates(settings: Settings, result: BootstrapResult, progress: Progress, say) -> None:
    """The causal report when marts.causal_estimates is empty (whatever its age otherwise: refreshing
    it after daily loads is the weekly DAG's job, so a second bootstrap stays a no-op)."""
    from ecomm import campaign_report
    from ecomm.causal.report import run_report  # heavy: only when the estimates are computed

    state = campaign_report.estimates_state(settings)
    result.causal_stored = state.rows
    if state.stored:
        return
    say("computing the causal report (no causal estimate stored yet)")
    progress("causal report", 0, 1)
    try:
        result.causal, _paths = run_report(settings, store=True)
    except ValueError as exc:  # no campaign to analyse, or too few customers for an estimator
        result.causal_not_computed = str(exc)
    progress("causal report", 1, 1)


def scores_stored(settings: Settings) -> bool:
    """marts.churn_scores holds a scoring (of any day: refreshing stale scores after a daily load is
    the ML DAG's job, so a second bootstrap stays a no-op)."""
    from ecomm.ml.churn.scoring import stored_scoring

    with db.connection(settings) as conn:
        return stored_scoring(conn) is not None
