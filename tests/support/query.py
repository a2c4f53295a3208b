"""Queries on one test database, for the `sql` fixture (tests/conftest.py) and tests with databases of
their own."""

from __future__ import annotations

from ecomm import db
from ecomm.settings import Settings


class Query:
    """Queries on one database: all rows with query(sql, params), a scalar with query.one(...)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn = db.connect(settings)
        self.conn.autocommit = True

    def __call__(self, query: str, params=None) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def one(self, query: str, params=None):
        return self(query, params)[0][0]

    def close(self) -> None:
        self.conn.close()


def drift_rows(rows) -> list[tuple]:
    """FeatureDrift rows as sorted tuples of the columns marts.model_monitoring stores."""
    return sorted(
        (
            r.feature,
            r.kind,
            r.psi,
            r.ks_statistic,
            r.chi2_p_value,
            r.drifted,
            r.reference_rows,
            r.current_rows,
        )
        for r in rows
    )
