"""`stream.replays`: the dates `ecomm stream` started and finished replaying (issue 18).

A batch loaded while its date's replay had started and not finished (a run triggered by hand in the
middle of the day) holds events the stream has not sent yet: the nightly reconciliation does not
call that a loss. Every other streamed date (replay finished, or events from another client) is
compared exactly.

Revision ID: 0024
"""

from alembic import op

revision = "0024"
down_revision = "0023"


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE stream.replays (
    business_date date PRIMARY KEY,
    events integer NOT NULL CHECK (events >= 0),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
COMMENT ON TABLE stream.replays IS 'Grain: one row per business date `ecomm stream` replayed: events '
    'is the date''s number of events, finished_at NULL while (or if) the replay has not sent them all.';
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE stream.replays;")
