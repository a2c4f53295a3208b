"""Point-in-time warehouse extracts for the campaign analyses (parameterised SQL over the star schema).

`targeted_extract`: one row per customer eligible for the targeted (winback) campaign, treated or
control, with covariates computed only from rows dated strictly before the exposure date (facts
that become known later - returns, deliveries - count only once known before it), the treated
flag, and the outcome of the campaign window: completed orders in the `window_days` days from the
exposure date (exposure date included), the truth's `completed_orders_<window>d`.

`regional_panel`: customer x week panel of the regional launch (weeks aligned on the launch date,
treated = target country, post = from the launch week on), outcome completed orders per customer
per week, the truth's `completed_orders_per_week`.

`campaign_truth` reads the planted effects (`truth.campaign_effect`): for evaluation only, never an
input of an estimate.

Every function takes an open psycopg2 connection to the warehouse (`ecomm.db.connection(settings)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import numpy as np
import pandas as pd

from ecomm.db import package_sql, query_frame
from ecomm.features.churn import FeatureError, WarehouseSpan, warehouse_span

TREATMENT = "treated"
LATE_DELIVERY_DAYS = 6  # the shop promises delivery within 5 days; later is late (as ecomm.features)
# The campaign's published segments (the segments of its truth rows): age bands, inclusive ...
AGE_BANDS = (("age_18_34", 18, 34), ("age_35_54", 35, 54), ("age_55_plus", 55, 200))
# ... and deal seekers: a share of completed orders with a discount before exposure >= 0.25.
DEAL_SEEKER_SHARE = 0.25

# Pre-exposure covariates of the targeted extract, as the estimators get them: skewed counts and
# amounts on a log scale (log1p), shares as they are, and the customer's attributes.
TARGETED_COVARIATES = (
    "log_recency",
    "log_monetary",
    "log_frequency",
    "log_tenure",
    "orders_90d",
    "discounted_order_share",
    "discount_share",
    "return_share",
    "late_delivery_share",
    "age",
    "country",
    "acquisition_channel",
)
SEGMENTS = ("age_band", "deal_segment")
# A categorical level with fewer customers than this in either arm is pooled into OTHER_LEVEL: a
# level seen in (almost) one arm only has no comparison group, and it makes the interacted regression
# rank-deficient; in a small shop (a few hundred customers) that is most countries.
MIN_LEVEL_PER_ARM = 5
OTHER_LEVEL = "other"


class ExtractError(ValueError):
    """The warehouse cannot give the asked-for extract; the message says why."""


@cache
def read_sql(name: str) -> str:
    return package_sql("ecomm.causal", name)


# ------------------------------------------------------------------------------------- campaigns
@dataclass(frozen=True)
class Campaign:
    campaign_id: int
    name: str
    campaign_type: str
    start_date: date
    end_date: date
    target_countries: tuple[str, ...]


def campaigns(conn) -> list[Campaign]:
    frame = query_frame(
        conn,
        "SELECT campaign_id, campaign_name, campaign_type, start_date, end_date, target_countries "
        "FROM warehouse.dim_campaign ORDER BY campaign_id",
    )
    return [
        Campaign(
            int(r.campaign_id),
            r.campaign_name,
            r.campaign_type,
            r.start_date,
            r.end_date,
            tuple(r.target_countries or ()),
        )
        for r in frame.itertuples()
    ]


def find_campaign(conn, campaign_type: str, campaign_id: int | None = None) -> Campaign:
    """The campaign with this id, or the only one of this type (the first if there are several)."""
    found = [c for c in campaigns(conn) if c.campaign_type == campaign_type]
    if campaign_id is not None:
        found = [c for c in found if c.campaign_id == campaign_id]
    if not found:
        which = f"campaign {campaign_id}" if campaign_id is not None else "campaign"
        raise ExtractError(
            f"the warehouse holds no {campaign_type} {which}: load a history that reaches its start date"
        )
    return found[0]


def loaded_span(conn) -> WarehouseSpan:
    """First and last business date with facts (the features' span; our error type)."""
    try:
        return warehouse_span(conn)
    except FeatureError as exc:
        raise ExtractError(str(exc)) from None


# ------------------------------------------------------------------------------ targeted campaign
def age_band(age: pd.Series) -> pd.Series:
    bands = pd.Series(pd.NA, index=age.index, dtype="string")
    for name, low, high in AGE_BANDS:
        bands[(age >= low) & (age <= high)] = name
    return bands


@dataclass(frozen=True)
class TargetedExtract:
    """Analysis frame of a targeted campaign and the roles of its columns."""

    frame: pd.DataFrame
    campaign: Campaign
    exposure_date: date
    window_days: int
    outcome: str  # completed_orders_<window>d
    treatment: str = TREATMENT
    covariates: tuple[str, ...] = TARGETED_COVARIATES
    segments: tuple[str, ...] = SEGMENTS
    raw_covariates: tuple[str, ...] = field(default=(), repr=False)
    pooled_levels: dict[str, list[str]] = field(default_factory=dict)  # column -> levels now OTHER_LEVEL

    @property
    def n_treated(self) -> int:
        return int(self.frame[self.treatment].sum())


def targeted_outcome_name(window_days: int) -> str:
    return f"completed_orders_{window_days}d"


def targeted_extract(
    conn, campaign_id: int | None = None, *, complete_window: bool = True
) -> TargetedExtract:
    """One row per eligible customer: pre-exposure covariates, `treated`, outcome of the window.

    complete_window=True (default) refuses a warehouse whose last loaded date is before the end of
    the outcome window; False gives the outcome so far (an interim look; the covariates are the same).

    Columns (besides customer_id, treated, exposure_date, window_days):
    - raw pre-exposure covariates: recency_days (since the last completed order), frequency
      (completed orders), monetary (their revenue, $, as booked: later returns not netted out),
      days_since_first_order, orders_90d, cancelled_orders, discounted_order_share (share of
      completed orders with a discount), discount_share (discount / gross amount), return_share
      (lines returned before exposure / completed lines), late_delivery_share (deliveries known
      before exposure that took >= 6 days), tenure_days (since signup), age, country, gender,
      acquisition_channel;
    - log_recency, log_monetary, log_frequency, log_tenure: log1p of the skewed ones;
    - segments: age_band (age_18_34 / age_35_54 / age_55_plus) and deal_segment (deal_seeker if
      discounted_order_share >= 0.25, else full_price);
    - outcomes (post-exposure, never covariates): completed_orders_<w>d and revenue_<w>d.
    """
    campaign = find_campaign(conn, "targeted", campaign_id)
    span = loaded_span(conn)
    window_days = (campaign.end_date - campaign.start_date).days + 1
    window_end = campaign.start_date + timedelta(days=window_days - 1)
    if complete_window and span.last_day < window_end:
        raise ExtractError(
            f"campaign {campaign.campaign_id} ({campaign.name}): its {window_days}-day outcome window ends "
            f"{window_end}, after the last loaded date {span.last_day}"
        )
    frame = query_frame(
        conn,
        read_sql("targeted_extract.sql"),
        {"campaign_id": campaign.campaign_id, "late_days": LATE_DELIVERY_DAYS},
    )
    if frame.empty:
        raise ExtractError(f"campaign {campaign.campaign_id} ({campaign.name}) has no exposure rows")
    exposure = frame["exposure_date"].unique()
    if len(exposure) != 1:
        raise ExtractError(
            f"campaign {campaign.campaign_id}: exposure dates differ ({sorted(exposure)[:3]} ...)"
        )
    if (frame["frequency"] == 0).any():
        n = int((frame["frequency"] == 0).sum())
        raise ExtractError(
            f"campaign {campaign.campaign_id}: {n} eligible customer(s) have no completed order before the "
            "exposure date in the warehouse; load the history from its first date"
        )
    outcome = targeted_outcome_name(window_days)
    frame = frame.rename(columns={"completed_orders": outcome, "revenue": f"revenue_{window_days}d"})
    frame["treated"] = frame["treated"].astype(bool)
    for column in (
        "recency_days",
        "frequency",
        "days_since_first_order",
        "orders_90d",
        "cancelled_orders",
        "tenure_days",
        "age",
        outcome,
        "window_days",
    ):
        frame[column] = frame[column].astype(np.int64)
    for column in (
        "monetary",
        "discounted_order_share",
        "discount_share",
        "return_share",
        "late_delivery_share",
        f"revenue_{window_days}d",
    ):
        frame[column] = frame[column].astype(float)
    frame["log_recency"] = np.log1p(frame["recency_days"])
    frame["log_monetary"] = np.log1p(frame["monetary"])
    frame["log_frequency"] = np.log1p(frame["frequency"])
    frame["log_tenure"] = np.log1p(frame["tenure_days"])
    frame["age_band"] = age_band(frame["age"])
    if frame["age_band"].isna().any():
        raise ExtractError(
            f"ages outside every band: {sorted(frame.loc[frame['age_band'].isna(), 'age'])[:5]}"
        )
    frame["age_band"] = frame["age_band"].astype(str)
    seeker = frame["discounted_order_share"] >= DEAL_SEEKER_SHARE
    frame["deal_segment"] = np.where(seeker, "deal_seeker", "full_price")
    frame, pooled = pool_rare_levels(frame, "treated", ("country", "acquisition_channel"))
    return TargetedExtract(
        frame=frame,
        pooled_levels=pooled,
        campaign=campaign,
        exposure_date=exposure[0],
        window_days=window_days,
        outcome=outcome,
        raw_covariates=(
            "recency_days",
            "frequency",
            "monetary",
            "days_since_first_order",
            "orders_90d",
            "cancelled_orders",
            "discounted_order_share",
            "discount_share",
            "return_share",
            "late_delivery_share",
            "tenure_days",
            "age",
            "country",
            "gender",
            "acquisition_channel",
        ),
    )


def pool_rare_levels(
    frame: pd.DataFrame, treatment: str, columns: tuple[str, ...], min_per_arm: int = MIN_LEVEL_PER_ARM
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Levels of `columns` with fewer than `min_per_arm` rows in either arm become OTHER_LEVEL; if
    the pooled level is still short in an arm, it joins the most common level. Returns the new frame
    and, per column, the levels pooled (columns with none pooled are left out)."""
    frame, pooled = frame.copy(), {}
    treated = frame[treatment].astype(bool)
    for column in columns:
        values = frame[column].astype(str)
        per_arm = pd.crosstab(values, treated).reindex(columns=[False, True], fill_value=0)
        rare = sorted(per_arm.index[(per_arm < min_per_arm).any(axis=1)])
        if not rare:
            continue
        values = values.where(~values.isin(rare), OTHER_LEVEL)
        other = values == OTHER_LEVEL
        if min(int((other & treated).sum()), int((other & ~treated).sum())) < min_per_arm:
            values = values.where(~other, values[~other].mode().iloc[0] if (~other).any() else OTHER_LEVEL)
        frame[column] = values
        pooled[column] = rare
    return frame, pooled


# ------------------------------------------------------------------------------- regional launch
REGIONAL_OUTCOME = "completed_orders_per_week"


@dataclass(frozen=True)
class RegionalPanel:
    """Customer x week panel of a regional launch and the roles of its columns."""

    frame: pd.DataFrame
    campaign: Campaign
    launch_date: date
    last_day: date  # last day of the post period (last loaded date, or the campaign's end)
    unit: str = "customer_id"
    time: str = "week"
    treated: str = TREATMENT
    post: str = "post"
    outcome: str = REGIONAL_OUTCOME

    @property
    def post_days(self) -> int:
        return (self.last_day - self.launch_date).days + 1

    @property
    def pre_weeks(self) -> int:
        """Weeks (some possibly partial) before the launch week."""
        return int(-self.frame["week"].min()) if (self.frame["week"] < 0).any() else 0


def regional_panel(conn, campaign_id: int | None = None, *, min_pre_weeks: int = 2) -> RegionalPanel:
    """Customer x week panel: customer_id, country, week (relative to launch, 0 = launch week),
    week_start, days (days of the week inside the loaded span), treated, post, completed_orders and
    completed_orders_per_week (= completed_orders * 7 / days)."""
    campaign = find_campaign(conn, "regional", campaign_id)
    span = loaded_span(conn)
    launch = campaign.start_date
    if span.last_day < launch:
        raise ExtractError(
            f"campaign {campaign.campaign_id} ({campaign.name}) launches {launch}, after the last loaded "
            f"date {span.last_day}"
        )
    pre_weeks = (launch - span.first_day).days // 7
    if pre_weeks < min_pre_weeks:
        raise ExtractError(
            f"campaign {campaign.campaign_id} ({campaign.name}): only {(launch - span.first_day).days} days "
            f"of history before the launch {launch}; need {min_pre_weeks} weeks"
        )
    frame = query_frame(
        conn,
        read_sql("regional_panel.sql"),
        {"campaign_id": campaign.campaign_id, "first_day": span.first_day, "last_day": span.last_day},
    )
    if frame.empty:
        raise ExtractError(f"campaign {campaign.campaign_id} ({campaign.name}) has no exposure rows")
    frame["treated"] = frame["treated"].astype(bool)
    frame["post"] = frame["post"].astype(bool)
    for column in ("week", "days", "completed_orders"):
        frame[column] = frame[column].astype(np.int64)
    frame[REGIONAL_OUTCOME] = frame[REGIONAL_OUTCOME].astype(float)
    last_day = min(span.last_day, campaign.end_date)
    return RegionalPanel(frame=frame, campaign=campaign, launch_date=launch, last_day=last_day)


# ---------------------------------------------------------------------------------------- truth
def campaign_truth(conn) -> pd.DataFrame:
    """The planted effects (truth.campaign_effect): campaign_id, estimand, segment, outcome,
    window_days, n_customers, true_effect. Evaluation only."""
    frame = query_frame(
        conn,
        "SELECT campaign_id, estimand, segment, outcome, window_days, n_customers, true_effect "
        "FROM truth.campaign_effect ORDER BY campaign_id, estimand, segment",
    )
    if not frame.empty:
        frame["campaign_id"] = frame["campaign_id"].astype(np.int64)
        frame["true_effect"] = frame["true_effect"].astype(float)
    return frame
