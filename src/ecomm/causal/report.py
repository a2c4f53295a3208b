"""Every causal estimate of the simulated campaigns beside the planted truth.

`build_report(conn)` reads the point-in-time extracts (ecomm.causal.extracts), runs every estimator
on them - naive difference, regression adjustment, propensity score matching, inverse propensity
weighting, DoWhy, LinearDML and CausalForestDML on the targeted campaign (ATE, ATT and CATE by
segment); naive post-period difference and difference-in-differences on the regional launch - and
lines each estimate up with `truth.campaign_effect`. `write_report` writes the table as CSV and
markdown, `store_report` into `marts.causal_estimates` (for the dashboard's Campaigns page).

Truth is read only to put it beside the estimates, never as an input of one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ecomm.causal.basic import naive_difference, regression_adjustment
from ecomm.causal.did import PreTrendTest, difference_in_differences, event_study, pre_trend_test
from ecomm.causal.dml import FittedDML, cate_by_segment, fit_dml
from ecomm.causal.dowhy_wrappers import dowhy_estimate, dowhy_refute
from ecomm.causal.extracts import (
    MIN_LEVEL_PER_ARM,
    OTHER_LEVEL,
    Campaign,
    ExtractError,
    RegionalPanel,
    TargetedExtract,
    campaign_truth,
    regional_panel,
    targeted_extract,
)
from ecomm.causal.propensity import inverse_propensity_weighting, propensity_score_matching
from ecomm.causal.results import Estimate

TABLE_COLUMNS = (
    "campaign_id",
    "campaign",
    "method",
    "estimand",
    "segment",
    "outcome",
    "estimate",
    "ci_low",
    "ci_high",
    "std_error",
    "n_treated",
    "n_control",
    "true_effect",
    "error",
    "relative_error",
    "covers_truth",
)
CSV_NAME = "causal_estimates.csv"
MARKDOWN_NAME = "causal_estimates.md"
REFUTATIONS_NAME = "causal_refutations.csv"


@dataclass(frozen=True)
class ReportOptions:
    """Knobs of the estimators (defaults: the library's; smaller values for quick runs)."""

    n_bootstrap: int = 200  # IPW percentile bootstrap
    dowhy_bootstrap: int = 100
    nuisance_estimators: int = 100  # boosted trees of the DML nuisance models
    forest_trees: int = 200  # CausalForestDML
    refute_simulations: int = 20  # per DoWhy refuter; 0 = no refutation
    random_state: int = 0


# ---------------------------------------------------------------------------- targeted campaign
@dataclass
class TargetedAnalysis:
    extract: TargetedExtract
    estimates: list[Estimate]
    linear: FittedDML
    forest: FittedDML
    refutations: pd.DataFrame | None
    seconds: dict[str, float] = field(default_factory=dict)


def targeted_analysis(extract: TargetedExtract, options: ReportOptions = ReportOptions()) -> TargetedAnalysis:
    """Every estimator on the targeted extract: ATE, ATT, and CATE by segment (DML)."""
    f, t, y, x = extract.frame, extract.treatment, extract.outcome, list(extract.covariates)
    segments = list(extract.segments)
    rs = options.random_state
    seconds: dict[str, float] = {}
    estimates: list[Estimate] = []

    def timed(name: str, fn):
        start = time.perf_counter()
        result = fn()
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        return result

    estimates.append(timed("naive", lambda: naive_difference(f, t, y)))
    estimates.append(timed("regression", lambda: regression_adjustment(f, t, y, x)))
    for estimand in ("ATT", "ATE"):
        estimates.append(timed("psm", lambda e=estimand: propensity_score_matching(f, t, y, x, estimand=e)))
    for estimand in ("ATE", "ATT"):
        estimates.append(
            timed(
                "ipw",
                lambda e=estimand: inverse_propensity_weighting(
                    f, t, y, x, estimand=e, n_bootstrap=options.n_bootstrap, random_state=rs
                ),
            )
        )
    estimates.append(
        timed(
            "dowhy", lambda: dowhy_estimate(f, t, y, x, n_bootstrap=options.dowhy_bootstrap, random_state=rs)
        )
    )
    dml_options = {"nuisance_estimators": options.nuisance_estimators, "random_state": rs}
    # The effect may vary with any covariate (fitting it with fewer would make the ATE and ATT
    # variance-weighted within equal values); the segments give each segment's step its own term.
    modifiers = [*x, *segments]
    linear = timed("dml_linear", lambda: fit_dml(f, t, y, x, modifiers, "linear", **dml_options))
    forest = timed(
        "dml_forest",
        lambda: fit_dml(f, t, y, x, modifiers, "forest", n_estimators=options.forest_trees, **dml_options),
    )
    for fitted in (linear, forest):
        estimates += [fitted.ate(), fitted.att()]
        for segment in segments:
            estimates.extend(cate_by_segment(fitted, f, segment))
    refutations = None
    if options.refute_simulations:
        refutations = timed(
            "refute",
            lambda: dowhy_refute(f, t, y, x, num_simulations=options.refute_simulations, random_state=rs),
        )
    return TargetedAnalysis(extract, estimates, linear, forest, refutations, seconds)


# ------------------------------------------------------------------------------ regional launch
@dataclass
class RegionalAnalysis:
    panel: RegionalPanel
    estimates: list[Estimate]
    event_study: pd.DataFrame
    pre_trend: PreTrendTest
    seconds: dict[str, float] = field(default_factory=dict)


def post_period_means(panel: RegionalPanel) -> pd.DataFrame:
    """One row per customer: treated flag and the post-period outcome rate (days-weighted mean)."""
    post = panel.frame[panel.frame[panel.post]]
    per_customer = post.groupby(panel.unit).agg(
        treated=(panel.treated, "first"), orders=("completed_orders", "sum"), days=("days", "sum")
    )
    per_customer[panel.outcome] = per_customer["orders"] * 7.0 / per_customer["days"]
    return per_customer.reset_index()


def did_args(panel: RegionalPanel) -> tuple[str, str, str, str, str]:
    return panel.unit, panel.time, panel.treated, panel.post, panel.outcome


EVENT_LEADS = 12  # weeks before the launch in the event study and the pre-trend test


def event_window(panel: RegionalPanel, leads: int = EVENT_LEADS) -> pd.DataFrame:
    """The panel from `leads` weeks before the launch on (an event study with one coefficient per
    week of a long pre-period costs much and adds little)."""
    return panel.frame[panel.frame[panel.time] >= -leads]


def regional_analysis(panel: RegionalPanel, *, leads: int = EVENT_LEADS) -> RegionalAnalysis:
    """Naive post-period difference (treated vs control countries), two-way fixed-effects DiD on the
    whole panel, and the event study and pre-trend test on the last `leads` weeks before launch on."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    naive = naive_difference(post_period_means(panel), panel.treated, panel.outcome)
    # A treated-vs-control comparison after launch: a (naive) estimate of the effect on the treated.
    naive = replace(naive, method="naive_post_difference", estimand="ATT")
    did = difference_in_differences(panel.frame, *did_args(panel))
    seconds["did"] = time.perf_counter() - start
    start = time.perf_counter()
    window = event_window(panel, leads)
    events = event_study(window, *did_args(panel))
    pre = pre_trend_test(window, *did_args(panel))
    seconds["event_study"] = time.perf_counter() - start
    did = replace(did, details={**did.details, "pre_trend_p_value": pre.p_value})
    return RegionalAnalysis(panel, [naive, did], events, pre, seconds)


# --------------------------------------------------------------------------------- the table
def _truth_row(truth: pd.DataFrame, campaign_id: int, estimand: str) -> pd.Series | None:
    rows = truth[truth["campaign_id"] == campaign_id]
    if estimand.startswith("CATE:"):
        rows = rows[(rows["estimand"] == "CATE") & (rows["segment"] == estimand.removeprefix("CATE:"))]
    else:
        rows = rows[rows["estimand"] == estimand]
    return rows.iloc[0] if len(rows) == 1 else None


def comparison_table(
    campaign: Campaign, outcome: str, estimates: Iterable[Estimate], truth: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per estimate with the planted truth of the same estimand (and segment) beside it.

    Estimands map to truth rows by name: ATE and ATT to the campaign's single ATE / ATT row,
    "CATE:<segment>" to the CATE row of that segment. Estimates with no truth row get NaN."""
    truth = truth if truth is not None else pd.DataFrame(columns=["campaign_id", "estimand", "segment"])
    rows = []
    for est in estimates:
        row = _truth_row(truth, campaign.campaign_id, est.estimand)
        true_effect = float(row["true_effect"]) if row is not None else math.nan
        segment = (
            est.estimand.removeprefix("CATE:")
            if est.estimand.startswith("CATE:")
            else (
                row["segment"]
                if row is not None
                else ("all_eligible" if est.estimand == "ATE" else "treated")
            )
        )
        error = est.estimate - true_effect
        rows.append(
            {
                "campaign_id": campaign.campaign_id,
                "campaign": campaign.name,
                "method": est.method,
                "estimand": est.estimand.split(":")[0],
                "segment": segment,
                "outcome": outcome,
                "estimate": est.estimate,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "std_error": np.nan if est.std_error is None else est.std_error,
                "n_treated": est.n_treated,
                "n_control": est.n_control,
                "true_effect": true_effect,
                "error": error,
                "relative_error": error / abs(true_effect) if true_effect else math.nan,
                "covers_truth": est.contains(true_effect) if not math.isnan(true_effect) else pd.NA,
            }
        )
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    frame["covers_truth"] = frame["covers_truth"].astype("boolean")
    return frame


@dataclass
class CausalReport:
    table: pd.DataFrame
    targeted: TargetedAnalysis | None
    regional: RegionalAnalysis | None
    truth: pd.DataFrame
    generated_at: datetime
    notes: list[str] = field(default_factory=list)

    @property
    def refutations(self) -> pd.DataFrame | None:
        return self.targeted.refutations if self.targeted is not None else None


def build_report(
    conn, options: ReportOptions = ReportOptions(), *, campaigns: Sequence[str] = ("targeted", "regional")
) -> CausalReport:
    """Extract, estimate and compare for each campaign type in `campaigns` the warehouse holds."""
    truth = campaign_truth(conn)
    tables, notes = [], []
    targeted = regional = None
    if "targeted" in campaigns:
        try:
            extract = targeted_extract(conn)
        except ExtractError as exc:
            notes.append(f"targeted campaign skipped: {exc}")
        else:
            notes.extend(
                f"targeted campaign: {column} levels with fewer than {MIN_LEVEL_PER_ARM} customers in an arm "
                f"pooled as '{OTHER_LEVEL}': {', '.join(levels)}"
                for column, levels in extract.pooled_levels.items()
            )
            targeted = targeted_analysis(extract, options)
            tables.append(comparison_table(extract.campaign, extract.outcome, targeted.estimates, truth))
    if "regional" in campaigns:
        try:
            panel = regional_panel(conn)
        except ExtractError as exc:
            notes.append(f"regional campaign skipped: {exc}")
        else:
            regional = regional_analysis(panel)
            tables.append(comparison_table(panel.campaign, panel.outcome, regional.estimates, truth))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    return CausalReport(table, targeted, regional, truth, datetime.now(UTC), notes)


# -------------------------------------------------------------------------------------- output
def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(table: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    columns = list(columns or table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in table[columns].iterrows():
        cells = []
        for c in columns:
            v = row[c]
            cells.append(
                f"{v:+.1%}"
                if c == "relative_error" and isinstance(v, float) and not math.isnan(v)
                else _fmt(v)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


SUMMARY_COLUMNS = (
    "method",
    "estimand",
    "segment",
    "estimate",
    "ci_low",
    "ci_high",
    "true_effect",
    "relative_error",
    "covers_truth",
)


def report_markdown(report: CausalReport) -> str:
    parts = [
        "# Campaign effects: estimates beside the planted truth",
        "",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC from the warehouse. "
        "`true_effect` is the generator's planted effect (truth.campaign_effect); "
        "`covers_truth` says whether the 95% interval contains it.",
    ]
    for campaign_id, rows in report.table.groupby("campaign_id", sort=True):
        first = rows.iloc[0]
        parts += ["", f"## {first['campaign']} (campaign {campaign_id}), outcome `{first['outcome']}`", ""]
        parts.append(markdown_table(rows, SUMMARY_COLUMNS))
    if report.regional is not None:
        pre = report.regional.pre_trend
        parts += [
            "",
            f"Pre-trend test (all leads = 0): F = {pre.statistic:.2f}, p = {pre.p_value:.3f} "
            f"over {pre.df_num} pre-launch weeks.",
        ]
    if report.refutations is not None:
        parts += ["", "## DoWhy refuters (targeted campaign)", "", markdown_table(report.refutations)]
    for note in report.notes:
        parts += ["", f"> {note}"]
    return "\n".join(parts) + "\n"


def write_report(report: CausalReport, out_dir: Path | str) -> dict[str, Path]:
    """Write the table (CSV + markdown) and the refutations (CSV) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / CSV_NAME, "markdown": out / MARKDOWN_NAME}
    report.table.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(report_markdown(report), encoding="utf-8")
    if report.refutations is not None:
        paths["refutations"] = out / REFUTATIONS_NAME
        report.refutations.to_csv(paths["refutations"], index=False)
    return paths


def store_report(conn, report: CausalReport) -> int:
    """Replace the rows of marts.causal_estimates with this report's table (one transaction)."""
    from psycopg2.extras import execute_values

    def clean(value):
        if value is None or value is pd.NA:
            return None
        if isinstance(value, (float, np.floating)):
            return None if math.isnan(value) else float(value)
        if isinstance(value, (np.integer,)):
            return int(value)
        if isinstance(value, (np.bool_,)):
            return bool(value)
        return value

    rows = [
        tuple(clean(row[c]) for c in TABLE_COLUMNS) + (report.generated_at,)
        for _, row in report.table.iterrows()
    ]
    with conn.cursor() as cur:
        cur.execute("DELETE FROM marts.causal_estimates")
        if rows:
            execute_values(
                cur,
                f"INSERT INTO marts.causal_estimates ({', '.join(TABLE_COLUMNS)}, computed_at) VALUES %s",
                rows,
            )
    conn.commit()
    return len(rows)


def run_report(
    settings,
    out_dir: Path | str | None = None,
    *,
    store: bool = True,
    options: ReportOptions = ReportOptions(),
) -> tuple[CausalReport, dict[str, Path]]:
    """`ecomm causal report`: build, write (default ECOMM_HOME/reports/causal) and store the table."""
    from ecomm import db

    out = Path(out_dir) if out_dir is not None else settings.home / "reports" / "causal"
    with db.connection(settings) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM warehouse.dim_campaign")
            if cur.fetchone()[0] == 0:  # an imported log: no treatment to estimate the effect of
                raise ExtractError(
                    "no campaign in the warehouse (warehouse.dim_campaign is empty): no causal report"
                )
        report = build_report(conn, options)
        if report.table.empty:
            raise ExtractError("no campaign could be analysed: " + "; ".join(report.notes))
        paths = write_report(report, out)
        if store:
            store_report(conn, report)
    return report, paths
