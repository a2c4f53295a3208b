"""`ecomm evaluate`: the registered champion and challenger of each model scored on the same fresh
holdout of the current warehouse, beside the baselines and the oracle; and the quality report.

Churn holdout: the latest monthly cutoff whose label window the warehouse holds (full features).
Recommender holdout: the last 28 loaded days. Quality targets (issue 4):
  churn        ROC-AUC >= 0.95 x oracle, < 0.99 (leakage sentinel); the family served (logistic or
               XGBoost, chosen on validation) within 0.01 of the best family on the run's cutoff
  recommender  NDCG@10 >= 1.5 x popularity and >= 0.6 x oracle; coverage@10 >= 3 x popularity's.
               Beside the fresh table, the champion's training run's own table on its holdout: each
               candidate generator alone, the re-ranked model, a tuned item-kNN, popularity, oracle
  time         both trainings <= 300 s
  segments     see ecomm.ml.segment.report
  purchase     see ecomm.ml.purchase.report
  clv          see ecomm.ml.clv.report
  forecast     see ecomm.ml.forecast.report (the champion's training backtest, not a fresh one)
Targets are checked on the champions: fresh scores, except the family comparison and the training
time, which come from the champion's training run (every family on that run's cutoff).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ecomm import db
from ecomm.features import columns as C
from ecomm.ml import registry, tracking
from ecomm.ml.churn import evaluate as churn_ev
from ecomm.ml.churn.dataset import load_holdout
from ecomm.ml.churn.model import signature_columns
from ecomm.ml.comparison import Comparison, Target, champion_row, run_metrics, run_params
from ecomm.ml.comparison import entries as registered_entries
from ecomm.ml.recommend import evaluate as rec_ev
from ecomm.ml.recommend.dataset import HOLDOUT_DAYS, SHOP, has_truth, load_rec_data
from ecomm.ml.serving import CHURN_PROBABILITY
from ecomm.settings import Settings

CHURN_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift")
REC_METRICS = ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage_at_10", "novelty")
TRAIN_SECONDS_LIMIT = 300.0
TRAINED_MODEL = "registered model"  # the training run's row of the model it registered


def compare_churn(settings: Settings, client) -> Comparison:
    import mlflow

    entries = registered_entries(client, registry.CHURN_MODEL)
    if not entries:
        return Comparison(
            registry.CHURN_MODEL, "", CHURN_METRICS, message="not registered: run `ecomm train churn`"
        )
    # the champion's label horizon (it may differ from today's setting)
    champion_run = run_params(
        client, registry.CHURN_MODEL, registry.alias_version(client, registry.CHURN_MODEL, registry.CHAMPION)
    )
    horizon = int(champion_run.get("horizon_days", settings.churn_horizon_days))
    with db.connection(settings) as conn:
        cutoff, holdout = load_holdout(conn, horizon)
        oracle = churn_ev.oracle_scores(conn, holdout, cutoff, horizon).to_numpy()
    features = [c for c in holdout.columns if c not in (C.CUSTOMER_ID, C.CUTOFF, C.LABEL)]
    scores = {}
    for label, version in entries.items():
        model = mlflow.pyfunc.load_model(registry.model_uri(registry.CHURN_MODEL, version))
        scores[label] = model.predict(signature_columns(model, holdout[features]))[
            CHURN_PROBABILITY
        ].to_numpy()
    if np.isfinite(oracle).any():
        scores[churn_ev.ORACLE] = oracle
    table = churn_ev.score_table(holdout[C.LABEL], scores)
    return Comparison(
        registry.CHURN_MODEL,
        f"cutoff {cutoff}, {horizon}-day label, {len(holdout)} customers, churn rate {holdout[C.LABEL].mean():.3f}",
        CHURN_METRICS,
        table,
        registry.aliases(client, registry.CHURN_MODEL),
    )


def compare_recommender(settings: Settings, client, holdout_days: int = HOLDOUT_DAYS) -> Comparison:
    import mlflow

    entries = registered_entries(client, registry.RECOMMENDER_MODEL)
    if not entries:
        return Comparison(
            registry.RECOMMENDER_MODEL,
            "",
            REC_METRICS,
            message="not registered: run `ecomm train recommender`",
        )
    with db.connection(settings) as conn:
        data = load_rec_data(conn, holdout_days=holdout_days)
        users, relevant, countries = rec_ev.holdout_users(data)
        lists = {}
        for label, version in entries.items():
            model = mlflow.pyfunc.load_model(registry.model_uri(registry.RECOMMENDER_MODEL, version))
            lists[label] = rec_ev.model_lists(model, users, countries)
        lists[rec_ev.POPULARITY] = rec_ev.popularity_lists(data, users)
        if data.source != SHOP:
            lists[rec_ev.POPULARITY_ALL] = rec_ev.whole_window_popularity_lists(data, users)
        if has_truth(conn):  # imported data has none: no oracle row
            lists[rec_ev.ORACLE] = rec_ev.oracle_lists(conn, data, users)
    known = set(data.bought[C.CUSTOMER_ID].astype(int)) | set(data.interactions[C.CUSTOMER_ID].astype(int))
    pairs = pd.concat([data.interactions, data.bought])[[C.CUSTOMER_ID, C.PRODUCT_ID]].drop_duplicates()
    item_users = pairs.groupby(C.PRODUCT_ID)[C.CUSTOMER_ID].size().to_dict()
    table = rec_ev.evaluate_lists(
        lists,
        relevant,
        {u for u in users if u in known},
        len(data.catalog),
        item_users=item_users,
        n_users=pairs[C.CUSTOMER_ID].nunique(),
    )
    split = data.describe()
    return Comparison(
        registry.RECOMMENDER_MODEL,
        f"{split['holdout_start']} .. {split['holdout_last_day']}, {len(users)} customers with new "
        + data.choices,
        REC_METRICS,
        table,
        registry.aliases(client, registry.RECOMMENDER_MODEL),
        sections=champion_training_table(client),
    )


def champion_training_table(client) -> dict[str, dict[str, dict[str, float]]]:
    """{title: rows} of the table the champion's training run logged on its holdout (every row it
    scored: the model, each candidate generator alone, a tuned item-kNN, popularity, the oracle);
    {} for a champion whose run logged none."""
    import mlflow

    version = registry.alias_version(client, registry.RECOMMENDER_MODEL, registry.CHAMPION)
    if version is None:
        return {}
    run_id = client.get_model_version(registry.RECOMMENDER_MODEL, version).run_id
    if not any(a.path == "evaluation/metrics.json" for a in client.list_artifacts(run_id, "evaluation")):
        return {}  # a run that logged no evaluation table; any other failure is raised
    logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/metrics.json")
    split = logged.get("split", {})
    title = (
        f"champion v{version}'s training run: trained before {split.get('train_end')}, holdout "
        f"{split.get('holdout_start')} .. {split.get('holdout_last_day')}"
    )
    rows = {TRAINED_MODEL if name == rec_ev.MODEL else name: row for name, row in logged["ranking"].items()}
    return {title: rows}


def quality_targets(churn: Comparison, rec: Comparison, churn_run: dict, rec_run: dict) -> list[Target]:
    out = []
    row, oracle = champion_row(churn), churn.rows.get(churn_ev.ORACLE)
    if row and oracle:
        ratio = row["roc_auc"] / oracle["roc_auc"]
        out.append(
            Target(
                "churn ROC-AUC / oracle ROC-AUC",
                ratio,
                ">= 0.95",
                ratio >= 0.95,
                f"{row['roc_auc']:.4f} / {oracle['roc_auc']:.4f}",
            )
        )
    else:
        out.append(Target("churn ROC-AUC / oracle ROC-AUC", None, ">= 0.95", None, "no champion or no truth"))
    name = "churn served family ROC-AUC - best family's (training run)"
    if "served_roc_auc" in churn_run and "best_family_roc_auc" in churn_run:
        # the full head's family is chosen on validation; on the run's evaluation cutoff it should
        # not trail the family that is best there by more than noise
        gap = churn_run["served_roc_auc"] - churn_run["best_family_roc_auc"]
        out.append(
            Target(
                name,
                gap,
                ">= -0.01",
                gap >= -0.01,
                f"{churn_run['served_roc_auc']:.4f} - {churn_run['best_family_roc_auc']:.4f}",
            )
        )
    else:
        out.append(Target(name, None, ">= -0.01", None, "no run metrics"))
    if row:
        out.append(
            Target("churn ROC-AUC (leakage sentinel)", row["roc_auc"], "< 0.99", row["roc_auc"] < 0.99)
        )
    rrow, pop, orc = champion_row(rec), rec.rows.get(rec_ev.POPULARITY), rec.rows.get(rec_ev.ORACLE)
    for label, base, factor, metric in (
        ("recommender NDCG@10 / popularity", pop, 1.5, "ndcg_at_10"),
        ("recommender NDCG@10 / oracle", orc, 0.6, "ndcg_at_10"),
        ("recommender coverage@10 / popularity", pop, 3.0, "coverage_at_10"),
    ):
        if rrow and base and base[metric] > 0:
            ratio = rrow[metric] / base[metric]
            out.append(
                Target(
                    label, ratio, f">= {factor}", ratio >= factor, f"{rrow[metric]:.4f} / {base[metric]:.4f}"
                )
            )
        else:
            out.append(Target(label, None, f">= {factor}", None, "no champion or empty baseline"))
    if "train_seconds" in churn_run and "train_seconds" in rec_run:
        total = churn_run["train_seconds"] + rec_run["train_seconds"]
        out.append(
            Target(
                "training time, both models (s)",
                total,
                f"<= {TRAIN_SECONDS_LIMIT:.0f}",
                total <= TRAIN_SECONDS_LIMIT,
                f"churn {churn_run['train_seconds']:.1f} + recommender {rec_run['train_seconds']:.1f}",
            )
        )
    else:
        out.append(
            Target(
                "training time, both models (s)",
                None,
                f"<= {TRAIN_SECONDS_LIMIT:.0f}",
                None,
                "no run metrics",
            )
        )
    return out


NO_TRUTH = "no planted truth (imported data)"
NO_TRUTH_NOTE = NO_TRUTH + ": each model is compared with its baselines only"


def planted_truth(settings: Settings) -> bool:
    """Whether the warehouse holds the simulator's ground truth (an imported log has none)."""
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM truth.customer_churn)")
        return bool(cur.fetchone()[0])


def without_truth(targets: list[Target]) -> list[Target]:
    """The targets measured against the planted truth (an oracle, personas, planted values) say that
    there is none instead of a generic 'no champion or no truth'."""
    against_truth = ("oracle", "planted", "truth")
    return [
        replace(t, detail=NO_TRUTH)
        if t.observed is None and any(word in f"{t.name} {t.detail}" for word in against_truth)
        else t
        for t in targets
    ]


@dataclass
class Evaluation:
    comparisons: list[Comparison]
    targets: list[Target]
    runs: dict[str, dict[str, float]]
    truth: bool = True  # False: imported data, baselines only

    def to_dict(self) -> dict:
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "planted_truth": self.truth,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "targets": [t.to_dict() for t in self.targets],
            "champion_runs": self.runs,
        }


def evaluate(settings: Settings) -> Evaluation:
    from ecomm.ml.clv.report import clv_targets, compare_clv
    from ecomm.ml.forecast.report import compare_forecast, forecast_targets
    from ecomm.ml.purchase.report import compare_purchase, purchase_targets
    from ecomm.ml.segment.report import compare_segments, segment_targets

    client = tracking.configure(settings)
    churn = compare_churn(settings, client)
    rec = compare_recommender(settings, client)
    segments = compare_segments(settings, client)
    purchase = compare_purchase(settings, client)
    clv = compare_clv(settings, client)
    forecast = compare_forecast(client)
    comparisons = [churn, rec, segments, purchase, clv, forecast]
    runs = {
        comp.model: run_metrics(client, comp.model, comp.versions.get(registry.CHAMPION))
        for comp in comparisons
    }
    targets = quality_targets(churn, rec, runs[registry.CHURN_MODEL], runs[registry.RECOMMENDER_MODEL])
    targets += segment_targets(segments, runs[registry.SEGMENT_MODEL])
    targets += purchase_targets(purchase)
    targets += clv_targets(clv)
    targets += forecast_targets(forecast, client, settings)
    truth = planted_truth(settings)
    if not truth:
        targets = without_truth(targets)
    return Evaluation(comparisons, targets, runs, truth)


# ---------------------------------------------------------------------------------------- output
def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown(result: Evaluation) -> str:
    lines = ["# Model evaluation", "", f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.", ""]
    if not result.truth:
        lines += [NO_TRUTH_NOTE.capitalize() + ".", ""]
    for comp in result.comparisons:
        lines += [f"## {comp.model}", ""]
        if comp.message:
            lines += [comp.message, ""]
            continue
        lines += [
            f"Holdout: {comp.holdout}. Aliases: "
            + ", ".join(f"{k} = v{v}" for k, v in comp.versions.items())
            + ".",
            "",
        ]
        lines += _table_lines(comp.rows, comp.metrics)
        for title, rows in comp.sections.items():
            lines += [f"{title[:1].upper()}{title[1:]}:", "", *_table_lines(rows, comp.metrics)]
    lines += [
        "## Quality targets",
        "",
        "| target | observed | required | met | detail |",
        "|---|---|---|---|---|",
    ]
    for t in result.targets:
        met = "n/a" if t.met is None else ("yes" if t.met else "**no**")
        lines.append(f"| {t.name} | {_fmt(t.observed)} | {t.required} | {met} | {t.detail} |")
    lines.append("")
    return "\n".join(lines)


def _table_lines(rows: dict[str, dict[str, float]], metrics) -> list[str]:
    lines = ["| | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    lines += [
        f"| {entry} | " + " | ".join(_fmt(row.get(m)) for m in metrics) + " |" for entry, row in rows.items()
    ]
    return [*lines, ""]


def write_report(result: Evaluation, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "model_report.md", out_dir / "model_report.json"
    md.write_text(markdown(result), encoding="utf-8")
    js.write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    return md, js
