"""Quarantined rows a later batch resolves: re-tried, loaded, and kept as history.

- quarantine.<entity>.retry: every reason of the row is a referential rule (an unknown customer,
  product, campaign or order line; an event, return or review of a quarantined order line), so a
  later load may bring what it references; each load re-tries the unresolved ones.
- resolved_at / resolved_by_run: when a later load loaded the row (with its own batch_date) and the
  load run (audit.load_runs) that did. The reconciliation counts unresolved rows only.
- Rows quarantined before this revision are marked retry by their reasons.

Revision ID: 0011
"""

from alembic import op

revision = "0011"
down_revision = "0010"

ENTITIES = (
    "customers",
    "products",
    "campaigns",
    "campaign_exposure",
    "order_items",
    "returns",
    "web_events",
    "reviews",
)

# the reasons of merge.RULES with retry=True, as they were written before this revision
REFERENTIAL_REASON = (
    r"^(customer_id: unknown customer|product_id: unknown product|campaign_id: unknown campaign"
    r"|order_id, line_no: unknown order line|review of an order line that does not exist) "
)


def _upgrade(entity: str) -> str:
    return f"""
ALTER TABLE quarantine.{entity}
    ADD COLUMN retry boolean NOT NULL DEFAULT false,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolved_by_run bigint REFERENCES audit.load_runs (run_id);
COMMENT ON COLUMN quarantine.{entity}.retry IS
    'Only referential reasons: re-tried by every later load until what it references is loaded.';
COMMENT ON COLUMN quarantine.{entity}.resolved_at IS
    'NULL = still quarantined; else when a later load loaded the row (with its own batch_date).';
COMMENT ON COLUMN quarantine.{entity}.resolved_by_run IS 'The load run that loaded the row.';
-- the rows a load re-tries: a few, whatever the history
CREATE INDEX {entity}_retry_idx ON quarantine.{entity} (batch_date, row_no)
    WHERE retry AND resolved_at IS NULL;
UPDATE quarantine.{entity} q SET retry = true WHERE NOT EXISTS (
    SELECT 1 FROM regexp_split_to_table(q.reason, '; ') r WHERE r !~ '{REFERENTIAL_REASON}');
"""


def upgrade() -> None:
    for entity in ENTITIES:
        op.execute(_upgrade(entity))


def downgrade() -> None:
    for entity in ENTITIES:
        op.execute(
            f"DROP INDEX IF EXISTS quarantine.{entity}_retry_idx; ALTER TABLE quarantine.{entity} "
            "DROP COLUMN IF EXISTS retry, DROP COLUMN IF EXISTS resolved_at, DROP COLUMN IF EXISTS resolved_by_run"
        )
