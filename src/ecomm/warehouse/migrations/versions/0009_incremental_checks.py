"""Incremental quality checks: each batch's check state in audit.load_runs, and the indexes
that let the checks touch only the batches checked.

- audit.load_runs.checks_passed / checked_at: NULL = the batch of this run was never checked (a
  crash between its commit and the checks); false = its last check failed. A re-run checks every
  batch whose latest loaded run is not `true`, so neither a crash nor a failure is hidden.
- audit.quality_checks.load_run_id: the load run whose batch a check looked at.
- dim_customer (lower(email)) and (batch_date): duplicate e-mails of a batch are index probes, not a
  scan of every customer.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0007"

UPGRADE = """
ALTER TABLE audit.load_runs
    ADD COLUMN checks_passed boolean,
    ADD COLUMN checked_at timestamptz;
COMMENT ON COLUMN audit.load_runs.checks_passed IS
    'Quality checks of this run''s batch: NULL = not checked yet, false = failed (re-checked by every '
    're-run until they pass), true = passed.';
ALTER TABLE audit.quality_checks ADD COLUMN load_run_id bigint REFERENCES audit.load_runs (run_id);
COMMENT ON COLUMN audit.quality_checks.load_run_id IS 'The load run whose batch the check looked at.';
CREATE INDEX quality_checks_run_idx ON audit.quality_checks (load_run_id);
CREATE INDEX quality_checks_batch_idx ON audit.quality_checks (batch_date);
-- the batches a run must (re)check: a few rows, whatever the history
CREATE INDEX load_runs_unchecked_idx ON audit.load_runs (batch_date)
    WHERE status = 'loaded' AND checks_passed IS NOT TRUE;

CREATE INDEX dim_customer_email_lower_idx ON warehouse.dim_customer (lower(email));
CREATE INDEX dim_customer_batch_idx ON warehouse.dim_customer (batch_date);
CREATE INDEX dim_product_batch_idx ON warehouse.dim_product (batch_date);
CREATE INDEX dim_campaign_batch_idx ON warehouse.dim_campaign (batch_date);

-- A warehouse checked before this revision: a batch with checks recorded after its latest load is
-- checked (failed if one of them failed). A batch without any is left NULL: the next run checks it.
UPDATE audit.load_runs r
SET checks_passed = NOT EXISTS (
        SELECT 1 FROM audit.quality_checks q
        WHERE q.batch_date = r.batch_date AND q.checked_at >= r.finished_at AND NOT q.passed),
    checked_at = r.finished_at
WHERE r.status = 'loaded' AND EXISTS (
    SELECT 1 FROM audit.quality_checks q WHERE q.batch_date = r.batch_date AND q.checked_at >= r.finished_at);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS warehouse.dim_campaign_batch_idx;
DROP INDEX IF EXISTS warehouse.dim_product_batch_idx;
DROP INDEX IF EXISTS warehouse.dim_customer_batch_idx;
DROP INDEX IF EXISTS warehouse.dim_customer_email_lower_idx;
ALTER TABLE audit.quality_checks DROP COLUMN IF EXISTS load_run_id;
DROP INDEX IF EXISTS audit.quality_checks_batch_idx;
ALTER TABLE audit.load_runs DROP COLUMN IF EXISTS checks_passed, DROP COLUMN IF EXISTS checked_at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
