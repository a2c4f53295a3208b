"""Weekly causal report: every campaign effect beside the planted truth into marts.causal_estimates
(the dashboard's Campaigns page). A thin caller of `ecomm.campaign_report`."""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from ecomm.orchestration.dag_support import (
    dag_args,
    every_sunday,
    fails_at_once,
    json_safe,
    task_settings,
)

DOC = """
### Causal report

Every Sunday 05:00 UTC (after the weekly training; the next Sunday after the DAG appears, no
catch-up: `ecomm pipeline bootstrap` computes the first report). One task, `campaign_effects`:
`ecomm causal report` (naive difference, regression adjustment, PSM, IPW, DoWhy, LinearDML and
CausalForestDML on the targeted campaign; DiD on the regional launch), each estimate beside the
planted truth, written to `ECOMM_HOME/reports/causal/` and stored in `marts.causal_estimates`.

It is **skipped** when no batch was loaded since the stored estimates were computed (nothing
changed). Campaign effects move over weeks, not days, and the report takes tens of seconds: a weekly
DAG of its own keeps that time out of the daily load and its failures out of the ML DAG. It fails at
once when the data cannot support an estimate yet (no campaign to analyse, or an estimator rejecting
its inputs): a retry cannot lengthen the history. Run it by hand:
trigger this DAG, or `ecomm causal report`.
"""


@dag(
    dag_id="causal_report",
    description="Weekly: every campaign effect beside the planted truth into marts.causal_estimates",
    schedule=every_sunday(5),
    **dag_args(),
    tags=["ecomm", "causal"],
    doc_md=DOC,
)
def causal_report():
    @task(multiple_outputs=False)  # one JSON result, not one XCom per key
    def campaign_effects() -> dict:
        from ecomm import campaign_report
        from ecomm.causal.report import run_report

        settings = task_settings()
        state = campaign_report.estimates_state(settings)
        if not state.stale:
            raise AirflowSkipException(
                f"{state.rows} estimates computed at {state.computed_at:%Y-%m-%d %H:%M:%S %Z}, after the "
                f"last batch load ({state.last_load_at}): nothing changed"
            )
        # no campaign to analyse, or data an estimator rejects (ValueError): a retry cannot fix it
        with fails_at_once(ValueError):
            report, paths = run_report(settings, store=True)
        for note in report.notes:
            print(f"note: {note}")
        print(f"stored {len(report.table)} estimates in marts.causal_estimates; report {paths['markdown']}")
        return json_safe(
            {
                "estimates": len(report.table),
                "campaigns": sorted(int(c) for c in report.table["campaign_id"].unique()),
                "computed_at": report.generated_at.isoformat(),
                "notes": report.notes,
                "report": str(paths["markdown"]),
            }
        )

    campaign_effects()


causal_report()
