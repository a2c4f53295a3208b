-- What a completed order is, in one place: an order with at least one line neither cancelled nor
-- returned, as known before `as_of` (a return dated on or after it has not happened yet). Customers
-- with one are the churn population (ecomm.features, so the batch scores and the API's 422) and the
-- RFM mart's buyers; a customer whose every order was returned or cancelled is "no purchase yet".
-- Plain SQL expressions, so the planner inlines them into the queries that call them.
CREATE OR REPLACE FUNCTION warehouse.is_completed_line(status text, return_date date, as_of date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT status <> 'cancelled' AND (return_date IS NULL OR return_date >= as_of) $$;
COMMENT ON FUNCTION warehouse.is_completed_line(text, date, date) IS
    'A line of a completed order as known before as_of: not cancelled, not returned before as_of.';

CREATE OR REPLACE FUNCTION warehouse.is_completed_line(status text, return_date date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT warehouse.is_completed_line(status, return_date, 'infinity'::date) $$;
COMMENT ON FUNCTION warehouse.is_completed_line(text, date) IS
    'A line of a completed order as the warehouse knows it now (status = ''completed'').';
