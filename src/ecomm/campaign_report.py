"""`marts.causal_estimates` kept filled (the dashboard's Campaigns page): the bootstrap computes the
causal report when the table is empty, the weekly `causal_report` DAG when a batch was loaded after
the stored estimates were computed. The report itself is `ecomm causal report`'s:
`ecomm.causal.report.run_report(settings, store=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ecomm import db
from ecomm.settings import Settings


@dataclass(frozen=True)
class EstimatesState:
    rows: int  # in marts.causal_estimates
    computed_at: datetime | None  # of the stored report
    last_load_at: datetime | None  # the latest successful batch load

    @property
    def stored(self) -> bool:
        return self.rows > 0

    @property
    def stale(self) -> bool:
        """No estimate, or a batch loaded since they were computed."""
        return (
            not self.stored
            or self.computed_at is None
            or (self.last_load_at is not None and self.last_load_at > self.computed_at)
        )


def estimates_state(settings: Settings) -> EstimatesState:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM marts.causal_estimates), "
            "(SELECT max(computed_at) FROM marts.causal_estimates), "
            "(SELECT max(finished_at) FROM audit.load_runs WHERE status = 'loaded')"
        )
        rows, computed_at, last_load_at = cur.fetchone()
    return EstimatesState(rows, computed_at, last_load_at)
