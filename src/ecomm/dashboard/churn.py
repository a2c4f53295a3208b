"""Churn risk of today's customers from the champion churn model, and the reasons behind each score.

"Today" is the day after the last loaded business date: the features of every customer with an
order (not cancelled) are built as for a training cutoff on that day, and the served pyfunc scores them
with its full head. The reasons are the XGBoost contributions (SHAP values, `pred_contribs`) of the
same full pipeline, summed back from its one-hot columns to the input features: they add up, with
the bias, to exactly the log-odds of the score shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from ecomm.dashboard import reasons
from ecomm.dashboard.models import Champion, load_model
from ecomm.dashboard.queries import choices
from ecomm.dashboard.source import CACHE_TTL_SECONDS, Warehouse, cached, connection
from ecomm.features import columns as C
from ecomm.features.churn import churn_features, warehouse_span
from ecomm.ml.churn.model import signature_columns
from ecomm.ml.serving import CHURN_PROBABILITY, FULL, MODEL_VARIANT

REASONS_PER_CUSTOMER = 3


class ScoringError(RuntimeError):
    """The champion cannot score today's customers; the message says why."""


@dataclass(frozen=True)
class Scores:
    cutoff: dt.date  # features use the data before this day
    frame: pd.DataFrame  # the features, churn_probability, model_variant; one row per customer


# A resource, not data: shared as is (never mutated), not copied on every page view (208k rows at 1M orders).
@st.cache_resource(ttl=CACHE_TTL_SECONDS, max_entries=2, show_spinner=False)
def score_customers(wh: Warehouse, champion: Champion) -> Scores:
    """Every customer with an order not cancelled before the day after the last load, scored by the
    champion as of that day."""
    model = load_model(champion)
    with connection(wh.url) as conn:
        cutoff = warehouse_span(conn).last_day + dt.timedelta(days=1)
        features = churn_features(conn, cutoff)
    full = model.unwrap_python_model()
    for column in full.full_columns:  # a category the model knows but the catalog lost: nobody buys it
        if column.startswith(C.CATEGORY_SHARE_PREFIX) and column not in features:
            features[column] = 0.0
    predicted = model.predict(signature_columns(model, features))
    frame = features.assign(
        **{
            CHURN_PROBABILITY: predicted[CHURN_PROBABILITY].to_numpy(),
            MODEL_VARIANT: predicted[MODEL_VARIANT],
        }
    )
    if len(frame) and set(frame[MODEL_VARIANT]) != {FULL}:
        missing = sorted(set(full.full_columns) - set(features.columns))
        raise ScoringError(f"the warehouse's features lack the champion's inputs {missing[:5]}")
    return Scores(cutoff, frame)


def input_names(prepare) -> list[str]:
    """The input feature behind each output column of a fitted ColumnTransformer (passthrough or
    one-hot encoded columns)."""
    names: list[str] = []
    for _, transformer, columns in prepare.transformers_:
        if isinstance(transformer, str):  # "drop" (a fitted "passthrough" is a FunctionTransformer)
            continue
        for output in transformer.get_feature_names_out():
            names.append(max((c for c in columns if output == c or output.startswith(f"{c}_")), key=len))
    return names


def contributions(champion: Champion, features: pd.DataFrame) -> pd.DataFrame:
    """Log-odds contribution of each input feature to each row's score, plus a `bias` column."""
    import xgboost

    full = load_model(champion).unwrap_python_model()
    prepare = full.full_pipeline.named_steps["prepare"]
    booster = full.full_pipeline.named_steps["model"].get_booster()
    matrix = np.asarray(prepare.transform(features[full.full_columns]), dtype="float64")
    raw = booster.predict(xgboost.DMatrix(matrix), pred_contribs=True)
    names = input_names(prepare)
    if len(names) != raw.shape[1] - 1:
        raise ScoringError(f"cannot map {raw.shape[1] - 1} model columns back to {len(names)} inputs")
    per_column = pd.DataFrame(raw[:, :-1], columns=names, index=features.index)
    per_input = per_column.T.groupby(level=0, sort=False).sum().T
    return per_input.assign(bias=raw[:, -1])


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
def explain(wh: Warehouse, champion: Champion, customer_ids: tuple[int, ...]) -> pd.DataFrame:
    """customer_id, reasons for these customers of `score_customers` (in the given order)."""
    scored = score_customers(wh, champion).frame
    rows = scored.set_index(C.CUSTOMER_ID).loc[list(customer_ids)].reset_index()
    categories = {C.category_share_column(c): c for c in choices(wh)["categories"]}
    contribs = contributions(champion, rows)
    return pd.DataFrame(
        {C.CUSTOMER_ID: rows[C.CUSTOMER_ID], "reasons": top_reasons(rows, contribs, categories)}
    )
