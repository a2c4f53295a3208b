"""What lets the one live-KPI producer fold in only what is new each tick (issue 18), instead of
re-aggregating the whole day every tick.

- `txid` on each stream table: the id of the transaction that stored the row (indexed). A row is new
  to the producer when its transaction is not visible in the snapshot of the producer's last tick
  (`pg_visible_in_snapshot`), which is right even when writers commit out of order; neither
  `received_at` (the writer's transaction start) nor a sequence is monotone in commit order.
- `stream.live_resets`: one counter, bumped (in the same transaction) by every statement that updates,
  deletes or truncates stream rows (the nightly prune, a hand fix). Increments cannot take rows away;
  the producer recounts from scratch when it sees the counter move.

Revision ID: 0023
"""

from alembic import op

from ecomm.stream.tables import STREAM_ENTITIES

revision = "0023"
down_revision = "0022"

RESETS = """
CREATE TABLE stream.live_resets (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    resets bigint NOT NULL DEFAULT 0
);
INSERT INTO stream.live_resets DEFAULT VALUES;
COMMENT ON TABLE stream.live_resets IS 'Grain: one row. resets counts the statements that updated, deleted '
    'or truncated stream rows; the live KPIs recount from scratch when it moves.';
CREATE FUNCTION stream.count_live_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stream.live_resets SET resets = resets + 1;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(RESETS)
    for name in STREAM_ENTITIES:
        op.execute(
            f"ALTER TABLE stream.{name} ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();\n"
            f"CREATE INDEX ON stream.{name} (txid);\n"
            f"COMMENT ON COLUMN stream.{name}.txid IS 'The transaction that stored the row: what the live "
            "KPIs fold in incrementally.';\n"
            f"CREATE TRIGGER live_reset AFTER UPDATE OR DELETE OR TRUNCATE ON stream.{name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION stream.count_live_reset();"
        )


def downgrade() -> None:
    for name in STREAM_ENTITIES:
        op.execute(f"DROP TRIGGER live_reset ON stream.{name}; ALTER TABLE stream.{name} DROP COLUMN txid;")
    op.execute("DROP FUNCTION stream.count_live_reset(); DROP TABLE stream.live_resets;")
