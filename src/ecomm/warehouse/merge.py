"""Set-based SQL from staging into the star schema: referential rules, then merges.

Staging holds every business date of a load (one date for a daily run, a whole range for a bulk
load), each row tagged with its `batch_date`. Each entity has rules (a condition on staging row `s`
that makes it bad, and the reason) and one merge statement. The rules are range-aware: a row of date
d may reference a row the warehouse held before the load, or a good row staged for a date <= d (so a
range gives the same outcome as its dates loaded one by one). Merges are `ON CONFLICT DO NOTHING`
inserts (or a guarded update for returns), so re-running a batch changes nothing.

A re-delivered date (one loaded before) is corrected first, as a slowly changing dimension of type 1
(CORRECTIONS): each warehouse row that date loaded is overwritten in place with the re-delivery's
values where they differ, before the insert (whose conflicts then skip it). A key another date loaded
is never overwritten: it stays a conflict (CONFLICT_RULES). Corrections are an UPDATE before the
insert rather than `ON CONFLICT DO UPDATE`, which fails a whole range whose two dates stage one key
("cannot affect row a second time", even when its WHERE would skip the row).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    condition: str | tuple[str, ...]  # a tuple: alternatives, each its own query (no OR of subplans)
    reason: str  # SQL text expression
    # referential: the row names something a later batch may bring (a customer, an order line), so
    # a row quarantined only by such rules is re-tried by later loads (load.py, retry_quarantined)
    retry: bool = False

    @property
    def alternatives(self) -> tuple[str, ...]:
        return (self.condition,) if isinstance(self.condition, str) else self.condition


def _unknown(column: str, table: str, staged: str, nullable: bool = False) -> Rule:
    """`column` names a row of warehouse.`table` held before this load, or one staged in
    staging.`staged` for this row's date or an earlier one."""
    cond = (
        f"NOT EXISTS (SELECT 1 FROM warehouse.{table} d WHERE d.{column} = s.{column}) AND NOT EXISTS "
        f"(SELECT 1 FROM staging.{staged} d WHERE d.{column} = s.{column} AND d.batch_date <= s.batch_date)"
    )
    if nullable:
        cond = f"s.{column} IS NOT NULL AND {cond}"
    return Rule(cond, f"'{column}: unknown {column.removesuffix('_id')} ' || s.{column}", retry=True)


def _off_calendar(expression: str, what: str) -> Rule:
    """A date the warehouse calendar (dim_date) does not hold: the FK to dim_date would fail."""
    return Rule(
        f"NOT EXISTS (SELECT 1 FROM warehouse.dim_date d WHERE d.date_day = {expression})",
        f"'{what}: ' || {expression} || ' is outside the warehouse calendar'",
    )


def _loaded_elsewhere(table: str, key: tuple[str, ...]) -> Rule:
    """Checked after the merge: the warehouse row of this key came from another date (loaded before,
    or an earlier date of the same range: staging is inserted in date order)."""
    match = " AND ".join(f"w.{k} = s.{k}" for k in key)
    return Rule(
        f"EXISTS (SELECT 1 FROM warehouse.{table} w WHERE {match} AND w.batch_date <> s.batch_date)",
        f"'duplicate key ({', '.join(key)}): already loaded by batch ' || "
        f"(SELECT w.batch_date FROM warehouse.{table} w WHERE {match} LIMIT 1)",
    )


def duplicate_in_file(entity: str, key: tuple[str, ...], dates: list) -> Rule:
    """For a file read in parts (prepare.PART_BYTES): a key two of its rows share, found across the
    parts (validation sees one part at a time)."""
    match = " AND ".join(f"o.{k} = s.{k}" for k in key)
    listed = ", ".join(f"'{d.isoformat()}'::date" for d in dates)
    return Rule(
        f"s.batch_date IN ({listed}) AND EXISTS (SELECT 1 FROM staging.{entity} o WHERE {match} "
        "AND o.batch_date = s.batch_date AND o.row_no <> s.row_no)",
        f"'duplicate key ({', '.join(key)}) within the file'",
    )


def _order_line(extra: str = "") -> tuple[str, str]:
    """The order line a return names: in the warehouse, or staged for an earlier or the same date."""
    return (
        "SELECT 1 FROM warehouse.fact_order_items f WHERE f.order_id = s.order_id AND f.line_no = s.line_no"
        + (f" AND {extra.format(t='f', date='f.order_date')}" if extra else ""),
        "SELECT 1 FROM staging.order_items o WHERE o.order_id = s.order_id AND o.line_no = s.line_no "
        "AND o.batch_date <= s.batch_date"
        + (f" AND {extra.format(t='o', date='o.order_ts::date')}" if extra else ""),
    )


def _order_line_is(extra: str, reason: str) -> Rule:
    held, staged = _order_line(extra)
    return Rule((f"EXISTS ({held})", f"EXISTS ({staged})"), reason)


_HELD, _STAGED = _order_line()


def _quarantined_line(match: str) -> str:
    """'order_id/line_no' of the first unresolved quarantined order line matching `match` (a condition
    on the quarantined record `q.record`, its raw or staged values as text), NULL when none."""
    return (
        "(SELECT (q.record->>'order_id') || '/' || (q.record->>'line_no') FROM quarantine.order_items q "
        f"WHERE q.resolved_at IS NULL AND {match} ORDER BY q.batch_date, q.row_no LIMIT 1)"
    )


# The order line of a purchase event (as the orphan_purchase_events check matches it): same customer,
# order date = event date, same product or an event without one. Events and lines of a date are in
# its batch, so a quarantined line is looked up by the event's batch_date (the primary key).
_PURCHASED = "{t}.customer_id = s.customer_id AND (s.product_id IS NULL OR {t}.product_id = s.product_id)"
_QUARANTINED_PURCHASED_LINE = _quarantined_line(
    "q.batch_date = s.batch_date AND q.record->>'customer_id' = s.customer_id::text "
    "AND left(q.record->>'order_ts', 10) = s.event_ts::date::text "
    "AND (s.product_id IS NULL OR q.record->>'product_id' = s.product_id::text)"
)
_QUARANTINED_RETURNED_LINE = _quarantined_line(
    "q.record->>'order_id' = s.order_id::text AND q.record->>'line_no' = s.line_no::text"
)
_QUARANTINED_REVIEWED_LINE = _quarantined_line(
    "q.record->>'order_id' = s.order_id::text AND q.record->>'customer_id' = s.customer_id::text "
    "AND q.record->>'product_id' = s.product_id::text"
)

# Rules checked before the merge: every relationship a foreign key declares, set-based, so the
# merge may skip the row-by-row FK triggers (see load.py), plus rules no constraint can express.
RULES: dict[str, list[Rule]] = {
    "customers": [_off_calendar("s.signup_date", "signup_date")],
    "products": [_off_calendar("s.launch_date", "launch_date")],
    "campaigns": [
        _off_calendar("s.start_date", "start_date"),
        _off_calendar("s.end_date", "end_date"),
        # campaign_name is UNIQUE: a name another campaign holds (a corrected one too) would fail the range
        Rule(
            (
                "EXISTS (SELECT 1 FROM warehouse.dim_campaign d WHERE d.campaign_name = s.campaign_name "
                "AND d.campaign_id <> s.campaign_id)",
                "EXISTS (SELECT 1 FROM staging.campaigns d WHERE d.campaign_name = s.campaign_name "
                "AND d.campaign_id <> s.campaign_id AND d.batch_date <= s.batch_date)",
            ),
            "'campaign_name: ' || s.campaign_name || ' is the name of another campaign'",
        ),
    ],
    "campaign_exposure": [
        _unknown("customer_id", "dim_customer", "customers"),
        _unknown("campaign_id", "dim_campaign", "campaigns"),
        _off_calendar("s.exposure_date", "exposure_date"),
    ],
    "order_items": [
        _unknown("customer_id", "dim_customer", "customers"),
        _unknown("product_id", "dim_product", "products"),
        _unknown("campaign_id", "dim_campaign", "campaigns", nullable=True),
        _off_calendar("s.order_ts::date", "order_ts"),
    ],
    "returns": [
        Rule(
            f"NOT EXISTS ({_HELD}) AND NOT EXISTS ({_STAGED})",
            f"coalesce('order_id, line_no: return of quarantined order line ' || {_QUARANTINED_RETURNED_LINE}, "
            "'order_id, line_no: unknown order line ' || s.order_id || '/' || s.line_no)",
            retry=True,
        ),
        _order_line_is("{t}.status = 'cancelled'", "'order line was cancelled, it cannot be returned'"),
        _order_line_is("{date} >= s.return_date", "'return_date: not after the order date'"),
        Rule(
            (
                "EXISTS (SELECT 1 FROM warehouse.fact_order_items f WHERE f.order_id = s.order_id "
                "AND f.line_no = s.line_no AND f.return_date <> s.return_date)",
                "EXISTS (SELECT 1 FROM staging.returns r WHERE r.order_id = s.order_id "
                "AND r.line_no = s.line_no AND r.batch_date < s.batch_date)",
            ),
            "'order line already returned on another date'",
        ),
    ],
    "web_events": [
        _unknown("customer_id", "dim_customer", "customers"),
        _unknown("product_id", "dim_product", "products", nullable=True),
        _off_calendar("s.event_ts::date", "event_ts"),
        # its order line was quarantined (by validation or a rule): the event goes with it, instead
        # of loading as an orphan that fails the orphan_purchase_events check
        Rule(
            "s.event_type = 'purchase' AND NOT EXISTS (SELECT 1 FROM warehouse.fact_order_items f "
            f"WHERE {_PURCHASED.format(t='f')} AND f.order_date = s.event_ts::date) "
            f"AND NOT EXISTS (SELECT 1 FROM staging.order_items o WHERE {_PURCHASED.format(t='o')} "
            "AND o.order_ts::date = s.event_ts::date AND o.batch_date <= s.batch_date) "
            f"AND {_QUARANTINED_PURCHASED_LINE} IS NOT NULL",
            f"'purchase event of quarantined order line ' || {_QUARANTINED_PURCHASED_LINE}",
            retry=True,
        ),
    ],
    "reviews": [
        _unknown("customer_id", "dim_customer", "customers"),
        _unknown("product_id", "dim_product", "products"),
        _off_calendar("s.review_date", "review_date"),
        Rule(
            # a review without an order (an imported rating log) refers to no order line
            "s.order_id IS NOT NULL AND "
            "NOT EXISTS (SELECT 1 FROM warehouse.fact_order_items f WHERE f.order_id = s.order_id "
            "AND f.customer_id = s.customer_id AND f.product_id = s.product_id "
            "AND f.order_date <= s.review_date) AND NOT EXISTS (SELECT 1 FROM staging.order_items o "
            "WHERE o.order_id = s.order_id AND o.customer_id = s.customer_id "
            "AND o.product_id = s.product_id AND o.order_ts::date <= s.review_date "
            "AND o.batch_date <= s.batch_date)",
            f"coalesce('review of quarantined order line ' || {_QUARANTINED_REVIEWED_LINE}, "
            "'review of an order line that does not exist (order, customer, product) before the review')",
            retry=True,
        ),
    ],
}


def _arrives_later(column: str, table: str) -> Rule:
    """`column` names a row a later batch than this row's brought: the row stays quarantined."""
    return Rule(
        f"EXISTS (SELECT 1 FROM warehouse.{table} d WHERE d.{column} = s.{column} AND d.batch_date > s.batch_date)",
        f"'{column}: {column.removesuffix('_id')} ' || s.{column} || ' arrives in a later batch'",
    )


# Checked first when quarantined rows are re-tried (load.retry_quarantined): a row of date d is
# resolved by what a batch of a date <= d brought, never by a later date's row (as in a range).
RETRY_RULES: dict[str, list[Rule]] = {
    "campaign_exposure": [
        _arrives_later("customer_id", "dim_customer"),
        _arrives_later("campaign_id", "dim_campaign"),
    ],
    "order_items": [
        _arrives_later("customer_id", "dim_customer"),
        _arrives_later("product_id", "dim_product"),
        _arrives_later("campaign_id", "dim_campaign"),
    ],
    "web_events": [
        _arrives_later("customer_id", "dim_customer"),
        _arrives_later("product_id", "dim_product"),
    ],
    "reviews": [_arrives_later("customer_id", "dim_customer"), _arrives_later("product_id", "dim_product")],
}

# Checked only when the merge skipped rows (ON CONFLICT): a key loaded by another batch is bad data,
# the same batch's key is a harmless re-run. First loads never pay for this probe.
CONFLICT_RULES: dict[str, Rule] = {
    "customers": _loaded_elsewhere("dim_customer", ("customer_id",)),
    "products": _loaded_elsewhere("dim_product", ("product_id",)),
    "campaigns": _loaded_elsewhere("dim_campaign", ("campaign_id",)),
    "campaign_exposure": _loaded_elsewhere("fact_campaign_exposure", ("customer_id", "campaign_id")),
    "order_items": _loaded_elsewhere("fact_order_items", ("order_id", "line_no")),
    "web_events": _loaded_elsewhere("fact_web_events", ("event_id",)),
    "reviews": _loaded_elsewhere("fact_reviews", ("review_id",)),
}

# The warehouse table each staged entity merges into (returns update fact_order_items).
TARGETS: dict[str, str] = {
    "customers": "dim_customer",
    "products": "dim_product",
    "campaigns": "dim_campaign",
    "campaign_exposure": "fact_campaign_exposure",
    "order_items": "fact_order_items",
    "returns": "fact_order_items",
    "web_events": "fact_web_events",
    "reviews": "fact_reviews",
}

# Staging is read in physical order, which is date order (COPY appends date after date, nothing
# updates it, synchronized scans are off and INSERT ... SELECT never runs in parallel): of two dates
# of a range staging the same key, the earlier one is inserted and the later one is the conflict.
MERGES: dict[str, str] = {
    "customers": """
        INSERT INTO warehouse.dim_customer (customer_id, first_name, last_name, email, age, gender, country,
                                            city, acquisition_channel, signup_date, batch_date)
        SELECT customer_id, first_name, last_name, email, age, gender, country, city, acquisition_channel,
               signup_date, batch_date FROM staging.customers
        ON CONFLICT (customer_id) DO NOTHING""",
    "products": """
        INSERT INTO warehouse.dim_product (product_id, product_name, category, subcategory, brand,
                                           list_price, unit_cost, launch_date, batch_date)
        SELECT product_id, product_name, category, subcategory, brand, list_price, unit_cost, launch_date,
               batch_date FROM staging.products
        ON CONFLICT (product_id) DO NOTHING""",
    "campaigns": """
        INSERT INTO warehouse.dim_campaign (campaign_id, campaign_name, channel, campaign_type, offer,
                                            discount_pct, target_countries, start_date, end_date, batch_date)
        SELECT campaign_id, campaign_name, channel, campaign_type, offer, discount_pct,
               string_to_array(nullif(target_countries, ''), ';'), start_date, end_date, batch_date
        FROM staging.campaigns
        ON CONFLICT (campaign_id) DO NOTHING""",
    "campaign_exposure": """
        INSERT INTO warehouse.fact_campaign_exposure (customer_id, campaign_id, treated, exposure_date,
                                                      batch_date)
        SELECT customer_id, campaign_id, treated, exposure_date, batch_date FROM staging.campaign_exposure
        ON CONFLICT (customer_id, campaign_id) DO NOTHING""",
    "order_items": """
        INSERT INTO warehouse.fact_order_items (order_id, line_no, order_ts, order_date, customer_id,
            product_id, campaign_id, quantity, unit_price, discount, revenue, cost, status, delivery_days,
            batch_date)
        SELECT order_id, line_no, order_ts, order_ts::date, customer_id, product_id, campaign_id, quantity,
               unit_price, discount, revenue, round(quantity * unit_cost, 2), status, delivery_days, batch_date
        FROM staging.order_items
        ON CONFLICT (order_id, line_no) DO NOTHING""",
    "returns": """
        UPDATE warehouse.fact_order_items f
        SET status = 'returned', return_date = s.return_date, return_reason = s.reason
        FROM staging.returns s
        WHERE f.order_id = s.order_id AND f.line_no = s.line_no AND f.status = 'completed'""",
    "web_events": """
        INSERT INTO warehouse.fact_web_events (event_id, session_id, customer_id, product_id, event_type,
                                               event_ts, event_date, batch_date)
        SELECT event_id, session_id, customer_id, product_id, event_type, event_ts, event_ts::date, batch_date
        FROM staging.web_events
        ON CONFLICT (event_id) DO NOTHING""",
    "reviews": """
        INSERT INTO warehouse.fact_reviews (review_id, customer_id, product_id, order_id, rating, review_date,
                                            batch_date)
        SELECT review_id, customer_id, product_id, order_id, rating, review_date, batch_date
        FROM staging.reviews
        ON CONFLICT (review_id) DO NOTHING""",
}


@dataclass(frozen=True)
class Correction:
    """How a re-delivered date overwrites the rows it loaded before (SCD type 1)."""

    table: str
    key: tuple[str, ...]
    columns: dict[str, str]  # warehouse column -> its value from staged row `s` (target row `t`)
    same_date: str = "t.batch_date = s.batch_date"  # the warehouse row came from this very date
    touch: str = ""  # SET clause recording when the row changed


def _same(columns: str) -> dict[str, str]:
    return {c: f"s.{c}" for c in columns.split()}


_TOUCH = ", loaded_at = now()"

CORRECTIONS: dict[str, Correction] = {
    "customers": Correction(
        "dim_customer",
        ("customer_id",),
        _same("first_name last_name email age gender country city acquisition_channel signup_date"),
        touch=_TOUCH,
    ),
    "products": Correction(
        "dim_product",
        ("product_id",),
        _same("product_name category subcategory brand list_price unit_cost launch_date"),
        touch=_TOUCH,
    ),
    "campaigns": Correction(
        "dim_campaign",
        ("campaign_id",),
        _same("campaign_name channel campaign_type offer discount_pct start_date end_date")
        | {"target_countries": "string_to_array(nullif(s.target_countries, ''), ';')"},
        touch=_TOUCH,
    ),
    "campaign_exposure": Correction(
        "fact_campaign_exposure", ("customer_id", "campaign_id"), _same("treated exposure_date")
    ),
    # derived columns follow the corrected values; a return (a later date's returns.csv) is kept
    "order_items": Correction(
        "fact_order_items",
        ("order_id", "line_no"),
        _same(
            "order_ts customer_id product_id campaign_id quantity unit_price discount revenue delivery_days"
        )
        | {
            "order_date": "s.order_ts::date",
            "cost": "round(s.quantity * s.unit_cost, 2)",
            "status": "CASE WHEN t.status = 'returned' THEN t.status ELSE s.status END",
        },
    ),
    # a return belongs to the date of its return_date (the line itself to its order date)
    "returns": Correction(
        "fact_order_items",
        ("order_id", "line_no"),
        {"return_reason": "s.reason"},
        same_date="t.status = 'returned' AND t.return_date = s.batch_date",
    ),
    "web_events": Correction(
        "fact_web_events",
        ("event_id",),
        _same("session_id customer_id product_id event_type event_ts") | {"event_date": "s.event_ts::date"},
    ),
    "reviews": Correction(
        "fact_reviews", ("review_id",), _same("customer_id product_id order_id rating review_date")
    ),
}


def correction_rules(entity: str, dates: list) -> list[Rule]:
    """Rules only a re-delivery of `dates` can break (checked for those dates only): a correction keeps
    a later return (CORRECTIONS), so a returned line cannot become cancelled."""
    if entity != "order_items" or not dates:
        return []
    listed = ", ".join(f"'{d.isoformat()}'::date" for d in dates)
    return [
        Rule(
            f"s.batch_date IN ({listed}) AND s.status = 'cancelled' AND EXISTS (SELECT 1 FROM "
            "warehouse.fact_order_items f WHERE f.order_id = s.order_id AND f.line_no = s.line_no "
            "AND f.batch_date = s.batch_date AND f.status = 'returned')",
            "'status: cancelled, but the order line was returned on ' || (SELECT f.return_date "
            "FROM warehouse.fact_order_items f WHERE f.order_id = s.order_id AND f.line_no = s.line_no)",
        )
    ]


def correct_sql(entity: str) -> str:
    """Overwrite the rows the re-delivered dates (%(dates)s) loaded before where the staged values
    differ; answers (batch_date, rows corrected) per date. Runs before the entity's merge."""
    c = CORRECTIONS[entity]
    targets = ", ".join(c.columns)
    values = ", ".join(c.columns.values())
    held = ", ".join(f"t.{column}" for column in c.columns)
    match = " AND ".join(f"t.{k} = s.{k}" for k in c.key)
    return f"""
        WITH corrected AS (
            UPDATE warehouse.{c.table} t SET ({targets}) = ROW({values}){c.touch}
            FROM staging.{entity} s
            WHERE {match} AND {c.same_date} AND s.batch_date = ANY(%(dates)s)
              AND ROW({held}) IS DISTINCT FROM ROW({values})
            RETURNING s.batch_date AS d)
        SELECT d, count(*) FROM corrected GROUP BY d"""


def kept_sql(entity: str) -> str:
    """Rows the re-delivered dates (%(dates)s) loaded before that their new delivery no longer holds
    (absent, or quarantined this time: staging keeps only the good rows); answers (batch_date, rows)."""
    c = CORRECTIONS[entity]
    date = "t.return_date" if entity == "returns" else "t.batch_date"
    held = "t.status = 'returned' AND t.return_date" if entity == "returns" else "t.batch_date"
    match = " AND ".join(f"s.{k} = t.{k}" for k in c.key)
    return (
        f"SELECT {date}, count(*) FROM warehouse.{c.table} t WHERE {held} = ANY(%(dates)s) AND NOT EXISTS "
        f"(SELECT 1 FROM staging.{entity} s WHERE s.batch_date = {date} AND {match}) GROUP BY 1"
    )


def merge_sql(entity: str) -> str:
    """The entity's merge, answering (batch_date, rows written) per date of the range."""
    date = "s.batch_date" if entity == "returns" else "batch_date"
    return (
        f"WITH written AS ({MERGES[entity]} RETURNING {date} AS d) SELECT d, count(*) FROM written GROUP BY d"
    )


def hits_sql(entity: str, rules: list[Rule] | None = None) -> str:
    """Staging rows breaking a rule, one row per (row, rule), into the temporary table `rule_hits`.

    One query per rule, so PostgreSQL plans each as an anti-join (index probes for a small batch,
    hash joins for a range) instead of a per-row OR of subplans that hashes whole dimension tables."""
    rules = RULES[entity] if rules is None else rules
    return "INSERT INTO rule_hits " + " UNION ALL ".join(
        f"SELECT s.batch_date, s.row_no, {i}, {r.reason} FROM staging.{entity} s WHERE {condition}"
        for i, r in enumerate(rules)
        for condition in r.alternatives
    )


def move_hits_sql(entity: str, rules: list[Rule] | None = None) -> str:
    """Move the staging rows of `rule_hits` into quarantine (all their reasons joined; `rules` as given
    to hits_sql); answers (batch_date, rows moved) per date. A row every reason of which is a
    referential rule is marked `retry`: a later load may bring what it references."""
    rules = RULES[entity] if rules is None else rules
    retry = ", ".join(str(i) for i, r in enumerate(rules) if r.retry) or "NULL"
    return f"""
        WITH bad AS (
            SELECT s.batch_date, s.row_no, to_jsonb(s) - 'row_no' - 'batch_date' AS record,
                   string_agg(h.reason, '; ' ORDER BY h.rule_no) AS reason,
                   bool_and(h.rule_no IN ({retry})) IS TRUE AS retry
            FROM (SELECT DISTINCT * FROM rule_hits) h JOIN staging.{entity} s USING (batch_date, row_no)
            GROUP BY s.batch_date, s.row_no, to_jsonb(s)
        ), moved AS (
            DELETE FROM staging.{entity} s USING bad b
            WHERE s.batch_date = b.batch_date AND s.row_no = b.row_no RETURNING s.row_no
        ), kept AS (
            INSERT INTO quarantine.{entity} (batch_date, row_no, record, reason, retry)
            SELECT batch_date, row_no, record, reason, retry FROM bad
            ON CONFLICT (batch_date, row_no) DO NOTHING RETURNING row_no
        )
        SELECT batch_date, count(*) FROM bad GROUP BY batch_date"""
