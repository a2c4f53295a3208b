"""marts.causal_estimates: the latest `ecomm causal report`, every estimate beside the planted truth.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"

CAUSAL_ESTIMATES = """
CREATE TABLE marts.causal_estimates (
    campaign_id     bigint NOT NULL REFERENCES warehouse.dim_campaign (campaign_id),
    campaign        text NOT NULL,
    method          text NOT NULL,
    estimand        text NOT NULL CHECK (estimand IN ('ATE', 'ATT', 'CATE')),
    segment         text NOT NULL,
    outcome         text NOT NULL,
    estimate        double precision NOT NULL,
    ci_low          double precision NOT NULL,
    ci_high         double precision NOT NULL,
    std_error       double precision,
    n_treated       bigint NOT NULL,
    n_control       bigint NOT NULL,
    true_effect     double precision,
    error           double precision,
    relative_error  double precision,
    covers_truth    boolean,
    computed_at     timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, method, estimand, segment),
    CHECK (ci_low <= ci_high)
);
COMMENT ON TABLE marts.causal_estimates IS
    'Grain: one row per campaign x estimation method x estimand x segment, from the latest '
    '`ecomm causal report` (replaced whole on each run); true_effect from truth.campaign_effect.';
"""


def upgrade() -> None:
    op.execute(CAUSAL_ESTIMATES)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS marts.causal_estimates")
