"""`marts.monitored_predictions`: the predictions the daily drift run made, kept until their labels
mature (issue 19).

The realised quality on business date D scores the population of the cutoff D + 1 - horizon, the
one the drift run of D - horizon built and scored with the same version: logging those predictions
then spares rebuilding its point-in-time features now (ecomm.monitoring.prediction_log).

Revision ID: 0025
"""

from alembic import op

revision = "0025"
down_revision = "0024"


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE marts.monitored_predictions (
    model_name text NOT NULL,
    model_version integer NOT NULL,
    cutoff_date date NOT NULL,
    customer_id bigint NOT NULL,
    prediction double precision NOT NULL,
    PRIMARY KEY (model_name, model_version, cutoff_date, customer_id)
);
COMMENT ON TABLE marts.monitored_predictions IS 'Grain: one row per model name x model version x '
    'cutoff date x customer: the probability the version gave the customer in the population it '
    'would score on the cutoff (the drift run of the day before), logged for the models whose '
    'realised quality is measured (churn_model, purchase_model) and deleted once their labels have '
    'matured and the quality of that cutoff is measured. A re-run of a (model, version, cutoff) '
    'replaces its rows.';
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE marts.monitored_predictions;")
