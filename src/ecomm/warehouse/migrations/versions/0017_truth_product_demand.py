"""Demand truth: per product and business date, the expected units and revenue of completed order
lines implied by the simulator's probabilities (ecomm.datagen.demand).

Loaded from OUT/truth/product_demand.csv by ecomm.warehouse.truth like the other truth tables; read
by evaluation code and tests only (forecast backtests set their error beside it), never by features.

Revision ID: 0017
"""

from alembic import op

revision = "0017"
down_revision = "0016"

UPGRADE = """
CREATE TABLE truth.product_demand (
    product_id bigint NOT NULL, business_date date NOT NULL,
    expected_units double precision NOT NULL CHECK (expected_units >= 0),
    expected_revenue double precision NOT NULL CHECK (expected_revenue >= 0),
    PRIMARY KEY (product_id, business_date));
COMMENT ON TABLE truth.product_demand IS
    'Grain: one row per product x business date, every product in the catalogue on that date: the '
    'expected units and revenue ($) of completed (not cancelled) order lines, before returns, given '
    'the simulated shop''s state at the start of the day (its churn hazard, order probabilities, line '
    'count, preference picks and exploration; see ecomm.datagen.demand). Realised sales scatter around it.';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS truth.product_demand;
DELETE FROM audit.truth_loads WHERE file_name = 'product_demand.csv';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
