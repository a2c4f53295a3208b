"""marts.churn_scores: the churn champion's scores of today's customers (`ecomm predict churn`).

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"

CHURN_SCORES = """
CREATE TABLE marts.churn_scores (
    customer_id            bigint PRIMARY KEY REFERENCES warehouse.dim_customer (customer_id),
    cutoff_date            date NOT NULL,
    model_name             text NOT NULL,
    model_version          text NOT NULL,
    model_source           text NOT NULL,
    churn_probability      double precision NOT NULL CHECK (churn_probability BETWEEN 0 AND 1),
    days_since_last_order  integer NOT NULL CHECK (days_since_last_order > 0),
    total_orders           integer NOT NULL CHECK (total_orders > 0),
    total_spent            double precision NOT NULL,
    scored_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX churn_scores_probability ON marts.churn_scores (churn_probability DESC);
COMMENT ON TABLE marts.churn_scores IS
    'Grain: one row per customer with a completed order before cutoff_date (the day after the last '
    'loaded business date), scored by the churn champion model_version (its files: model_source) as of '
    'that day; replaced whole '
    'by each scoring (`ecomm predict churn`, the ML DAG, the dashboard when stale).';
"""


def upgrade() -> None:
    op.execute(CHURN_SCORES)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS marts.churn_scores")
