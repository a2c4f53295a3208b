"""Planted drift and drift monitoring (issue 19).

truth.regime_change: the regime changes the generator planted (kind, dates, magnitude), loaded from
OUT/truth/regime_change.csv like the other truth tables (a world without drift has no file, and
loading it empties the table).

marts.model_monitoring: written daily by ecomm.monitoring.models for each served model version
against the training reference stored with that version; read by /metrics (ecomm_model_drift_flag)
and the dashboard. A re-run for a (model, version, date) replaces its rows.

Revision ID: 0021
"""

from alembic import op

revision = "0021"
down_revision = "0020"

UPGRADE = """
CREATE TABLE truth.regime_change (
    regime_id bigint PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('young_deal_channel', 'category_price_rise', 'delivery_delay')),
    start_date date NOT NULL, end_date date, magnitude double precision NOT NULL,
    category text, description text NOT NULL,
    CHECK (end_date IS NULL OR end_date >= start_date));
COMMENT ON TABLE truth.regime_change IS
    'Grain: one row per regime change (planted drift) of the simulated shop: what changed (kind), from '
    'start_date to end_date (NULL = for good), by how much (magnitude, meaning per kind in description) '
    'and, for a price rise, in which category. See ecomm.datagen.regimes.';

CREATE TABLE marts.model_monitoring (
    model_name text NOT NULL,
    model_version integer NOT NULL,
    business_date date NOT NULL,
    feature text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('numeric', 'categorical', 'prediction')),
    psi double precision NOT NULL CHECK (psi >= 0),
    ks_statistic double precision CHECK (ks_statistic BETWEEN 0 AND 1),
    chi2_p_value double precision CHECK (chi2_p_value BETWEEN 0 AND 1),
    drifted boolean NOT NULL,
    reference_rows integer NOT NULL,
    current_rows integer NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, model_version, business_date, feature));
COMMENT ON TABLE marts.model_monitoring IS
    'Grain: one row per model name x model version x business date x monitored feature (feature '
    '''__prediction__'' = the model''s prediction): the population scored as of that date compared '
    'with the training reference stored with the version - PSI over the reference''s bins, the KS '
    'statistic (numeric, prediction) or the chi-squared p-value (categorical), and drifted = PSI above '
    'ECOMM_DRIFT_PSI_THRESHOLD. A re-run of a (model, version, date) replaces its rows.';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS marts.model_monitoring;
DROP TABLE IF EXISTS truth.regime_change;
DELETE FROM audit.truth_loads WHERE file_name = 'regime_change.csv';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
