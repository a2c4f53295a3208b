"""`ecomm causal ...`: the causal analyses from the command line (a Typer sub-app; no logic here).

Registered in ecomm.cli with `app.add_typer(causal_app, name="causal")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ecomm.console import err, out, user_errors

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def causal() -> None:
    """Causal analysis of the campaigns (estimates beside the planted truth)."""


@app.command("report")
@user_errors
def report(
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the table (default: ECOMM_HOME/reports/causal)."),
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Also replace marts.causal_estimates (read by the dashboard).")
    ] = True,
    quick: Annotated[
        bool, typer.Option(help="Fewer bootstrap resamples, trees and refuter runs (a rough, fast table).")
    ] = False,
) -> None:
    """Estimate every campaign effect (naive, regression, PSM, IPW, DoWhy, DML, DiD) beside the planted truth.

    Writes causal_estimates.csv, causal_estimates.md and causal_refutations.csv, and (unless --no-store)
    replaces marts.causal_estimates."""
    from ecomm.causal.report import ReportOptions, run_report
    from ecomm.settings import get_settings

    options = (
        ReportOptions(
            n_bootstrap=50,
            dowhy_bootstrap=30,
            nuisance_estimators=50,
            forest_trees=100,
            refute_simulations=5,
        )
        if quick
        else ReportOptions()
    )
    result, paths = run_report(get_settings(), out_dir, store=store, options=options)
    _print(result)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    for kind, path in paths.items():
        out.print(f"wrote {kind}: {path}", highlight=False, soft_wrap=True)
    if store:
        out.print(f"stored {len(result.table)} row(s) in marts.causal_estimates")


SHORT_NAMES = {
    "naive_difference": "naive",
    "regression_adjustment": "regression",
    "propensity_score_matching": "PSM",
    "inverse_propensity_weighting": "IPW",
    "dowhy:backdoor.propensity_score_weighting": "DoWhy (IPW)",
    "dml_linear": "LinearDML",
    "dml_forest": "CausalForestDML",
    "naive_post_difference": "naive (post)",
    "difference_in_differences": "DiD",
}


def _print(result) -> None:
    from rich.table import Table

    table = Table(title="campaign effects vs the planted truth", title_justify="left")
    for name in ("id", "method", "estimand", "segment", "estimate", "95% CI", "truth", "error"):
        table.add_column(name, overflow="fold")
    for row in result.table.itertuples():
        truth = "" if row.true_effect != row.true_effect else f"{row.true_effect:.4f}"
        error = "" if row.relative_error != row.relative_error else f"{row.relative_error:+.1%}"
        table.add_row(
            str(row.campaign_id),
            SHORT_NAMES.get(row.method, row.method),
            row.estimand,
            row.segment,
            f"{row.estimate:.4f}",
            f"{row.ci_low:.4f} .. {row.ci_high:.4f}",
            truth,
            error,
        )
    # in a log (not a terminal) rich assumes 80 columns; give the table room for one line a row
    (out if out.is_terminal else Console(width=120)).print(table)


if __name__ == "__main__":  # `python -m ecomm.causal.cli report` (before the sub-app is registered)
    app()
