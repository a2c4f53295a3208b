"""Recommendations: pick a customer, see what they bought and what the champion recommender serves."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecomm.dashboard import interactions as I
from ecomm.dashboard import layout as L
from ecomm.dashboard import queries as Q
from ecomm.dashboard.models import recommend
from ecomm.ml import registry
from ecomm.ml.serving import (
    COLD_CATEGORY,
    COLD_COUNTRY,
    COLD_COUNTRY_CATEGORY,
    COLD_GLOBAL,
    MODEL,
    MODEL_COLD_ITEM,
    POPULAR_FILL,
    RERANKED,
    RERANKED_NEW_ITEM,
)

TITLE = "Recommendations"
APPLIES = (
    "the customers to pick from match the filters; recommendations are narrowed to the chosen categories"
)

SOURCES = {
    RERANKED: "personal (re-ranked)",
    RERANKED_NEW_ITEM: "personal (re-ranked), new product (no interactions yet)",
    POPULAR_FILL: "popular in their country, or the shop (their list was shorter)",
    MODEL: "personal (model)",
    MODEL_COLD_ITEM: "personal, new product (no interactions yet)",
    COLD_COUNTRY_CATEGORY: "cold start: popular in their country and the chosen categories",
    COLD_COUNTRY: "cold start: popular in their country",
    COLD_CATEGORY: "cold start: popular in the chosen categories",
    COLD_GLOBAL: "cold start: popular in the whole shop",
}
PERSONAL = {RERANKED, RERANKED_NEW_ITEM, POPULAR_FILL, MODEL, MODEL_COLD_ITEM}  # a known customer's
WHO = {False: "Most net revenue in the filters", True: "Newest sign-ups in the date range"}
MAX_K = 100  # the served model's cap; asked for when recommendations are narrowed to categories


def render(ctx: L.PageContext) -> None:
    wh = ctx.warehouse
    customer_id = pick_customer(ctx) if wh.has_orders else pick_user(ctx)
    if customer_id is None:
        return
    k = st.slider("Recommendations", min_value=5, max_value=20, value=10, key="rec_k")

    profile = Q.customer(wh, customer_id).iloc[0]
    left, right = st.columns(2)
    with left:
        if wh.has_orders:
            show_purchases(wh, customer_id, profile)
        else:
            show_interactions(wh, customer_id, profile)
    with right:
        st.subheader("Recommended")
        show_recommendations(ctx, customer_id, profile["country"], k)


def pick_customer(ctx: L.PageContext) -> int | None:
    """The customer chosen among those with the most net revenue or the newest sign-ups."""
    newest = st.radio("Customers", list(WHO), format_func=WHO.get, horizontal=True, key="rec_newest")
    options = Q.customer_choices(ctx.warehouse, ctx.filters, newest)
    if options.empty:
        st.info("No customer matches the filters: widen the date range or the selection.")
        return None
    return choose(options, lambda i, label: f"#{i} {label}")


def pick_user(ctx: L.PageContext) -> int | None:
    """A rating or event log (no orders): the user chosen among those with the most ratings or events."""
    noun = I.summary(ctx.warehouse).noun
    options = I.user_choices(ctx.warehouse, ctx.filters)
    if options.empty:
        st.info(f"No user has {noun} in the filters: widen the date range or the selection.")
        return None
    counts = dict(zip(options["customer_id"].astype(int), options["interactions"].astype(int), strict=True))
    st.caption(f"The imported data has no orders: the users with the most {noun} in the filters.")
    return choose(options, lambda i, label: f"#{i} {label} · {counts[i]:,} {noun}")


def choose(options, label) -> int:
    labels = dict(zip(options["customer_id"].astype(int), options["label"], strict=True))
    customer_id = st.selectbox(
        "Customer", list(labels), format_func=lambda i: label(i, labels[i]), key="rec_customer"
    )
    if customer_id not in labels:  # the filters changed under a previous pick
        customer_id = next(iter(labels))
    return customer_id


def dated(what: str, day) -> str:
    """'signed up 03 Mar 2026', or 'signed up: unknown' when the source did not give the day (NULL)."""
    return f"{what}: unknown" if day is None or pd.isna(day) else f"{what} {day:%d %b %Y}"


def show_purchases(wh, customer_id: int, profile) -> None:
    history = Q.purchase_history(wh, customer_id)
    st.subheader("Purchase history")
    st.caption(
        f"{profile['name']}, {profile['country']}, {dated('signed up', profile['signup_date'])} · "
        f"{int(profile['orders'])} orders · "
        f"{L.money_cents(float(profile['net_revenue']))} net · segment: {profile['rfm_segment']}"
    )
    if history.empty:
        st.info("No order yet.")
    else:
        st.dataframe(
            history,
            hide_index=True,
            column_config={"revenue": st.column_config.NumberColumn(format="dollar")},
        )


def show_interactions(wh, customer_id: int, profile) -> None:
    history = I.user_history(wh, customer_id)
    what = []
    if "rating" in history:
        stars = history["rating"].dropna()
        what.append(f"{len(stars):,} ratings (average {stars.mean():.2f})")
    if "event" in history:
        what.append(f"{int(history['event'].notna().sum()):,} events")
    st.subheader("History")
    st.caption(
        f"{profile['name']}, {profile['country']}, {dated('first seen', profile['signup_date'])} · "
        f"{' · '.join(what) or 'no rating or event'}"
    )
    if history.empty:
        st.info("No rating or event yet.")
    else:
        st.dataframe(
            history, hide_index=True, column_config={"product_id": "product", "product_name": "name"}
        )


def left_out(wh) -> str:
    """What a known customer's list leaves out: what the recommender took as their choices."""
    if wh.has_orders:
        return "products already bought are left out"
    log = I.summary(wh)
    if log.ratings:
        return "products the customer rated are left out"
    if log.events.get("purchase"):
        return "products the customer purchased are left out (viewed ones may be recommended)"
    return "products the customer had an event on are left out (the log holds no purchase)"


def show_recommendations(ctx: L.PageContext, customer_id: int, country: str, k: int) -> None:
    model = L.champion_or_explain(ctx.settings, registry.RECOMMENDER_MODEL, "ecomm train recommender")
    if model is None:
        return
    categories = ctx.filters.categories
    served = recommend(model, customer_id, MAX_K if categories else k, country, categories)
    products = Q.products(ctx.warehouse, tuple(int(p) for p in served["product_id"]))
    served = served.merge(products, on="product_id", how="left")
    if categories:  # personal lists are not narrowed by the model itself
        served = served[served["category"].isin(categories)]
    served = served.head(k).assign(rank=lambda f: range(1, len(f) + 1))
    sources = set(served["source"])
    cold = sources - PERSONAL
    if cold:
        st.info(
            f"Cold start: customer #{customer_id} is unknown to `{registry.RECOMMENDER_MODEL}` "
            f"v{model.version} (no interactions before its training data ended): "
            + "; ".join(SOURCES[s] for s in sorted(cold))
        )
    else:
        st.caption(f"`{registry.RECOMMENDER_MODEL}` v{model.version}; {left_out(ctx.warehouse)}.")
    if served.empty:
        st.info("None of this customer's recommendations is in the chosen categories.")
        return
    columns = ["rank", "product_id", "product_name", "category", "brand", "list_price", "source"]
    unknown = [c for c in ("category", "brand", "list_price") if served[c].isna().all()]  # an imported log
    st.dataframe(
        served.assign(source=served["source"].map(SOURCES))[[c for c in columns if c not in unknown]],
        hide_index=True,
        column_config={"list_price": st.column_config.NumberColumn("price", format="dollar")},
    )
