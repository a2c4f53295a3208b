-- Star schema (docs/architecture.md#databases-and-schemas). Natural ids from the shop are the keys (they are stable integers).
-- Every table states its grain in a COMMENT, which \d+ and the dashboard show.

CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS warehouse;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS truth;

-- ---------------------------------------------------------------- dimensions
CREATE TABLE warehouse.dim_date (
    date_day      date PRIMARY KEY,
    year          smallint NOT NULL,
    quarter       smallint NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    month         smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    month_name    text NOT NULL,
    day_of_month  smallint NOT NULL,
    iso_year      smallint NOT NULL,
    iso_week      smallint NOT NULL CHECK (iso_week BETWEEN 1 AND 53),
    iso_weekday   smallint NOT NULL CHECK (iso_weekday BETWEEN 1 AND 7),
    day_name      text NOT NULL,
    is_weekend    boolean NOT NULL,
    holiday_name  text,
    is_holiday    boolean NOT NULL GENERATED ALWAYS AS (holiday_name IS NOT NULL) STORED
);
COMMENT ON TABLE warehouse.dim_date IS 'Grain: one row per calendar day. Holidays are the shop''s home market (US).';

CREATE TABLE warehouse.dim_customer (
    customer_id          bigint PRIMARY KEY,
    first_name           text NOT NULL,
    last_name            text NOT NULL,
    email                text NOT NULL,
    age                  smallint NOT NULL CHECK (age BETWEEN 16 AND 110),
    gender               text,
    country              text NOT NULL,
    city                 text NOT NULL,
    acquisition_channel  text NOT NULL,
    signup_date          date NOT NULL REFERENCES warehouse.dim_date (date_day),
    batch_date           date NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE warehouse.dim_customer IS 'Grain: one row per customer (type-1: attributes as last loaded).';
CREATE INDEX dim_customer_country_idx ON warehouse.dim_customer (country);
CREATE INDEX dim_customer_signup_idx ON warehouse.dim_customer (signup_date);

CREATE TABLE warehouse.dim_product (
    product_id    bigint PRIMARY KEY,
    product_name  text NOT NULL,
    category      text NOT NULL,
    subcategory   text NOT NULL,
    brand         text NOT NULL,
    list_price    numeric(12, 2) NOT NULL CHECK (list_price > 0),
    unit_cost     numeric(12, 2) NOT NULL CHECK (unit_cost >= 0),
    launch_date   date NOT NULL REFERENCES warehouse.dim_date (date_day),
    batch_date    date NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE warehouse.dim_product IS 'Grain: one row per product.';
CREATE INDEX dim_product_category_idx ON warehouse.dim_product (category);

CREATE TABLE warehouse.dim_campaign (
    campaign_id       bigint PRIMARY KEY,
    campaign_name     text NOT NULL UNIQUE,
    channel           text NOT NULL,
    campaign_type     text NOT NULL CHECK (campaign_type IN ('targeted', 'regional', 'sitewide')),
    offer             text NOT NULL,
    discount_pct      numeric(5, 2) NOT NULL CHECK (discount_pct BETWEEN 0 AND 100),
    target_countries  text[],
    start_date        date NOT NULL REFERENCES warehouse.dim_date (date_day),
    end_date          date NOT NULL REFERENCES warehouse.dim_date (date_day),
    batch_date        date NOT NULL,
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date >= start_date)
);
COMMENT ON TABLE warehouse.dim_campaign IS 'Grain: one row per marketing campaign.';

-- ---------------------------------------------------------------- facts
CREATE TABLE warehouse.fact_order_items (
    order_id       bigint NOT NULL,
    line_no        smallint NOT NULL CHECK (line_no >= 1),
    order_ts       timestamp NOT NULL,
    order_date     date NOT NULL REFERENCES warehouse.dim_date (date_day),
    customer_id    bigint NOT NULL REFERENCES warehouse.dim_customer (customer_id),
    product_id     bigint NOT NULL REFERENCES warehouse.dim_product (product_id),
    campaign_id    bigint REFERENCES warehouse.dim_campaign (campaign_id),
    quantity       integer NOT NULL CHECK (quantity > 0),
    unit_price     numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    discount       numeric(12, 2) NOT NULL CHECK (discount >= 0),
    revenue        numeric(14, 2) NOT NULL,
    cost           numeric(14, 2) NOT NULL CHECK (cost >= 0),
    status         text NOT NULL CHECK (status IN ('completed', 'returned', 'cancelled')),
    delivery_days  smallint CHECK (delivery_days >= 0),
    return_date    date,
    return_reason  text,
    batch_date     date NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CHECK (revenue = quantity * unit_price - discount),
    CHECK (discount <= quantity * unit_price),
    CHECK ((status = 'returned') = (return_date IS NOT NULL)),
    CHECK (return_date > order_date)
);
COMMENT ON TABLE warehouse.fact_order_items IS
    'Grain: one row per order line. revenue = quantity * unit_price - discount; cost = quantity * unit cost. '
    'status starts completed or cancelled and becomes returned when a return row arrives.';
CREATE INDEX fact_order_items_customer_idx ON warehouse.fact_order_items (customer_id, order_date);
CREATE INDEX fact_order_items_product_idx ON warehouse.fact_order_items (product_id);
CREATE INDEX fact_order_items_date_idx ON warehouse.fact_order_items (order_date);
CREATE INDEX fact_order_items_batch_idx ON warehouse.fact_order_items (batch_date);
CREATE INDEX fact_order_items_returned_idx ON warehouse.fact_order_items (return_date)
    WHERE status = 'returned';

CREATE TABLE warehouse.fact_web_events (
    event_id     bigint PRIMARY KEY,
    session_id   bigint NOT NULL,
    customer_id  bigint NOT NULL REFERENCES warehouse.dim_customer (customer_id),
    product_id   bigint REFERENCES warehouse.dim_product (product_id),
    event_type   text NOT NULL CHECK (event_type IN ('view', 'add_to_cart', 'purchase')),
    event_ts     timestamp NOT NULL,
    event_date   date NOT NULL REFERENCES warehouse.dim_date (date_day),
    batch_date   date NOT NULL
);
COMMENT ON TABLE warehouse.fact_web_events IS 'Grain: one row per web event (view, add_to_cart, purchase).';
CREATE INDEX fact_web_events_customer_idx ON warehouse.fact_web_events (customer_id, event_ts);
CREATE INDEX fact_web_events_batch_idx ON warehouse.fact_web_events (batch_date);

CREATE TABLE warehouse.fact_reviews (
    review_id    bigint PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES warehouse.dim_customer (customer_id),
    product_id   bigint NOT NULL REFERENCES warehouse.dim_product (product_id),
    order_id     bigint NOT NULL,
    rating       smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    review_date  date NOT NULL REFERENCES warehouse.dim_date (date_day),
    batch_date   date NOT NULL
);
COMMENT ON TABLE warehouse.fact_reviews IS 'Grain: one row per product review (1-5 stars) of a purchased order line.';
CREATE INDEX fact_reviews_customer_idx ON warehouse.fact_reviews (customer_id, review_date);
CREATE INDEX fact_reviews_product_idx ON warehouse.fact_reviews (product_id);
CREATE INDEX fact_reviews_batch_idx ON warehouse.fact_reviews (batch_date);

CREATE TABLE warehouse.fact_campaign_exposure (
    customer_id    bigint NOT NULL REFERENCES warehouse.dim_customer (customer_id),
    campaign_id    bigint NOT NULL REFERENCES warehouse.dim_campaign (campaign_id),
    treated        boolean NOT NULL,
    exposure_date  date NOT NULL REFERENCES warehouse.dim_date (date_day),
    batch_date     date NOT NULL,
    PRIMARY KEY (customer_id, campaign_id)
);
COMMENT ON TABLE warehouse.fact_campaign_exposure IS
    'Grain: one row per eligible customer x campaign; treated = exposed, false = eligible control.';
CREATE INDEX fact_campaign_exposure_campaign_idx ON warehouse.fact_campaign_exposure (campaign_id, treated);
CREATE INDEX fact_campaign_exposure_batch_idx ON warehouse.fact_campaign_exposure (batch_date);

-- ---------------------------------------------------------------- audit
CREATE TABLE audit.load_runs (
    run_id             bigserial PRIMARY KEY,
    batch_date         date NOT NULL,
    source_dir         text NOT NULL,
    status             text NOT NULL CHECK (status IN ('loaded', 'rejected', 'failed')),
    rows_read          bigint NOT NULL DEFAULT 0,
    rows_loaded        bigint NOT NULL DEFAULT 0,
    rows_quarantined   bigint NOT NULL DEFAULT 0,
    rows_unchanged     bigint NOT NULL DEFAULT 0,
    rows_by_entity     jsonb NOT NULL DEFAULT '{}'::jsonb,
    message            text,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_s         double precision GENERATED ALWAYS AS
                           (extract(epoch FROM finished_at - started_at)) STORED
);
COMMENT ON TABLE audit.load_runs IS 'Grain: one row per attempt to load one batch (business date).';
CREATE INDEX load_runs_batch_idx ON audit.load_runs (batch_date, status);

CREATE TABLE audit.quality_checks (
    check_id     bigserial PRIMARY KEY,
    checked_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    batch_date   date,
    check_name   text NOT NULL,
    passed       boolean NOT NULL,
    observed     numeric,
    details      text
);
COMMENT ON TABLE audit.quality_checks IS 'Grain: one row per data-quality check run (after each load).';
CREATE INDEX quality_checks_name_idx ON audit.quality_checks (check_name, checked_at);

CREATE TABLE audit.truth_loads (
    file_name    text PRIMARY KEY,
    sha256       text NOT NULL,
    rows_loaded  bigint NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.truth_loads IS 'Grain: one row per ground-truth file, with the checksum last loaded.';
