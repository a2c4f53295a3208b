"""marts.customer_value: the clv_model champion's lifetime value of every buyer at the training as-of
date (`ecomm train clv`). The name is the design's (docs: marts "customer_value").

Revision ID: 0016
"""

from alembic import op

revision = "0016"
down_revision = "0015"

CUSTOMER_VALUE = """
CREATE TABLE marts.customer_value (
    customer_id          bigint NOT NULL REFERENCES warehouse.dim_customer (customer_id),
    as_of_date           date NOT NULL,
    horizon_days         integer NOT NULL CHECK (horizon_days > 0),
    frequency            double precision NOT NULL CHECK (frequency >= 0),
    recency_days         double precision NOT NULL CHECK (recency_days >= 0),
    t_days               double precision NOT NULL CHECK (t_days > 0),
    monetary             double precision NOT NULL,
    p_alive              double precision NOT NULL CHECK (p_alive BETWEEN 0 AND 1),
    expected_orders      double precision NOT NULL CHECK (expected_orders >= 0),
    expected_order_value double precision NOT NULL,
    expected_value       double precision NOT NULL,
    model_name           text NOT NULL,
    model_version        text NOT NULL,
    model_source         text NOT NULL,
    scored_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, as_of_date)
);
CREATE INDEX customer_value_ranked ON marts.customer_value (as_of_date, expected_value DESC);
COMMENT ON TABLE marts.customer_value IS
    'Grain: one row per customer x as-of month start, customers with a purchase (a day with a '
    'non-cancelled order line) before it: the clv_model champion''s P(alive), expected purchase days '
    'and expected value ($, revenue before returns) over horizon_days from as_of_date, with the '
    'purchase history it scored (frequency, recency_days, t_days, monetary); replaced whole by '
    '`ecomm train clv`.';
"""


def upgrade() -> None:
    op.execute(CUSTOMER_VALUE)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS marts.customer_value")
