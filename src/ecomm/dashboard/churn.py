"""Churn risk of today's customers from the champion churn model, and the reasons behind each score.

The scores are `marts.churn_scores` (ecomm.ml.churn.scoring): every customer with a completed order,
scored as of the day after the last load. The ML DAG and `ecomm predict churn` store them after each
load and promotion; when the table is stale for the current load or champion, the page scores first
(once; the same function) and stores them. The page's figures are SQL over that table, filtered.
The reasons are the log-odds contributions of the same full pipeline - XGBoost's SHAP values
(`pred_contribs`), or coefficient x standardised value when the champion's full head is the logistic
regression - computed for the listed customers only and summed back from its one-hot and indicator
columns to the input features: they add up, with the bias, to exactly the log-odds of the score shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg2
import streamlit as st

from ecomm.dashboard import reasons
from ecomm.dashboard.filters import Filters, customer_name, known, scope_sql
from ecomm.dashboard.models import Champion, load_model
from ecomm.dashboard.queries import choices
from ecomm.dashboard.source import CACHE_TTL_SECONDS, Warehouse, cached, connection, read
from ecomm.features import columns as C
from ecomm.features.churn import churn_features
from ecomm.ml.builders import input_of
from ecomm.ml.churn.scoring import (
    SCORES_TABLE,
    ModelRef,
    ScoringError,
    StoredScoring,
    score_warehouse,
    stored_scoring,
    with_model_categories,
)

REASONS_PER_CUSTOMER = 3
HISTOGRAM_BINS = 20


# A resource: the check (and, when stale, the scoring) runs once per load and champion, not per view.
@st.cache_resource(ttl=CACHE_TTL_SECONDS, max_entries=4, show_spinner=False)
def current_scores(wh: Warehouse, champion: Champion) -> StoredScoring:
    """The stored scores of today's customers by this champion, scoring and storing them first when
    the table holds another load's or another version's."""
    ref = ModelRef(champion.name, champion.version, champion.download_uri)
    with connection(wh.url) as conn:
        try:  # the spinner shows only when this takes long: when it scores
            with st.spinner(f"Scoring today's customers with {champion.name} v{champion.version} …"):
                score_warehouse(conn, lambda: load_model(champion), ref)
        except psycopg2.errors.UndefinedTable as exc:
            raise ScoringError(f"the warehouse has no {SCORES_TABLE}: run `ecomm db migrate`") from exc
        return stored_scoring(conn)


# The scored customers of the filters with a (not cancelled) line in them: queries.SCOPED_CUSTOMERS as
# a semi-join, so the most-at-risk list walks the probability index and probes each customer's lines
# by index instead of collecting every customer in scope.
SCORED_IN_SCOPE = f"""
SELECT s.*, {customer_name("cu")} AS name, {known("cu.country")} AS country
FROM {SCORES_TABLE} s JOIN warehouse.dim_customer cu USING (customer_id)
WHERE EXISTS (
    SELECT 1 FROM warehouse.fact_order_items f JOIN warehouse.dim_product p USING (product_id)
    WHERE f.customer_id = s.customer_id AND f.status <> 'cancelled'
      AND {scope_sql("f.order_date", "cu.country", "p.category")})
"""


@cached
def score_summary(wh: Warehouse, scoring: StoredScoring, flt: Filters) -> pd.DataFrame:
    """bin (0 .. HISTOGRAM_BINS - 1), customers, expected (sum of probabilities), at_least_half of
    the scored customers in the filters, per probability bin."""
    return read(
        wh.url,
        f"""WITH s AS ({SCORED_IN_SCOPE})
            SELECT least(floor(churn_probability * %(bins)s)::int, %(bins)s - 1) AS bin,
                   count(*) AS customers, sum(churn_probability) AS expected,
                   count(*) FILTER (WHERE churn_probability >= 0.5) AS at_least_half
            FROM s GROUP BY 1 ORDER BY 1""",
        flt.params() | {"bins": HISTOGRAM_BINS},
    )


# marts.purchase_scores (ecomm.ml.purchase.scoring), joined only when it holds the churn scores' day
PURCHASE_OF_THE_DAY = """LEFT JOIN marts.purchase_scores p
    ON p.customer_id = s.customer_id AND p.cutoff_date = s.cutoff_date"""


@cached
def at_risk(
    wh: Warehouse, scoring: StoredScoring, flt: Filters, limit: int, purchase: StoredScoring | None = None
) -> pd.DataFrame:
    """The `limit` scored customers in the filters most likely to churn, most likely first, with their
    purchase probability when `purchase` (dashboard.purchase.purchase_scoring) is stored."""
    purchase_column, join = ("p.purchase_probability", PURCHASE_OF_THE_DAY) if purchase else ("NULL", "")
    return read(
        wh.url,
        f"""SELECT s.customer_id, name, country, churn_probability,
                   {purchase_column}::double precision AS purchase_probability,
                   days_since_last_order, total_orders, total_spent
            FROM ({SCORED_IN_SCOPE}) s {join}
            ORDER BY churn_probability DESC, s.customer_id LIMIT %(limit)s""",
        flt.params() | {"limit": limit},
    )


def input_names(prepare) -> list[str]:
    """The input feature behind each output column of a fitted ColumnTransformer (passthrough,
    scaled, log-scaled, one-hot encoded columns and missing indicators)."""
    names: list[str] = []
    for _, transformer, columns in prepare.transformers_:
        if isinstance(transformer, str):  # "drop" (a fitted "passthrough" is a FunctionTransformer)
            continue
        names += [input_of(out, columns, prefixed=False) for out in transformer.get_feature_names_out()]
    return names


def log_odds_terms(pipeline, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per output column, bias) terms of each row's log-odds: XGBoost's SHAP contributions, or a
    linear model's coefficient x value (its standardised numerics are 0 at the training mean)."""
    import xgboost

    model = pipeline.named_steps["model"]
    if hasattr(model, "get_booster"):
        raw = model.get_booster().predict(xgboost.DMatrix(matrix), pred_contribs=True)
        return raw[:, :-1], raw[:, -1]
    return matrix * model.coef_.ravel(), np.full(len(matrix), float(model.intercept_[0]))


def contributions(champion: Champion, features: pd.DataFrame) -> pd.DataFrame:
    """Log-odds contribution of each input feature to each row's score, plus a `bias` column."""
    full = load_model(champion).unwrap_python_model()
    prepare = full.full_pipeline.named_steps["prepare"]
    matrix = np.asarray(prepare.transform(features[full.full_columns]), dtype="float64")
    terms, bias = log_odds_terms(full.full_pipeline, matrix)
    names = input_names(prepare)
    if len(names) != terms.shape[1]:
        raise ScoringError(f"cannot map {terms.shape[1]} model columns back to {len(names)} inputs")
    per_column = pd.DataFrame(terms, columns=names, index=features.index)
    per_input = per_column.T.groupby(level=0, sort=False).sum().T
    return per_input.assign(bias=bias)


def top_reasons(
    features: pd.DataFrame, contribs: pd.DataFrame, categories: dict[str, str], n: int = REASONS_PER_CUSTOMER
) -> list[str]:
    """Per row, the `n` features that raise the score most, in plain words ("; "-joined)."""
    out = []
    for index, row in contribs.drop(columns="bias").iterrows():
        rising = row[row > 0].sort_values(ascending=False).head(n)
        out.append("; ".join(reasons.phrase(f, features.at[index, f], categories) for f in rising.index))
    return out


@cached
def explain(
    wh: Warehouse, scoring: StoredScoring, champion: Champion, customer_ids: tuple[int, ...]
) -> pd.DataFrame:
    """customer_id, reasons for these customers (in the given order), from their features as of the
    scoring cutoff."""
    with connection(wh.url) as conn:
        features = churn_features(conn, scoring.cutoff, customer_ids=list(customer_ids))
    rows = features.set_index(C.CUSTOMER_ID).loc[list(customer_ids)].reset_index()
    rows = with_model_categories(load_model(champion).unwrap_python_model(), rows)
    categories = {C.category_share_column(c): c for c in choices(wh)["categories"]}
    contribs = contributions(champion, rows)
    return pd.DataFrame(
        {C.CUSTOMER_ID: rows[C.CUSTOMER_ID], "reasons": top_reasons(rows, contribs, categories)}
    )
