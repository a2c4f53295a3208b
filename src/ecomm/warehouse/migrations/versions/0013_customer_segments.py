"""marts.customer_segments and marts.segment_profiles: the segment champion's assignment of the
customers at every month start (`ecomm train segments`).

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0011"

CUSTOMER_SEGMENTS = """
CREATE TABLE marts.segment_profiles (
    model_version  text NOT NULL,
    segment_id     integer NOT NULL CHECK (segment_id >= 0),
    segment_name   text NOT NULL,
    training_size  integer NOT NULL CHECK (training_size > 0),
    training_share double precision NOT NULL CHECK (training_share > 0 AND training_share <= 1),
    profile        jsonb NOT NULL,
    PRIMARY KEY (model_version, segment_id)
);
COMMENT ON TABLE marts.segment_profiles IS
    'Grain: one row per segment of the segment_model version that assigned marts.customer_segments: '
    'its name and profile (the most distinctive features of its centroid: z-score, segment and overall '
    'means), derived from the centroid at training.';
CREATE TABLE marts.customer_segments (
    customer_id    bigint NOT NULL REFERENCES warehouse.dim_customer (customer_id),
    as_of_date     date NOT NULL,
    segment_id     integer NOT NULL,
    model_name     text NOT NULL,
    model_version  text NOT NULL,
    model_source   text NOT NULL,
    assigned_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, as_of_date),
    FOREIGN KEY (model_version, segment_id) REFERENCES marts.segment_profiles (model_version, segment_id)
);
CREATE INDEX customer_segments_as_of ON marts.customer_segments (as_of_date, segment_id);
COMMENT ON TABLE marts.customer_segments IS
    'Grain: one row per customer x as-of month start: the segment the segment_model champion '
    '(model_version, its files: model_source) assigns from the features before as_of_date (customers '
    'signed up with an order or a web session before it); replaced whole by `ecomm train segments`.';
"""


def upgrade() -> None:
    op.execute(CUSTOMER_SEGMENTS)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS marts.customer_segments")
    op.execute("DROP TABLE IF EXISTS marts.segment_profiles")
