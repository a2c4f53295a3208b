"""Daily recent-inputs drift and realised model quality (issue 19).

marts.model_monitoring also holds, under the pseudo-model 'inputs' (version 0), the recent-inputs
view written by the daily model_drift task (ecomm.monitoring.recent_inputs): the grain is unchanged,
its comment says what those rows mean.

marts.model_quality: per served model version and business date D, the realised quality of the
version's predictions as of the cutoff whose label window closed on D (ecomm.monitoring.quality),
beside the planted truth's on the same customers where the truth exists.

Revision ID: 0022
"""

from alembic import op

revision = "0022"
down_revision = "0021"

UPGRADE = """
COMMENT ON TABLE marts.model_monitoring IS
    'Grain: one row per model name x model version x business date x monitored feature (feature '
    '''__prediction__'' = the model''s prediction): the population scored as of that date compared '
    'with the training reference stored with the version - PSI over the reference''s bins, the KS '
    'statistic (numeric, prediction) or the chi-squared p-value (categorical), drifted by '
    'ECOMM_DRIFT_PSI_THRESHOLD and ECOMM_DRIFT_ALPHA. Model name ''inputs'', version 0: the '
    'recent-inputs view (the last 7 days of new customers, lateness and category price index against '
    'the 90 days before them; chi2_p_value holds the test''s p-value, KS for numeric inputs), drifted by '
    'ECOMM_DRIFT_ALPHA and ECOMM_DRIFT_MIN_PSI. A re-run of a (model, version, date) replaces its rows.';

CREATE TABLE marts.model_quality (
    model_name text NOT NULL,
    model_version integer NOT NULL,
    business_date date NOT NULL,
    metric text NOT NULL,
    cutoff_date date NOT NULL,
    horizon_days integer NOT NULL CHECK (horizon_days > 0),
    value double precision NOT NULL,
    truth_value double precision,
    rows integer NOT NULL CHECK (rows > 0),
    positives integer NOT NULL CHECK (positives BETWEEN 0 AND rows),
    held_out boolean,
    computed_at timestamptz NOT NULL DEFAULT now(),
    CHECK (cutoff_date + horizon_days = business_date + 1),
    PRIMARY KEY (model_name, model_version, business_date, metric));
COMMENT ON TABLE marts.model_quality IS
    'Grain: one row per model name x model version x business date x metric: the realised quality '
    '(metric, e.g. roc_auc) of the version''s predictions as of cutoff_date, whose horizon_days label '
    'window closed on business_date (the labels observed in the warehouse), over `rows` customers of '
    'whom `positives` had the label; truth_value = the planted truth''s probabilities scored the same '
    'way on the same customers (NULL where the truth has no such cutoff: month starts only; imported '
    'data none); held_out = cutoff_date is after the version''s evaluation cutoff (before it the '
    'version learnt from or was chosen on those labels; NULL: unknown). Written daily by the '
    'model_drift task (ecomm.monitoring.quality); a re-run of a (model, version, date) replaces its rows.';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS marts.model_quality;
COMMENT ON TABLE marts.model_monitoring IS
    'Grain: one row per model name x model version x business date x monitored feature (feature '
    '''__prediction__'' = the model''s prediction): the population scored as of that date compared '
    'with the training reference stored with the version - PSI over the reference''s bins, the KS '
    'statistic (numeric, prediction) or the chi-squared p-value (categorical), and drifted = PSI above '
    'ECOMM_DRIFT_PSI_THRESHOLD. A re-run of a (model, version, date) replaces its rows.';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
