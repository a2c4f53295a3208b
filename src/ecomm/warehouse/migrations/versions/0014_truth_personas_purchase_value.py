"""Truth tables of round 2: customer personas, 30-day purchase probability, 365-day expected value.

Loaded from OUT/truth/ by ecomm.warehouse.truth like the other truth tables; read by evaluation code
and tests only, never by features.

Revision ID: 0012
"""

from alembic import op

revision = "0014"
down_revision = "0013"

UPGRADE = """
CREATE TABLE truth.customer_persona (
    customer_id bigint PRIMARY KEY, persona text NOT NULL, signup_date date NOT NULL,
    exploration double precision NOT NULL, browse_ratio double precision NOT NULL);
COMMENT ON TABLE truth.customer_persona IS
    'Grain: one row per customer: the persona drawn at signup (it sets the distribution of the latent '
    'traits in truth.customer_traits) and its session habits (exploration share, browsing sessions per '
    'expected order).';
CREATE TABLE truth.customer_purchase (
    customer_id bigint NOT NULL, snapshot_date date NOT NULL, horizon_days int NOT NULL,
    purchase_probability double precision NOT NULL CHECK (purchase_probability BETWEEN 0 AND 1),
    PRIMARY KEY (customer_id, snapshot_date, horizon_days));
COMMENT ON TABLE truth.customer_purchase IS
    'Grain: one row per customer x month start x horizon: true P(at least one completed order in the '
    'horizon from the snapshot date, snapshot date included), customers signed up before the snapshot.';
CREATE TABLE truth.customer_value (
    customer_id bigint NOT NULL, snapshot_date date NOT NULL, horizon_days int NOT NULL,
    expected_revenue double precision NOT NULL CHECK (expected_revenue >= 0),
    PRIMARY KEY (customer_id, snapshot_date, horizon_days));
COMMENT ON TABLE truth.customer_value IS
    'Grain: one row per customer x month start x horizon: expected revenue ($) of the customer''s '
    'completed (not cancelled) order lines in the horizon from the snapshot date, before returns '
    '(Monte Carlo of the simulator''s survival, exact order rate and order value; see ecomm.datagen.value).';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS truth.customer_value, truth.customer_purchase, truth.customer_persona;
DELETE FROM audit.truth_loads
WHERE file_name IN ('customer_persona.csv', 'customer_purchase.csv', 'customer_value.csv');
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
