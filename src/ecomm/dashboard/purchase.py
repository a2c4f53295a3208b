"""Purchase propensity beside churn risk on the Churn risk page: `marts.purchase_scores` (stored by
`ecomm predict purchase`, ecomm.ml.purchase.scoring) of the same day as the churn scores.

Unlike churn, the page does not score purchase itself: it shows stored scores of the churn scores'
cutoff only (scores of an earlier load would sit beside today's churn as if of the same day), and
otherwise says which commands store them.
"""

from __future__ import annotations

import pandas as pd
import psycopg2

from ecomm.dashboard.churn import SCORED_IN_SCOPE
from ecomm.dashboard.filters import Filters
from ecomm.dashboard.source import Warehouse, cached, connection, read
from ecomm.ml.churn.scoring import StoredScoring, stored_scoring
from ecomm.ml.purchase.scoring import SCORES_TABLE

SCATTER_POINTS = 5000  # a random sample of that many customers beyond it: a readable cloud, a light page


def purchase_scoring(wh: Warehouse, churn: StoredScoring) -> StoredScoring | None:
    """The stored purchase scores when they are of the churn scores' day; None otherwise (none
    stored, another day's, or a warehouse migrated before the table existed). Not cached: one small
    aggregate, and `ecomm predict purchase` shows on the next view."""
    with connection(wh.url) as conn:
        try:
            stored = stored_scoring(conn, SCORES_TABLE)
        except psycopg2.errors.UndefinedTable:
            return None
    return stored if stored is not None and stored.cutoff == churn.cutoff else None


@cached
def churn_and_purchase(
    wh: Warehouse, churn: StoredScoring, purchase: StoredScoring, flt: Filters
) -> pd.DataFrame:
    """customer_id, churn_probability, purchase_probability of the customers in the filters scored
    by both (at most SCATTER_POINTS of them, a fixed random sample)."""
    return read(
        wh.url,
        f"""SELECT s.customer_id, s.churn_probability, p.purchase_probability
            FROM ({SCORED_IN_SCOPE}) s JOIN {SCORES_TABLE} p USING (customer_id)
            ORDER BY md5(s.customer_id::text) LIMIT %(points)s""",
        flt.params() | {"points": SCATTER_POINTS},
    )
