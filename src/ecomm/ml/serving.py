"""The MLflow pyfunc models we register: self-contained, importing only numpy, pandas, scipy and mlflow
(and statsforecast, ForecastPyfunc's requirement, when it predicts).

This module must not import `ecomm`: training registers it with cloudpickle *by value*
(`cloudpickle.register_pickle_by_value`), so a logged model carries these classes and its fitted
state (sklearn/xgboost pipelines, numpy arrays) and loads in any process that has the model's
pip requirements, without this repository.

ChurnPyfunc - two heads, chosen per request by the columns it carries:
  * "full": every feature of the full model is a column -> the full pipeline (the family that won
    the training run's validation: logistic regression or XGBoost, on RFM, trend, returns,
    deliveries, discounts, sessions, reviews, campaigns, category mix).
    The API's GET /predict/churn/{customer_id} builds this row from the warehouse.
  * "api_fields": only the seed API's fields (POST /predict/churn body, docs/architecture.md#rest-api) -> a second
    pipeline trained on exactly those fields at the same cutoffs. Nothing is imputed for the
    features the request does not carry.
  Output: churn_probability, model_variant (one row per input row, same index).
  `specs` holds each head's columns by role (ecomm.ml.builders.FeatureSpec.to_dict, plain lists):
  the API reads its body's fields and their types from it.

SegmentPyfunc - input rows of the segmentation features (ecomm.features.segments; a category share
the row lacks counts as 0); output segment_id, segment_name per row (same index): the scaling +
K-Means pipeline's cluster, whose id, name and profile were derived from its centroid at training
(`segments`, also in the model's metadata).

PurchasePyfunc - input rows of the purchase features (ecomm.features.purchase; a category share the
row lacks counts as 0); output purchase_probability per row (same index): P(at least one completed
order in the horizon after the row's cutoff) by the pipeline that won the training run's validation.

ClvPyfunc - input rows of the lifetime-value features (ecomm.features.clv: frequency, recency_days,
t_days, monetary; an optional horizon_days column overrides the model's horizon per row); output
p_alive, expected_orders, expected_order_value, expected_value per row (same index). BG/NBD (Fader,
Hardie & Lee 2005) for the purchase process: P(alive) and the expected purchase days in the horizon
given the customer's history; Gamma-Gamma for the value of a purchase day, shrinking the customer's
mean towards the population's by how many purchase days it rests on. `params` holds the fitted
r, alpha, a, b (time in days) and p, q, v (ecomm.ml.clv.btyd fits them).

RecommenderPyfunc - input rows customer_id [, k, country, categories]; output one row per
recommendation: customer_id, rank, product_id, score, source. Known customers: implicit-feedback ALS
scores (z-scored per customer) + blend_weight x the Surprise SVD predicted stars (centred), their
purchased products excluded; products without interactions get their category's mean factor
(source "model_cold_item"). Unknown customers: the products most bought lately in their country
(shrunk toward the whole shop), those in the given categories first (source
"cold_start_country_category", "cold_start_country"; without a known country "cold_start_category"
or "cold_start_global"). Registered by versions before the re-ranked model; benchmarks fit it as the
baseline (ecomm.ml.recommend.model).

RerankedRecommenderPyfunc (served by `ecomm train recommender`) - the same input and output. Known
customers: their list ranked at training time by the LightGBM re-ranker over the candidate generators
(ecomm.ml.recommend.reranked), looked up, products they bought excluded (source "reranked";
"reranked_new_item" for a product without interactions before training ended); a list shorter than
k is filled with their country's best sellers they did not buy (source "popular_fill"). Unknown
customers: RecommenderPyfunc's cold start, with the same labels. Four more output columns:
confidence (P(bought in the next weeks | rank), from the rank calibration learned on the validation
window, ecomm.ml.recommend.calibration: the "personal" curve for reranked rows, the "popular" one for
fills and cold start; NaN for versions trained before it), because_product_id and because_action
("bought"/"viewed": the customer's history item most co-occurring with a reranked item; -1 and ""
otherwise), popular_in (the country and/or category a popularity row is popular in; "" otherwise).

ForecastPyfunc - input a long frame of daily histories: series_level (product, category, total),
series_id, date, y (every series on a complete daily grid up to its last date); params `horizon`
(days, default and most the model's `horizon`) and `n_jobs` (processes the series are fitted in,
default 1: an API request forecasts a few series; the stored forecasts use ECOMM_FORECAST_JOBS;
the forecasts are the same for any number); output one row per series and day 1..horizon after
its last date: series_level, series_id, date, point, lo_80, hi_80, lo_95, hi_95 (cut at 0: sales) and
method. `models` holds, per level, the statsforecast model the training backtest chose (unfitted: it
is fitted on the history it is given, as at every backtest origin), seasonal naive standing in for
it on a series it cannot fit.
"""

from __future__ import annotations

import functools

import mlflow.pyfunc
import numpy as np
import pandas as pd
from scipy.special import hyp2f1

CHURN_PROBABILITY = "churn_probability"
MODEL_VARIANT = "model_variant"
FULL, API_FIELDS = "full", "api_fields"

RANK, SCORE, SOURCE = "rank", "score", "source"
MODEL, MODEL_COLD_ITEM = "model", "model_cold_item"
COLD_COUNTRY_CATEGORY, COLD_COUNTRY, COLD_CATEGORY, COLD_GLOBAL = (
    "cold_start_country_category",
    "cold_start_country",
    "cold_start_category",
    "cold_start_global",
)
RERANKED, RERANKED_NEW_ITEM, POPULAR_FILL = "reranked", "reranked_new_item", "popular_fill"
CONFIDENCE, BECAUSE_PRODUCT_ID, BECAUSE_ACTION, POPULAR_IN = (
    "confidence",
    "because_product_id",
    "because_action",
    "popular_in",
)
SEGMENT_ID, SEGMENT_NAME = "segment_id", "segment_name"
PURCHASE_PROBABILITY = "purchase_probability"
CLV_INPUTS = ("frequency", "recency_days", "t_days", "monetary")
P_ALIVE, EXPECTED_ORDERS = "p_alive", "expected_orders"
EXPECTED_ORDER_VALUE, EXPECTED_VALUE = "expected_order_value", "expected_value"
HORIZON_DAYS = "horizon_days"
SERIES_LEVEL, SERIES_ID = "series_level", "series_id"
FORECAST_COLUMNS = ("point", "lo_80", "hi_80", "lo_95", "hi_95")
DEFAULT_K = 10
C_COUNTRY = "country"
MAX_K = 100


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(
        self,
        full_pipeline,
        full_columns: list[str],
        api_pipeline,
        api_columns: list[str],
        info: dict,
        specs: dict | None = None,
    ) -> None:
        self.full_pipeline = full_pipeline
        self.full_columns = list(full_columns)
        self.api_pipeline = api_pipeline
        self.api_columns = list(api_columns)
        self.info = dict(info)
        self.specs = dict(specs or {})  # {"full": {...}, "api_fields": {...}}; {} before specs were kept

    def variant_for(self, columns) -> str:
        return FULL if set(self.full_columns) <= set(columns) else API_FIELDS

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        variant = self.variant_for(frame.columns)
        if variant == FULL:
            pipeline, cols = self.full_pipeline, self.full_columns
        else:
            missing = [c for c in self.api_columns if c not in frame.columns]
            if missing:
                raise ValueError(f"churn model: missing input columns {missing}")
            pipeline, cols = self.api_pipeline, self.api_columns
        proba = pipeline.predict_proba(frame[cols])[:, 1] if len(frame) else np.zeros(0)
        return pd.DataFrame(
            {CHURN_PROBABILITY: proba.astype("float64"), MODEL_VARIANT: variant}, index=frame.index
        )


class SegmentPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, pipeline, columns: list[str], segments: list[dict], info: dict) -> None:
        self.pipeline = pipeline  # ColumnTransformer ("scale") + KMeans ("kmeans"), labels = segment ids
        self.columns = list(columns)
        self.segments = list(segments)  # segment_id, name, size, share, profile
        self.info = dict(info)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's columns; category shares a row lacks are 0 (a category launched later)."""
        shares = [c for c in self.columns if c.startswith("cat_share_") and c not in frame.columns]
        missing = [c for c in self.columns if c not in frame.columns and c not in shares]
        if missing:
            raise ValueError(f"segment model: missing input columns {missing}")
        return frame.assign(**dict.fromkeys(shares, 0.0))[self.columns].astype("float64")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        ids = self.pipeline.predict(self.inputs(frame)) if len(frame) else np.zeros(0, dtype=np.int64)
        names = np.array([s["name"] for s in self.segments], dtype=object)
        return pd.DataFrame(
            {SEGMENT_ID: ids.astype("int64"), SEGMENT_NAME: names[ids] if len(ids) else []}, index=frame.index
        )


class PurchasePyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, pipeline, columns: list[str], spec: dict, info: dict) -> None:
        self.pipeline = pipeline
        self.columns = list(columns)
        self.spec = dict(spec)  # ecomm.ml.builders.FeatureSpec.to_dict: the columns by role
        self.info = dict(info)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's columns; category shares a row lacks are 0 (a category launched later)."""
        shares = [c for c in self.columns if c.startswith("cat_share_") and c not in frame.columns]
        missing = [c for c in self.columns if c not in frame.columns and c not in shares]
        if missing:
            raise ValueError(f"purchase model: missing input columns {missing}")
        return frame.assign(**dict.fromkeys(shares, 0.0))[self.columns]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        proba = self.pipeline.predict_proba(self.inputs(frame))[:, 1] if len(frame) else np.zeros(0)
        return pd.DataFrame({PURCHASE_PROBABILITY: proba.astype("float64")}, index=frame.index)


def bgnbd_p_alive(params: dict, x, t_x, big_t) -> np.ndarray:
    """P(still alive at T | x repeat purchase days, the last at t_x): 1 without a repeat purchase
    (a BG/NBD customer can only drop out right after a purchase)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (x, t_x, big_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x > 0, a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0)
    return 1.0 / (1.0 + ratio)


def bgnbd_expected_orders(params: dict, t, x, t_x, big_t) -> np.ndarray:
    """E[purchase days in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    t, x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (t, x, t_x, big_t))
    z = t / (alpha + big_t + t)
    growth = 1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    expected = (a + b + x - 1) / (a - 1) * growth
    return expected * bgnbd_p_alive(params, x, t_x, big_t)


def gamma_gamma_order_value(params: dict, n, mean_value) -> np.ndarray:
    """E[value of a purchase day | n purchase days with mean `mean_value`]: a weighted average of the
    population mean p v / (q - 1) and the customer's mean, the weight growing with n."""
    p, q, v = (params[k] for k in ("p", "q", "v"))
    n, mean_value = np.asarray(n, dtype="float64"), np.asarray(mean_value, dtype="float64")
    return p * (v + n * mean_value) / (p * n + q - 1)


class ClvPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, params: dict, info: dict) -> None:
        self.params = {k: float(v) for k, v in params.items()}  # r, alpha, a, b, p, q, v
        self.info = dict(info)  # horizon_days (the default horizon), as_of, ...

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [c for c in CLV_INPUTS if c not in frame.columns]
        if missing:
            raise ValueError(f"clv model: missing input columns {missing}")
        x, t_x, big_t, m = (frame[c].to_numpy(dtype="float64") for c in CLV_INPUTS)
        if HORIZON_DAYS in frame:
            horizon = frame[HORIZON_DAYS].to_numpy(dtype="float64")
        else:
            horizon = np.full(len(frame), float(self.info["horizon_days"]))
        orders = bgnbd_expected_orders(self.params, horizon, x, t_x, big_t)
        value = gamma_gamma_order_value(self.params, x + 1, m)  # every purchase day, the first too
        return pd.DataFrame(
            {
                P_ALIVE: bgnbd_p_alive(self.params, x, t_x, big_t),
                EXPECTED_ORDERS: orders,
                EXPECTED_ORDER_VALUE: value,
                EXPECTED_VALUE: orders * value,
            },
            index=frame.index,
        )


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, state: dict) -> None:
        # arrays aligned to user_ids / item_ids (both sorted); see recommend.model.build_state
        self.state = state
        self.info = state["info"]

    # ----------------------------------------------------------------------------- helpers
    def _user_rows(self, customer_ids: np.ndarray) -> np.ndarray:
        users = self.state["user_ids"]
        pos = np.searchsorted(users, customer_ids)
        pos = np.minimum(pos, len(users) - 1)
        return np.where(users[pos] == customer_ids, pos, -1)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_items) blended scores of known users (rows into user_ids)."""
        s = self.state
        raw = s["user_factors"][rows] @ s["item_factors"].T
        mean = raw.mean(axis=1, keepdims=True)
        std = raw.std(axis=1, keepdims=True)
        z = (raw - mean) / np.where(std > 0, std, 1.0)
        w = s["blend_weight"]
        if w:
            svd = s["svd_bu"][rows, None] + s["svd_bi"][None, :] + s["svd_pu"][rows] @ s["svd_qi"].T
            z = z + w * svd
        return z

    def _top(self, scores: np.ndarray, exclude: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = scores.copy()
        if exclude is not None and len(exclude):
            scores[exclude] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top]

    def _bought(self, row: int) -> np.ndarray:
        s = self.state
        return s["bought_indices"][s["bought_indptr"][row] : s["bought_indptr"][row + 1]]

    def cold_start(self, country, categories: list[str], k: int) -> tuple[np.ndarray, np.ndarray, str]:
        s = self.state
        by_country = s["country_popularity"]
        if country is not None and country in by_country:
            pop, source = by_country[country], COLD_COUNTRY
        else:
            pop, source = s["global_popularity"], COLD_GLOBAL
        score = pop / max(float(pop.max()), 1e-12)
        if categories:
            wanted = np.isin(s["item_category"], categories)
            if wanted.any():
                score = score + wanted.astype(float)  # the customer's categories first
                source = COLD_COUNTRY_CATEGORY if source == COLD_COUNTRY else COLD_CATEGORY
        top, vals = self._top(score, None, k)
        return top, vals, source

    def personal(self, rows: np.ndarray, ks: np.ndarray) -> list[tuple]:
        """(items, scores, sources) of known users (rows into user_ids), bought products excluded."""
        s, out = self.state, []
        for lo in range(0, len(rows), 512):
            chunk = rows[lo : lo + 512]
            block = self.scores(chunk)
            for j, row in enumerate(chunk):
                top, vals = self._top(block[j], self._bought(row), int(ks[lo + j]))
                out.append((top, vals, np.where(s["item_cold"][top], MODEL_COLD_ITEM, MODEL).astype(object)))
        return out

    # ----------------------------------------------------------------------------- predict
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        s = self.state
        ids = frame["customer_id"].to_numpy(dtype=np.int64)
        ks = (
            frame["k"].fillna(DEFAULT_K).to_numpy(dtype=np.int64)
            if "k" in frame
            else np.full(len(frame), DEFAULT_K)
        )
        ks = np.clip(ks, 1, MAX_K)
        countries = frame["country"].tolist() if "country" in frame else [None] * len(frame)
        cats = frame["categories"].tolist() if "categories" in frame else [None] * len(frame)
        rows = self._user_rows(ids)
        parts: list[tuple] = [()] * len(frame)  # (items, scores, sources) per input row, in input order
        known = np.flatnonzero(rows >= 0)
        for i, part in zip(known, self.personal(rows[known], ks[known]), strict=True):
            parts[i] = part
        for i in np.flatnonzero(rows < 0):
            country = countries[i]
            if not isinstance(country, str) or not country:
                country = s["customer_country"].get(int(ids[i]))
            wanted = cats[i]
            wanted = [c.strip() for c in wanted.split(",") if c.strip()] if isinstance(wanted, str) else []
            top, vals, source = self.cold_start(country, wanted, int(ks[i]))
            parts[i] = (top, vals, np.full(len(top), source, dtype=object))
        out_cust = [np.full(len(p[0]), ids[i]) for i, p in enumerate(parts)]
        out_rank = [np.arange(1, len(p[0]) + 1) for p in parts]
        out_item = [s["item_ids"][p[0]] for p in parts]
        out_score = [p[1] for p in parts]
        out_source = [p[2] for p in parts]
        if len(frame) == 0:
            return pd.DataFrame(
                {
                    "customer_id": pd.Series(dtype="int64"),
                    RANK: pd.Series(dtype="int64"),
                    "product_id": pd.Series(dtype="int64"),
                    SCORE: pd.Series(dtype="float64"),
                    SOURCE: pd.Series(dtype="object"),
                }
            )
        return pd.DataFrame(
            {
                "customer_id": np.concatenate(out_cust).astype("int64"),
                RANK: np.concatenate(out_rank).astype("int64"),
                "product_id": np.concatenate(out_item).astype("int64"),
                SCORE: np.concatenate(out_score).astype("float64"),
                SOURCE: np.concatenate(out_source).astype(object),
            }
        )


class RerankedRecommenderPyfunc(RecommenderPyfunc):
    """The re-ranked recommender: each known customer's list was ranked at training time and is looked
    up here; unknown customers get RecommenderPyfunc's labelled cold start.

    state: user_ids (sorted), item_ids (sorted), list_indptr / list_items / list_scores (per user row,
    positions into item_ids, best first, at most MAX_K), item_new (no interactions before training
    ended), item_category, bought_indptr / bought_indices, global_popularity, country_popularity,
    customer_country, info.
    """

    def personal(self, rows: np.ndarray, ks: np.ndarray) -> list[tuple]:
        s, out = self.state, []
        for row, k in zip(rows, ks, strict=True):
            lo, hi = s["list_indptr"][row], s["list_indptr"][row + 1]
            top, vals = s["list_items"][lo : min(hi, lo + k)], s["list_scores"][lo : min(hi, lo + k)]
            sources = np.where(s["item_new"][top], RERANKED_NEW_ITEM, RERANKED).astype(object)
            if len(top) < k:  # a short list: the customer's country's best sellers fill it
                fill, fill_scores = self._fill(row, top, int(k) - len(top))
                top, vals = np.concatenate([top, fill]), np.concatenate([vals, fill_scores])
                sources = np.concatenate([sources, np.full(len(fill), POPULAR_FILL, dtype=object)])
            out.append((top, vals, sources))
        return out

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        out = super().predict(context, frame, params)
        return self.annotate(out, frame)

    def annotate(self, out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        """out with confidence, because_product_id, because_action and popular_in (see the module)."""
        s = self.state
        ranks, sources = out[RANK].to_numpy(np.int64), out[SOURCE].to_numpy(dtype=object)
        personal = np.isin(sources, [RERANKED, RERANKED_NEW_ITEM])
        curves = s.get("calibration")
        confidence = np.full(len(out), np.nan)
        if curves is not None and len(out):
            at = np.minimum(ranks, MAX_K) - 1
            # a fill is its list's n-th popular item, after the customer's personal items
            n_personal = pd.Series(personal).groupby(out["customer_id"].to_numpy()).transform("sum")
            popular_at = np.clip(ranks - n_personal.to_numpy(np.int64), 1, MAX_K) - 1
            confidence = np.where(personal, curves["personal"][at], curves["popular"][popular_at])
        rows = self._user_rows(out["customer_id"].to_numpy(np.int64))
        because = np.full(len(out), -1, dtype=np.int64)
        action = np.full(len(out), "", dtype=object)
        if "list_because" in s:
            for i in np.flatnonzero(personal):  # a reranked row's rank is its place in the stored list
                pos = int(s["list_because"][s["list_indptr"][rows[i]] + ranks[i] - 1])
                if pos >= 0:
                    because[i] = int(s["item_ids"][pos])
                    action[i] = "bought" if pos in self._bought(rows[i]) else "viewed"
        return out.assign(
            **{
                CONFIDENCE: confidence.astype("float64"),
                BECAUSE_PRODUCT_ID: because,
                BECAUSE_ACTION: action,
                POPULAR_IN: self._popular_in(out, frame, rows),
            }
        )

    def _popular_in(self, out: pd.DataFrame, frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Where a popularity row's product is popular: the customer's country (the request's, else
        the one on file), its category, both, or the whole shop."""
        s = self.state
        given = dict(
            zip(frame["customer_id"].astype("int64"), frame.get(C_COUNTRY, [None] * len(frame)), strict=True)
        )
        item_pos = np.searchsorted(s["item_ids"], out["product_id"].to_numpy(np.int64))
        labels = []
        for customer, source, pos in zip(out["customer_id"], out[SOURCE], item_pos, strict=True):
            country = given.get(int(customer))
            if not isinstance(country, str) or not country:
                country = s["customer_country"].get(int(customer))
            category = str(s["item_category"][pos])
            labels.append(
                {
                    COLD_COUNTRY_CATEGORY: f"{category} in {country}",
                    COLD_COUNTRY: country,
                    COLD_CATEGORY: category,
                    COLD_GLOBAL: "the shop",
                    POPULAR_FILL: _fill_place(s, int(customer)),
                }.get(source, "")
            )
        return np.asarray(labels, dtype=object)

    def _fill(self, row: int, listed: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n popular products neither listed nor bought; scored below the list's lowest score."""
        s = self.state
        country = s["customer_country"].get(int(s["user_ids"][row]))
        pop = s["country_popularity"].get(country, s["global_popularity"])
        top, vals = self._top(
            pop / max(float(pop.max()), 1e-12), np.concatenate([listed, self._bought(row)]), n
        )
        floor = float(s["list_scores"][s["list_indptr"][row + 1] - 1]) if len(listed) else 0.0
        return top, floor - 1.0 - np.arange(len(top), dtype=float)


def _fill_place(state: dict, customer: int) -> str:
    """The country whose best sellers filled a known customer's list (as _fill chooses it)."""
    country = state["customer_country"].get(customer)
    return country if country in state["country_popularity"] else "the shop"


def series_spreads(history: pd.DataFrame, season: int, days: int) -> pd.Series:
    """series_id -> mean |y_t - y_(t-season)| over each series' last `days` days (its whole history's
    where that is 0): the conformal intervals' scale at the forecast date (as
    ecomm.ml.forecast.backtest.seasonal_scales computes it at each backtest origin)."""
    g = history.sort_values([SERIES_ID, "date"])
    change = (g["y"] - g.groupby(SERIES_ID, sort=False)["y"].shift(season)).abs()
    frame = g[[SERIES_ID]].assign(change=change)
    recent = frame.groupby(SERIES_ID, sort=False)["change"].apply(lambda c: c.tail(days).mean())
    whole = frame.groupby(SERIES_ID, sort=False)["change"].mean()
    return recent.where(recent > 0, whole).fillna(0.0)


def conformal_bounds(out: pd.DataFrame, spreads: pd.Series, calibration: dict) -> pd.DataFrame:
    """The forecasts (series_id, date, point, ...) with conformal 80%/95% bounds: point + q x spread,
    q the calibration's quantile of the scaled daily error that many days ahead (its `daily` rows,
    steps 1.., at `probabilities`); with the calibration's `scale` "point" (its errors over the
    forecast, ecomm.ml.forecast.conformal.interval_scale), point + q x max(point, spread). The lower
    bound cut at 0. A step the calibration has no quantile for keeps the model's own bounds."""
    out = out.sort_values([SERIES_ID, "date"]).copy()
    steps = out.groupby(SERIES_ID, sort=False).cumcount().to_numpy()
    daily, probabilities = np.asarray(calibration["daily"], float), np.asarray(calibration["probabilities"])
    spread = out[SERIES_ID].map(spreads).to_numpy()
    if calibration.get("scale", "spread") == "point":  # a calibration stored before the scale: spread
        spread = np.maximum(out["point"].to_numpy(), spread)
    for level in (80, 95):
        tail = (1.0 - level / 100.0) / 2.0
        for side, probability in (("lo", tail), ("hi", 1.0 - tail)):
            q = np.array([np.interp(probability, probabilities, row) for row in daily])[steps]
            bound = np.clip(out["point"].to_numpy() + q * spread, 0.0, None)
            out[f"{side}_{level}"] = np.where(np.isnan(bound), out[f"{side}_{level}"], bound)
    return out


class ForecastPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, models: dict, methods: dict[str, str], info: dict, calibrations: dict | None = None):
        self.models = dict(models)  # level -> unfitted statsforecast model, aliased with its method
        self.methods = dict(methods)  # level -> method name (the forecast column statsforecast writes)
        self.info = dict(info)  # season_length, horizon, ...
        # level -> conformal calibration (ecomm.ml.forecast.conformal.Calibration.to_dict: plain lists)
        self.calibrations = dict(calibrations or {})

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        import copy

        from statsforecast.models import SeasonalNaive

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        horizon = int((params or {}).get("horizon", self.info["horizon"]))
        n_jobs = int((params or {}).get("n_jobs", 1))
        if not 1 <= horizon <= int(self.info["horizon"]):
            raise ValueError(f"horizon: must be 1..{self.info['horizon']} days, got {horizon}")
        unknown = sorted(set(frame[SERIES_LEVEL]) - set(self.models))
        if unknown:
            raise ValueError(f"series_level: this model forecasts {sorted(self.models)}, not {unknown}")
        parts = []
        for level, part in frame.groupby(SERIES_LEVEL, sort=True):
            method = self.methods[level]
            engine = clean_statsforecast(
                models=[copy.deepcopy(self.models[level])],  # a fresh fit per call
                freq="D",
                n_jobs=n_jobs,
                fallback_model=SeasonalNaive(season_length=int(self.info["season_length"])),
            )
            history = part.rename(columns={SERIES_ID: "unique_id", "date": "ds"})[["unique_id", "ds", "y"]]
            out = engine.forecast(df=history, h=horizon, level=[80, 95])
            out = out.rename(
                columns={
                    "unique_id": SERIES_ID,
                    "ds": "date",
                    method: "point",
                    **{f"{method}-{side}-{lv}": f"{side}_{lv}" for side in ("lo", "hi") for lv in (80, 95)},
                }
            )
            out[list(FORECAST_COLUMNS)] = out[list(FORECAST_COLUMNS)].clip(lower=0.0)
            calibration = getattr(self, "calibrations", {}).get(level)  # none in versions before them
            if calibration is not None:
                spreads = series_spreads(
                    part, int(self.info["season_length"]), int(calibration["spread_days"])
                )
                out = conformal_bounds(out, spreads, calibration)
            parts.append(out.assign(**{SERIES_LEVEL: level, "method": method}))
        columns = [SERIES_LEVEL, SERIES_ID, "date", *FORECAST_COLUMNS, "method"]
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)[columns]


# What statsforecast's workers unpickle: imported once, by the fork server, not by every worker
WORKER_PRELOAD = ["statsforecast.core", "statsforecast.models"]


@functools.cache
def _clean_statsforecast_class():
    """StatsForecast whose worker processes (n_jobs > 1) start clean. It forks them from the calling
    process by default, and a forked child inherits locks that other threads of the parent held
    (OpenMP, BLAS, Airflow's task runner): such children hung in an Airflow task and in the test
    suite. Ours come from multiprocessing's fork server instead: a fresh single-threaded interpreter,
    started on the first pool, that has imported statsforecast (WORKER_PRELOAD) and forks each
    worker, so a worker neither inherits the caller's threads nor imports statsforecast again (a
    spawned worker did, about 5 s of CPU each)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import statsforecast.core as core
    from statsforecast import StatsForecast

    clean = multiprocessing.get_context("forkserver")
    clean.set_forkserver_preload(WORKER_PRELOAD)  # no effect once a fork server runs

    class CleanStatsForecast(StatsForecast):
        def _get_pool(self):
            return clean.Pool, {}

        def _forecast_parallel(self, *args, **kwargs):
            # the one parallel path that builds its own ProcessPoolExecutor (default context)
            forked = core.ProcessPoolExecutor
            core.ProcessPoolExecutor = functools.partial(ProcessPoolExecutor, mp_context=clean)
            try:
                return super()._forecast_parallel(*args, **kwargs)
            finally:
                core.ProcessPoolExecutor = forked

    return CleanStatsForecast


def clean_statsforecast(**kwargs):
    """A StatsForecast(**kwargs) whose worker processes come from the fork server, not forked from
    the caller."""
    return _clean_statsforecast_class()(**kwargs)
