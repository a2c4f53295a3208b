"""`stream.replays`: the dates `ecomm stream` finished replaying (issue 18).

The nightly reconciliation compares a streamed date with its batch exactly only when the replay of
that date finished; a batch loaded while its date was still streaming (a run triggered by hand in
the middle of the day) holds events the stream has not sent yet, and is not a loss.

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
    finished_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream.replays IS 'Grain: one row per business date whose replay by `ecomm stream` '
    'sent every event of the date (events: how many).';
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE stream.replays;")
