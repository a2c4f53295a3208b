"""marts.purchase_scores: the purchase champion's scores of today's active customers
(`ecomm predict purchase`).

Revision ID: 0015
"""

from alembic import op

revision = "0015"
down_revision = "0014"

PURCHASE_SCORES = """
CREATE TABLE marts.purchase_scores (
    customer_id           bigint PRIMARY KEY REFERENCES warehouse.dim_customer (customer_id),
    cutoff_date           date NOT NULL,
    model_name            text NOT NULL,
    model_version         text NOT NULL,
    model_source          text NOT NULL,
    horizon_days          integer NOT NULL CHECK (horizon_days > 0),
    purchase_probability  double precision NOT NULL CHECK (purchase_probability BETWEEN 0 AND 1),
    scored_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX purchase_scores_probability ON marts.purchase_scores (purchase_probability DESC);
COMMENT ON TABLE marts.purchase_scores IS
    'Grain: one row per customer signed up before cutoff_date (the day after the last loaded business '
    'date) with an order or a web session before it, scored by the purchase champion model_version (its '
    'files: model_source): P(at least one completed order in the horizon_days from cutoff_date); '
    'replaced whole by each scoring (`ecomm predict purchase`).';
"""


def upgrade() -> None:
    op.execute(PURCHASE_SCORES)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS marts.purchase_scores")
