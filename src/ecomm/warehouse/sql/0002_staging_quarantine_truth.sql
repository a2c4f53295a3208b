-- Staging: typed copies of one raw batch, filled by COPY and emptied by the merge (UNLOGGED: they
-- are rebuilt from the raw files on any re-run, so WAL would be wasted work).
CREATE UNLOGGED TABLE staging.customers (
    row_no int NOT NULL, batch_date date NOT NULL,
    customer_id bigint, first_name text, last_name text, email text, age smallint, gender text,
    country text, city text, acquisition_channel text, signup_date date);
CREATE UNLOGGED TABLE staging.products (
    row_no int NOT NULL, batch_date date NOT NULL,
    product_id bigint, product_name text, category text, subcategory text, brand text,
    list_price numeric(12, 2), unit_cost numeric(12, 2), launch_date date);
CREATE UNLOGGED TABLE staging.campaigns (
    row_no int NOT NULL, batch_date date NOT NULL,
    campaign_id bigint, campaign_name text, channel text, campaign_type text, offer text,
    discount_pct numeric(5, 2), target_countries text, start_date date, end_date date);
CREATE UNLOGGED TABLE staging.campaign_exposure (
    row_no int NOT NULL, batch_date date NOT NULL,
    customer_id bigint, campaign_id bigint, treated boolean, exposure_date date);
CREATE UNLOGGED TABLE staging.order_items (
    row_no int NOT NULL, batch_date date NOT NULL,
    order_id bigint, line_no smallint, order_ts timestamp, customer_id bigint, product_id bigint,
    campaign_id bigint, quantity integer, unit_price numeric(12, 2), discount numeric(12, 2),
    revenue numeric(14, 2), unit_cost numeric(12, 2), status text, delivery_days smallint);
CREATE UNLOGGED TABLE staging.returns (
    row_no int NOT NULL, batch_date date NOT NULL,
    order_id bigint, line_no smallint, return_date date, reason text);
CREATE UNLOGGED TABLE staging.web_events (
    row_no int NOT NULL, batch_date date NOT NULL,
    event_id bigint, session_id bigint, customer_id bigint, product_id bigint, event_type text,
    event_ts timestamp);
CREATE UNLOGGED TABLE staging.reviews (
    row_no int NOT NULL, batch_date date NOT NULL,
    review_id bigint, customer_id bigint, product_id bigint, order_id bigint, rating smallint,
    review_date date);

-- Quarantine: rows that failed validation, kept verbatim (as text) with the reason, per entity.
DO $$
DECLARE entity text;
BEGIN
    FOREACH entity IN ARRAY ARRAY['customers', 'products', 'campaigns', 'campaign_exposure',
                                  'order_items', 'returns', 'web_events', 'reviews'] LOOP
        EXECUTE format(
            'CREATE TABLE quarantine.%I (
                 batch_date     date NOT NULL,
                 row_no         int NOT NULL,
                 record         jsonb NOT NULL,
                 reason         text NOT NULL,
                 quarantined_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (batch_date, row_no))', entity);
        EXECUTE format(
            'COMMENT ON TABLE quarantine.%I IS %L', entity,
            'Grain: one row per rejected raw row of the ' || entity
            || ' file of a batch (row_no = line in the file, header = line 1).');
    END LOOP;
END $$;

-- Ground truth planted by the generator: read by evaluation code and tests only, never by features.
CREATE TABLE truth.customer_traits (
    customer_id bigint PRIMARY KEY, activity_rate double precision, price_sensitivity double precision,
    churn_frailty double precision, campaign_responsiveness double precision, churned_on date);
COMMENT ON TABLE truth.customer_traits IS 'Grain: one row per customer: latent traits and true churn date.';
CREATE TABLE truth.customer_churn (
    customer_id bigint NOT NULL, snapshot_date date NOT NULL, horizon_days int NOT NULL,
    churn_probability double precision NOT NULL CHECK (churn_probability BETWEEN 0 AND 1),
    PRIMARY KEY (customer_id, snapshot_date, horizon_days));
COMMENT ON TABLE truth.customer_churn IS
    'Grain: one row per customer x snapshot date x horizon: true P(no completed order in the horizon).';
CREATE TABLE truth.customer_preference (
    customer_id bigint NOT NULL, product_id bigint NOT NULL, true_score double precision NOT NULL,
    true_rank int NOT NULL, PRIMARY KEY (customer_id, product_id));
COMMENT ON TABLE truth.customer_preference IS 'Grain: one row per customer x product in the true consideration set.';
CREATE TABLE truth.campaign_effect (
    campaign_id bigint NOT NULL, estimand text NOT NULL, segment text NOT NULL, outcome text NOT NULL,
    window_days int, n_customers bigint, true_effect double precision NOT NULL,
    PRIMARY KEY (campaign_id, estimand, segment, outcome));
COMMENT ON TABLE truth.campaign_effect IS 'Grain: one row per campaign x estimand x segment x outcome.';
