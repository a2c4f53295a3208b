"""`ecomm train churn|recommender|segments|purchase|clv|forecast`, `ecomm predict churn|purchase` and `ecomm evaluate [--report]`: a Typer app merged into `ecomm`
(src/ecomm/cli.py: `app.add_typer(ml_app)`); thin callers of ecomm.ml, heavy imports inside commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecomm.console import err, out, user_errors

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
train_app = typer.Typer(
    help="Train a model, register it in MLflow and run the promotion gate.", no_args_is_help=True
)
app.add_typer(train_app, name="train")
predict_app = typer.Typer(
    help="Batch predictions of a registered champion, stored in the marts.", no_args_is_help=True
)
app.add_typer(predict_app, name="predict")


def _settings():
    from ecomm.settings import get_settings

    return get_settings()


def _metrics_table(title: str, rows: dict[str, dict[str, float]], metrics) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for m in metrics:
        table.add_column(m, justify="right")
    for entry, row in rows.items():
        table.add_row(entry, *(f"{row[m]:.4f}" if m in row else "n/a" for m in metrics))
    return table


def _gate_line(gate) -> str:
    verb = (
        "promoted to champion" if gate.promoted else f"not promoted (champion stays v{gate.champion_after})"
    )
    return f"{gate.model_name} v{gate.challenger_version}: challenger, {verb} - {gate.reason}"


@train_app.command("churn")
@user_errors
def train_churn(
    trials: Annotated[
        int | None, typer.Option(help="Optuna trials of the XGBoost model (default ECOMM_CHURN_TRIALS, 20).")
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(help="Churn = no completed order in this many days (default ECOMM_CHURN_HORIZON_DAYS)."),
    ] = None,
) -> None:
    """Churn: logistic regression and XGBoost compete on point-in-time features (the best on validation
    is served), plus an XGBoost on the API fields."""
    from ecomm.ml.churn.train import ChurnConfig
    from ecomm.ml.churn.train import train_churn as run

    settings = _settings()
    overrides = {}
    if trials is not None:
        overrides |= {"n_trials": trials, "n_trials_api": max(1, trials // 2)}
    if horizon_days is not None:
        overrides["horizon_days"] = horizon_days
    with err.status("training churn models"):
        result = run(settings, ChurnConfig.from_settings(settings, **overrides))
    plan = result.plan
    out.print(
        f"training cutoffs {', '.join(plan['train_cutoffs'])}; evaluation cutoff {plan['evaluation_cutoff']} "
        f"({plan['horizon_days']}-day label)"
    )
    out.print(
        _metrics_table(
            "churn, evaluation cutoff",
            result.metrics,
            ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift"),
        )
    )
    out.print(_gate_line(result.gate))
    out.print(f"run {result.run_id} in {result.seconds:.1f}s")


@train_app.command("recommender")
@user_errors
def train_recommender(
    trials: Annotated[
        int | None,
        typer.Option(help="Re-ranker label-window settings tried (default ECOMM_RECOMMENDER_TRIALS, 2)."),
    ] = None,
    holdout_days: Annotated[
        int | None, typer.Option(help="Days of the temporal holdout (default 28).")
    ] = None,
) -> None:
    """Recommender: candidate generators re-ranked by LightGBM, vs each generator, item-kNN,
    popularity and the oracle."""
    from ecomm.ml.recommend.train import RecConfig
    from ecomm.ml.recommend.train import train_recommender as run

    settings = _settings()
    overrides = {}
    if trials is not None:
        overrides["n_trials"] = trials
    if holdout_days is not None:
        overrides["holdout_days"] = holdout_days
    with err.status("training the recommender"):
        result = run(settings, RecConfig.from_settings(settings, **overrides))
    split = result.split
    out.print(
        f"trained before {split['train_end']}; holdout {split['holdout_start']} .. {split['holdout_last_day']}"
    )
    out.print(
        _metrics_table(
            "recommender, temporal holdout",
            result.metrics,
            ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage_at_10", "novelty"),
        )
    )
    out.print(_gate_line(result.gate))
    out.print(f"run {result.run_id} in {result.seconds:.1f}s")


@train_app.command("segments")
@user_errors
def train_segments(
    boot: Annotated[
        int | None,
        typer.Option(help="Bootstrap refits per k for the stability (default ECOMM_SEGMENT_REFITS, 5)."),
    ] = None,
) -> None:
    """Segments: K-Means on point-in-time behavioural features, k over 3..ECOMM_SEGMENT_MAX_K (10) by silhouette,
    Calinski-Harabasz, Davies-Bouldin and bootstrap stability; names derived from the centroids."""
    from ecomm.ml.segment.train import SegmentConfig
    from ecomm.ml.segment.train import train_segments as run

    settings = _settings()
    overrides = {} if boot is None else {"n_boot": boot}
    with err.status("training the segment model"):
        result = run(settings, SegmentConfig.from_settings(settings, **overrides))
    out.print(f"{result.customers:,} customers as of {result.as_of}, {len(result.features)} features")
    table = result.table
    rows = {f"k={k}" + (" (chosen)" if k == result.k else ""): table.loc[k].to_dict() for k in table.index}
    out.print(
        _metrics_table(
            "k selection",
            rows,
            ("silhouette", "calinski_harabasz", "davies_bouldin", "stability", "mean_rank"),
        )
    )
    segments = Table("segment", "name", "customers", "share", title="segments", title_justify="left")
    for s in result.segments:
        segments.add_row(str(s.segment_id), s.name, f"{s.size:,}", f"{s.share:.1%}")
    out.print(segments)
    out.print(
        f"chosen k={result.k}: bootstrap stability {result.metrics['stability']:.3f}, "
        f"restart stability {result.metrics['restart_stability']:.3f}"
    )
    if "persona_ari" in result.metrics:  # the simulated shop's planted personas
        m = result.metrics
        out.print(
            f"against the planted personas: ARI {m['persona_ari']:.3f} "
            f"(RFM-quintile cells {m['persona_rfm_ari']:.3f}, {m['persona_ari_over_rfm']:.1f}x)"
        )
    out.print(_gate_line(result.gate))
    out.print(
        f"{result.stored_rows:,} customer x month rows of v{result.gate.champion_after} in marts.customer_segments"
    )
    out.print(f"run {result.run_id} in {result.seconds:.1f}s")


@train_app.command("purchase")
@user_errors
def train_purchase(
    mlp_epochs: Annotated[
        int | None,
        typer.Option(
            help="Most epochs of the MLP candidate (default ECOMM_PURCHASE_EPOCHS, 200; early stopping)."
        ),
    ] = None,
) -> None:
    """Purchase propensity: P(a completed order in the next 30 days) for every customer; logistic
    regression, XGBoost and an MLP compete on a time-ordered validation, the best is registered."""
    from ecomm.ml.purchase.train import PurchaseConfig
    from ecomm.ml.purchase.train import train_purchase as run

    settings = _settings()
    overrides = {} if mlp_epochs is None else {"mlp_max_iter": mlp_epochs}
    with err.status("training the purchase model"):
        result = run(settings, PurchaseConfig.from_settings(settings, **overrides))
    plan = result.plan
    out.print(
        f"train cutoffs {', '.join(plan['train_cutoffs'])}; evaluation cutoff {plan['evaluation_cutoff']}, "
        f"{len(result.features)} features"
    )
    rows = {
        name + (" (served)" if name == result.family else ""): {
            **metrics,
            **({"validation_roc_auc": result.validation[name]} if name in result.validation else {}),
        }
        for name, metrics in result.table.items()
    }
    out.print(
        _metrics_table(
            "evaluation cutoff", rows, ("validation_roc_auc", "roc_auc", "accuracy", "top_decile_lift")
        )
    )
    m = result.metrics
    out.print(
        f"majority-class accuracy {m['majority_accuracy']:.4f}; served accuracy "
        f"{m['accuracy_over_majority']:+.4f} over it, {m['accuracy_over_recency_rule']:+.4f} over the recency rule"
    )
    if "auc_to_truth" in m:  # the simulated shop's planted purchase probabilities
        out.print(f"served ROC-AUC / the planted truth's: {m['auc_to_truth']:.3f} (target >= 0.95)")
    out.print(_gate_line(result.gate))


@train_app.command("clv")
@user_errors
def train_clv(
    holdout_days: Annotated[
        int | None,
        typer.Option(
            help="Days of the evaluation holdout after its cutoff (default: 365 when the warehouse holds "
            "it after 180 days of history, else 180 after 120, else 90 after 90)."
        ),
    ] = None,
    min_history_days: Annotated[
        int | None,
        typer.Option(help="Days of history before the evaluation cutoff (default: see --holdout-days)."),
    ] = None,
) -> None:
    """Lifetime value: BG/NBD (purchases) + Gamma-Gamma (spend) by maximum likelihood, measured on a
    holdout against the historical average; every buyer's value stored in marts.customer_value."""
    from ecomm.ml.clv.train import ClvConfig
    from ecomm.ml.clv.train import train_clv as run

    settings = _settings()
    overrides = {}
    if holdout_days is not None:
        overrides["holdout_days"] = holdout_days
    if min_history_days is not None:
        overrides["min_history_days"] = min_history_days
    with err.status("training the lifetime-value model"):
        result = run(settings, ClvConfig.from_settings(settings, **overrides))
    m = result.metrics
    out.print(
        f"evaluation: histories before {result.cutoff}, holdout {result.holdout_days} days; "
        f"{result.customers:,} buyers as of {result.as_of}"
    )
    rows = {"BG/NBD + Gamma-Gamma": {}, "historical average": {}, "truth": {}}
    for key in ("spearman_realised", "top_decile_capture", "total_ratio", "spearman_truth"):
        for entry, prefix in zip(rows, ("", "baseline_", "truth_"), strict=True):
            if f"{prefix}{key}" in m:
                rows[entry][key] = m[f"{prefix}{key}"]
    if "truth_spearman_realised" not in m:
        del rows["truth"]
    out.print(
        _metrics_table(
            "lifetime value, holdout",
            rows,
            ("spearman_realised", "top_decile_capture", "total_ratio", "spearman_truth"),
        )
    )
    out.print(f"top-decile capture {m['capture_over_baseline']:.2f}x the historical average's")
    if "spearman_truth_over_truth_realised" in m:
        out.print(
            f"Spearman with the planted value {m['spearman_truth']:.3f}: "
            f"{m['spearman_truth_over_truth_realised']:.2f}x the truth's own with the realised value"
        )
    out.print(_gate_line(result.gate))
    out.print(
        f"{result.stored_rows:,} customers' values of v{result.gate.champion_after} in marts.customer_value"
    )
    out.print(f"run {result.run_id} in {result.seconds:.1f}s")


@train_app.command("forecast")
@user_errors
def train_forecast(
    level: Annotated[
        str, typer.Option(help="Series: product, category, total (x day) or all three.")
    ] = "all",
    models: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: seasonal_naive, auto_ets, auto_theta, croston, adida, imapa, "
            "lightgbm "
            "[default: ECOMM_FORECAST_MODELS]."
        ),
    ] = None,
    windows: Annotated[
        int | None,
        typer.Option(
            help="Forecast origins of the rolling backtest [default: ECOMM_FORECAST_BACKTEST_WINDOWS]."
        ),
    ] = None,
    step: Annotated[int, typer.Option(help="Days between origins.")] = 7,
    products: Annotated[
        int | None,
        typer.Option(
            help="Product level: the best sellers before the first origin (0 = all) "
            "[default: ECOMM_FORECAST_PRODUCTS]."
        ),
    ] = None,
) -> None:
    """Demand forecasts: a rolling-origin backtest of the shop's daily units per level, horizons 1,
    7, 14 and 30 days, beside seasonal naive and (simulated shop) the planted expected demand; the
    best model of each level at 14 days is registered as demand_forecast_model, gated on the latest
    window's MASE, and the champion's forecasts and reorder points are stored in
    marts.demand_forecast and marts.product_stock."""
    from ecomm.ml.forecast.backtest import BacktestSettings
    from ecomm.ml.forecast.models import check_models
    from ecomm.ml.forecast.shop import LEVELS
    from ecomm.ml.forecast.train import ForecastConfig, chosen_on
    from ecomm.ml.forecast.train import train_forecast as run

    if level != "all" and level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {', '.join(LEVELS)} or all")
    settings = _settings()
    defaults = ForecastConfig.from_settings(settings)
    overrides = {
        "levels": LEVELS if level == "all" else (level,),
        "backtest": BacktestSettings(windows=windows or defaults.backtest.windows, step=step),
    }
    if models is not None:
        overrides["models"] = check_models(tuple(m.strip() for m in models.split(",") if m.strip()))
    if products is not None:
        overrides["products"] = products or None
    config = ForecastConfig.from_settings(settings, **overrides)
    with err.status("backtesting, registering and storing demand forecasts"):
        result = run(settings, config)
    for backtest in result.backtests.values():
        _print_backtest(backtest)
        origins = chosen_on(backtest, config.choose_horizon)
        out.print(
            f"{backtest.level}: {result.methods[backtest.level]} chosen (lowest MASE at 14 days "
            f"on the {origins} validation origins before the backtest's)"
        )
    if result.stock is not None:
        st = result.stock
        out.print(
            f"stock replay ({st['series']} products, {st['days']} days from the first origin): "
            f"reorder points serve {st['service_level']:.1%} of days with {st['average_stock']:,.1f} units "
            f"held; naive (28-day mean x lead time) {st['naive_service_level']:.1%} with "
            f"{st['naive_average_stock']:,.1f}; naive with the safety stock serving as many days "
            f"({st['matched_naive_service_level']:.1%}, found in hindsight) {st['matched_naive_average_stock']:,.1f}"
        )
    out.print(_gate_line(result.gate))
    stored = result.stored
    out.print(
        f"{stored.forecast_rows:,} forecasts and {stored.products:,} products' reorder points of "
        f"v{stored.model_version} as of {stored.forecast_date} in marts.demand_forecast and marts.product_stock"
    )
    out.print(f"run {result.run_id} in {result.seconds:.1f}s")


def _print_backtest(result) -> None:
    out.print(
        f"{result.series:,} {result.level} series, {result.first_day} .. {result.last_day}; "
        f"origins {', '.join(result.cutoffs)}"
    )
    columns = ["mase", "mase_vs_naive", "rmsse", "smape", "bias", "coverage_80", "coverage_95"]
    columns += ["mase_vs_oracle", "rmsse_vs_oracle"] if result.has_truth else []
    table = Table("model", "horizon", *columns, title=f"{result.level} x day backtest", title_justify="left")
    for row in result.table.itertuples(index=False):
        values = [getattr(row, c) for c in columns]
        table.add_row(row.model, str(row.horizon), *("n/a" if pd_isna(v) else f"{v:.3f}" for v in values))
    out.print(table)
    if not result.has_truth:
        out.print("no planted demand in this warehouse (imported data): no oracle row")
    out.print(f"in {result.seconds:.1f}s")


def pd_isna(value) -> bool:
    return value != value  # NaN is the only value unequal to itself


@predict_app.command("churn")
@user_errors
def predict_churn(
    force: Annotated[
        bool, typer.Option("--force", help="Score again even if the scores are current.")
    ] = False,
) -> None:
    """Score every customer as of today with the churn champion into marts.churn_scores (the
    dashboard's Churn risk page reads it)."""
    from ecomm.ml.churn.scoring import score_with_champion

    with err.status("scoring today's customers with the churn champion"):
        result = score_with_champion(_settings(), force=force)
    if result.stored:
        out.print(
            f"scored {result.customers:,} customers as of {result.cutoff} with {result.model.name} "
            f"v{result.model.version} into marts.churn_scores in {result.seconds:.1f}s"
        )
    else:
        out.print(
            f"marts.churn_scores already holds {result.model.name} v{result.model.version}'s scores of "
            f"{result.customers:,} customers as of {result.cutoff}: nothing to do (--force scores again)"
        )


@predict_app.command("purchase")
@user_errors
def predict_purchase(
    force: Annotated[
        bool, typer.Option("--force", help="Score again even if the scores are current.")
    ] = False,
) -> None:
    """Score every active customer as of today with the purchase champion into
    marts.purchase_scores (the dashboard's Churn risk page shows them beside churn)."""
    from ecomm.ml.purchase.scoring import score_with_champion

    with err.status("scoring today's customers with the purchase champion"):
        result = score_with_champion(_settings(), force=force)
    if result.stored:
        out.print(
            f"scored {result.customers:,} customers as of {result.cutoff} with {result.model.name} "
            f"v{result.model.version} into marts.purchase_scores in {result.seconds:.1f}s"
        )
    else:
        out.print(
            f"marts.purchase_scores already holds {result.model.name} v{result.model.version}'s scores of "
            f"{result.customers:,} customers as of {result.cutoff}: nothing to do (--force scores again)"
        )


@app.command("evaluate")
@user_errors
def evaluate(
    report: Annotated[bool, typer.Option("--report", help="Also write model_report.md and .json.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report directory (default: ECOMM_HOME/reports).")
    ] = None,
) -> None:
    """Champion vs challenger of each registered model on the same fresh holdout, with baselines."""
    from ecomm.ml.report import evaluate as run
    from ecomm.ml.report import write_report

    settings = _settings()
    with err.status("scoring the registered models"):
        result = run(settings)
    if not result.truth:
        from ecomm.ml.report import NO_TRUTH_NOTE

        out.print(NO_TRUTH_NOTE)
    for comp in result.comparisons:
        if comp.message:
            out.print(f"{comp.model}: {comp.message}")
            continue
        out.print(_metrics_table(f"{comp.model} - {comp.holdout}", comp.rows, comp.metrics))
        for title, rows in comp.sections.items():
            out.print(_metrics_table(f"{comp.model} - {title}", rows, comp.metrics))
    targets = Table(
        "target", "observed", "required", "met", "detail", title="quality targets", title_justify="left"
    )
    for t in result.targets:
        met = "n/a" if t.met is None else ("[green]yes[/]" if t.met else "[red]no[/]")
        targets.add_row(
            t.name, "n/a" if t.observed is None else f"{t.observed:.4f}", t.required, met, t.detail
        )
    out.print(targets)
    if report:
        md, js = write_report(result, out_dir or settings.home / "reports")
        out.print(f"report: {md} and {js}")


if __name__ == "__main__":
    app()
