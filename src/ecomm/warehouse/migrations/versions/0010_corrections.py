"""Corrected re-deliveries: audit.load_runs.rows_corrected, the rows a re-delivered batch overwrote in
place (SCD type 1, ecomm.warehouse.merge.CORRECTIONS). The marts rebuild a batch whose latest load
corrected rows (ecomm.warehouse.marts.pending_dates).

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.execute("""
        ALTER TABLE audit.load_runs ADD COLUMN rows_corrected bigint NOT NULL DEFAULT 0;
        COMMENT ON COLUMN audit.load_runs.rows_corrected IS
            'Rows of the batch loaded by an earlier run that this run overwrote with corrected values '
            '(SCD type 1); rows_by_entity has them per entity (corrected, and kept: rows the re-delivery lacks).';
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE audit.load_runs DROP COLUMN IF EXISTS rows_corrected")
