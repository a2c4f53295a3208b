"""One customer's recommendations read straight from the served re-ranked model, without pandas: the
rows its pyfunc's predict() returns for that customer, as plain values.

Why: the API asks for one customer per request, and predict() spends milliseconds building and
grouping DataFrames (RerankedRecommenderPyfunc.annotate) around a list lookup of ~0.02 ms: the GET
handler took 10 ms through predict() and takes 0.26 ms through the lookup (README, Prediction API). The lookup calls
the loaded model's own list lookup, fill and cold start (`personal`, `cold_start`: the pickled
version's code) and labels the rows as annotate() does. `compile_lookup` checks it against predict()
on probe customers when the model loads and returns None when the model is another kind or the two
disagree (a version pickled with other labelling code); the caller then uses predict().
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecomm.ml.serving import (
    BECAUSE_ACTION,
    BECAUSE_PRODUCT_ID,
    COLD_CATEGORY,
    COLD_COUNTRY,
    COLD_COUNTRY_CATEGORY,
    COLD_GLOBAL,
    CONFIDENCE,
    MAX_K,
    POPULAR_FILL,
    POPULAR_IN,
    RANK,
    RERANKED,
    RERANKED_NEW_ITEM,
    SCORE,
    SOURCE,
)

PERSONAL_SOURCES = (RERANKED, RERANKED_NEW_ITEM)

log = logging.getLogger("ecomm.api")


@dataclass(frozen=True)
class Recommended:
    """One row of the recommender's output (ecomm.ml.serving's module docstring names the fields)."""

    rank: int
    product_id: int
    score: float
    source: str
    confidence: float | None = None  # None: a version without calibration (predict's NaN)
    because_product_id: int = -1
    because_action: str = ""
    popular_in: str = ""


def rows_of_frame(recs: pd.DataFrame) -> list[Recommended]:
    """predict()'s rows as Recommended (a column an older version lacks takes the default)."""
    rows = []
    for row in recs.to_dict("records"):
        confidence = row.get(CONFIDENCE)
        rows.append(
            Recommended(
                rank=int(row[RANK]),
                product_id=int(row["product_id"]),
                score=float(row[SCORE]),
                source=row[SOURCE],
                confidence=None if confidence is None or math.isnan(confidence) else float(confidence),
                because_product_id=int(row.get(BECAUSE_PRODUCT_ID, -1)),
                because_action=row.get(BECAUSE_ACTION) or "",
                popular_in=row.get(POPULAR_IN) or "",
            )
        )
    return rows


def split_categories(categories: str | None) -> list[str]:
    """The request's comma-joined categories as predict() reads them."""
    return [c.strip() for c in categories.split(",") if c.strip()] if isinstance(categories, str) else []


class Lookup:
    def __init__(self, model) -> None:
        self.model = model
        self.state = model.state

    def row_of(self, customer_id: int) -> int:
        """The customer's row in the model (-1: unknown to it, so cold start)."""
        users = self.state["user_ids"]
        pos = int(users.searchsorted(customer_id))  # the method: half np.searchsorted's overhead
        return pos if pos < len(users) and int(users[pos]) == customer_id else -1

    def knows(self, customer_id: int) -> bool:
        """A known customer's list does not depend on the country or categories a request gives."""
        return self.row_of(customer_id) >= 0

    def recommend(
        self, customer_id: int, k: int, country: str | None = None, categories: str | None = None
    ) -> list[Recommended]:
        """predict()'s rows for one input row {customer_id, k, country, categories}."""
        s, row = self.state, self.row_of(customer_id)
        k = min(max(int(k), 1), MAX_K)
        if row >= 0:
            [(top, scores, sources)] = self.model.personal(np.asarray([row]), np.asarray([k]))
            sources = [str(source) for source in sources]
        else:
            top, scores, source = self.model.cold_start(
                self._country(customer_id, country), split_categories(categories), k
            )
            sources = [source] * len(top)
        ranks = range(1, len(top) + 1)
        confidences = self._confidences(ranks, sources)
        explain = self._explainer(row)
        rows = []
        for rank, product_id, score, pos, source, confidence in zip(
            ranks,
            s["item_ids"][top].tolist(),
            np.asarray(scores).tolist(),
            top,
            sources,
            confidences,
            strict=True,
        ):
            personal = source in PERSONAL_SOURCES
            because, action = explain(rank) if personal else (-1, "")
            rows.append(
                Recommended(
                    rank=rank,
                    product_id=product_id,
                    score=float(score),
                    source=source,
                    confidence=confidence,
                    because_product_id=because,
                    because_action=action,
                    popular_in="" if personal else self._popular_in(customer_id, country, source, int(pos)),
                )
            )
        return rows

    def _country(self, customer_id: int, given) -> str | None:
        """The request's country, else the one the model has on file (as predict() chooses)."""
        return given if isinstance(given, str) and given else self.state["customer_country"].get(customer_id)

    def _confidences(self, ranks: range, sources: list[str]) -> list[float | None]:
        """The personal curve at a personal row's rank; the popular curve at a popularity row's
        place among the popular rows (after the customer's personal ones)."""
        curves = self.state.get("calibration")
        if curves is None:
            return [None] * len(sources)
        n_personal = sum(source in PERSONAL_SOURCES for source in sources)
        return [
            float(curves["personal"][min(rank, MAX_K) - 1])
            if source in PERSONAL_SOURCES
            else float(curves["popular"][min(max(rank - n_personal, 1), MAX_K) - 1])
            for rank, source in zip(ranks, sources, strict=True)
        ]

    def _explainer(self, row: int):
        """rank -> (the history item most co-occurring with the list's item at that rank, how the
        customer met it: "bought" or "viewed"); (-1, "") without one. The customer's list and
        purchases are read once per request."""
        s = self.state
        if row < 0 or "list_because" not in s:
            return lambda rank: (-1, "")
        start = int(s["list_indptr"][row])
        bought = set(s["bought_indices"][s["bought_indptr"][row] : s["bought_indptr"][row + 1]].tolist())

        def explain(rank: int) -> tuple[int, str]:
            pos = int(s["list_because"][start + rank - 1])
            if pos < 0:
                return -1, ""
            return int(s["item_ids"][pos]), "bought" if pos in bought else "viewed"

        return explain

    def _popular_in(self, customer_id: int, given, source: str, pos: int) -> str:
        """Where a popularity row's product is popular (as RerankedRecommenderPyfunc._popular_in)."""
        s = self.state
        country = self._country(customer_id, given)
        category = str(s["item_category"][pos])
        if source == COLD_COUNTRY_CATEGORY:
            return f"{category} in {country}"
        if source == COLD_COUNTRY:
            return country
        if source == COLD_CATEGORY:
            return category
        if source == COLD_GLOBAL:
            return "the shop"
        if source == POPULAR_FILL:  # the country whose best sellers filled the list (as _fill chose)
            on_file = s["customer_country"].get(customer_id)
            return on_file if on_file in s["country_popularity"] else "the shop"
        return ""


def probes(state: dict) -> list[tuple[int, int, str | None, str | None]]:
    """(customer_id, k, country, categories) rows covering each path: known customers (first, last,
    the shortest list, so a fill), unknown ones with and without a country and categories, at small
    and the largest k. Distinct ids: predict() reads one country per customer id."""
    users = state["user_ids"]
    lengths = np.diff(state["list_indptr"])
    known = sorted({int(users[0]), int(users[-1]), int(users[int(np.argmin(lengths))])})
    place = next(iter(state["country_popularity"]), None)
    category = str(state["item_category"][0])
    new = int(users[-1]) + 1
    on_file = [c for c in state["customer_country"] if c not in set(users.tolist())][:1]
    unknown = [
        (new, None, None),
        (new + 1, place, category),
        (new + 2, place, None),
        (new + 3, "\x00nowhere", f" {category} , nothing"),
        *[(c, None, None) for c in on_file],
    ]
    ks = (3, 10, MAX_K, 7, 10)[: len(unknown)]
    rows = [(c, k, None, None) for c in known for k in (1, 10, MAX_K)]
    return rows + [(c, k, where, cats) for (c, where, cats), k in zip(unknown, ks, strict=True)]


def compile_lookup(model) -> Lookup | None:
    """A Lookup for a re-ranked recommender whose rows equal its predict()'s on the probes, else None."""
    state = getattr(model, "state", {})
    needed = (
        "user_ids", "list_indptr", "list_items", "item_ids", "customer_country", "country_popularity",
        "item_category",
    )  # fmt: skip
    if (
        not hasattr(model, "annotate")
        or any(key not in state for key in needed)
        or not len(state["user_ids"])
    ):
        return None
    lookup, rows = Lookup(model), probes(state)
    frame = pd.DataFrame(
        {
            "customer_id": np.asarray([r[0] for r in rows], dtype=np.int64),
            "k": np.asarray([r[1] for r in rows], dtype=np.int64),
            "country": [r[2] for r in rows],
            "categories": [r[3] for r in rows],
        }
    )
    # one predict() per probe row: a customer id appears at several k
    try:
        for i, (customer_id, k, country, categories) in enumerate(rows):
            expected = rows_of_frame(model.predict(None, frame.iloc[[i]].reset_index(drop=True)))
            if lookup.recommend(customer_id, k, country, categories) != expected:
                return None
    except Exception:  # a version whose state the lookup misreads is served by its pyfunc instead
        log.warning("the recommendation lookup failed on a probe customer", exc_info=True)
        return None
    return lookup
