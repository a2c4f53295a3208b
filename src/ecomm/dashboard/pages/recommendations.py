"""Recommendations: pick a customer, see what they bought and what the champion recommender serves."""

from __future__ import annotations

import streamlit as st

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
    wh, flt = ctx.warehouse, ctx.filters
    newest = st.radio("Customers", list(WHO), format_func=WHO.get, horizontal=True, key="rec_newest")
    options = Q.customer_choices(wh, flt, newest)
    if options.empty:
        st.info("No customer matches the filters: widen the date range or the selection.")
        return
    labels = dict(zip(options["customer_id"].astype(int), options["label"], strict=True))
    customer_id = st.selectbox(
        "Customer", list(labels), format_func=lambda i: f"#{i} {labels[i]}", key="rec_customer"
    )
    if customer_id not in labels:  # the filters changed under a previous pick
        customer_id = next(iter(labels))
    k = st.slider("Recommendations", min_value=5, max_value=20, value=10, key="rec_k")

    profile = Q.customer(wh, customer_id).iloc[0]
    history = Q.purchase_history(wh, customer_id)
    left, right = st.columns(2)
    with left:
        st.subheader("Purchase history")
        st.caption(
            f"{profile['name']}, {profile['country']}, signed up "
            f"{profile['signup_date']:%d %b %Y} · {int(profile['orders'])} orders · "
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
    with right:
        st.subheader("Recommended")
        show_recommendations(ctx, customer_id, profile["country"], k)


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
        st.caption(f"`{registry.RECOMMENDER_MODEL}` v{model.version}; products already bought are left out.")
    if served.empty:
        st.info("None of this customer's recommendations is in the chosen categories.")
        return
    st.dataframe(
        served.assign(source=served["source"].map(SOURCES))[
            ["rank", "product_id", "product_name", "category", "brand", "list_price", "source"]
        ],
        hide_index=True,
        column_config={"list_price": st.column_config.NumberColumn("price", format="dollar")},
    )
