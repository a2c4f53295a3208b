"""Customers: a persona drawn at signup, observed attributes, latent traits, and customers.csv rows.

The persona (config.Persona) sets the distribution of the traits: the acquisition channel and the
favourite category are drawn from its weights, activity and price sensitivity are the population's
lognormal draws times its multipliers, churn frailty is shifted; so personas overlap, as real
segments do, but differ in what the shop can observe (frequency, basket, prices, discounts,
categories, sessions).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomm.datagen.catalog import CatalogModel
from ecomm.datagen.columns import Columns
from ecomm.datagen.config import Persona
from ecomm.datagen.pools import COUNTRIES, COUNTRY_NAMES, COUNTRY_WEIGHTS, GENDERS, NamePools, city_weights
from ecomm.datagen.writer import dates, ints, labels
from ecomm.entities import ACQUISITION_CHANNELS

# Referral and e-mail customers stay longer, paid and affiliate ones churn sooner: an observed
# attribute that explains part of the unobserved churn frailty.
CHANNEL_FRAILTY = np.array([0.0, 0.25, 0.35, -0.15, -0.35, 0.30])
CHANNEL_ACTIVITY = np.array([1.0, 0.95, 0.90, 1.10, 1.10, 0.90])
GENDER_UNKNOWN = 2
ACTIVITY_SIGMA = 0.35  # lognormal spread of the baseline order rate
FRAILTY_SIGMA = 0.3  # unobserved heterogeneity of the churn hazard (logit scale)

MAX_EXPLORATION = 0.9
AGE_SCALE = 7.5  # age = 18 + Gamma(3, AGE_SCALE) years, clipped to 18..80

CUSTOMER_DTYPES = dict(
    persona=np.int8,
    signup=np.int32,
    country=np.int16,
    age=np.int16,
    gender=np.int8,
    channel=np.int8,
    activity=np.float64,
    price_sensitivity=np.float64,
    frailty=np.float64,
    responsiveness=np.float64,
    exploration=np.float64,
    browse_ratio=np.float64,
    daytime_share=np.float64,
)


def persona_column(personas: tuple[Persona, ...], name: str) -> np.ndarray:
    """One value per persona (rows of weights are normalised to probabilities)."""
    values = np.array([getattr(p, name) for p in personas], dtype=np.float64)
    return values / values.sum(axis=1, keepdims=True) if values.ndim == 2 else values


def _categorical(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: row i picks from probs[i] with uniform u[i]."""
    cum = np.cumsum(probs, axis=1)[:, :-1]
    return (cum <= u[:, None]).sum(axis=1)


def draw_customers(
    rng: np.random.Generator,
    signup: np.ndarray,
    median_gap_days: float,
    model: CatalogModel,
    personas: tuple[Persona, ...],
    exploration: float,
    persona_shares: np.ndarray | None = None,
    age_scale: float = AGE_SCALE,
    channel: int | None = None,
) -> Columns:
    """len(signup) new customers: persona, attributes, latent traits and taste vectors.

    persona_shares, age_scale and channel replace the personas' shares, the age spread and the
    channel draw for a cohort of a planted regime change (regimes.py); the defaults are the world's.
    """
    n = len(signup)
    k = model.centroids.shape[1]
    shares = persona_column(personas, "share") if persona_shares is None else persona_shares
    persona = _categorical(rng.random(n), shares[None, :].repeat(n, axis=0))
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS)
    age = np.clip(np.round(18 + rng.gamma(3.0, age_scale, n)), 18, 80)
    gender = rng.choice(3, n, p=[0.49, 0.47, 0.04])
    channel_drawn = _categorical(rng.random(n), persona_column(personas, "channel_weights")[persona])
    channel = channel_drawn if channel is None else np.full(n, channel)
    young, senior = age < 30, age >= 55
    activity = (
        np.exp(rng.normal(0.0, ACTIVITY_SIGMA, n))
        / median_gap_days
        * persona_column(personas, "activity")[persona]
        * CHANNEL_ACTIVITY[channel]
        * np.where(senior, 0.9, 1.0)
    )
    price_sensitivity = (
        np.exp(rng.normal(-0.08, 0.4, n))
        * persona_column(personas, "price_sensitivity")[persona]
        * np.where(young, 1.15, 1.0)
    )
    frailty = (
        rng.normal(0.0, FRAILTY_SIGMA, n)
        + persona_column(personas, "churn_frailty")[persona]
        + CHANNEL_FRAILTY[channel]
        + 0.2 * young
        - 0.15 * senior
    )
    responsiveness = np.exp(rng.normal(-0.045, 0.3, n))  # mean 1
    favourite = _categorical(rng.random(n), persona_column(personas, "category_weights")[persona])
    strength = persona_column(personas, "taste_strength")[persona]
    taste = strength[:, None] * model.centroids[favourite] + rng.normal(0.0, 0.5, size=(n, k))
    attrs = dict(
        persona=persona,
        signup=signup,
        country=country,
        age=age,
        gender=gender,
        channel=channel,
        activity=activity,
        price_sensitivity=price_sensitivity,
        frailty=frailty,
        responsiveness=responsiveness,
        exploration=np.minimum(
            exploration * persona_column(personas, "exploration")[persona], MAX_EXPLORATION
        ),
        browse_ratio=persona_column(personas, "browse_ratio")[persona],
        daytime_share=persona_column(personas, "daytime_share")[persona],
    )
    return Columns(**{k_: np.asarray(v, dtype=CUSTOMER_DTYPES[k_]) for k_, v in attrs.items()}, taste=taste)


def customer_table(
    customers: Columns, rows: np.ndarray, pools: NamePools, rng: np.random.Generator
) -> pa.Table:
    """customers.csv rows for `rows` (customer_id = row + 1); names and cities drawn from the pools."""
    n = len(rows)
    country = customers.country[rows].astype(np.int64)
    gender = customers.gender[rows].astype(np.int64)
    female = (gender == 0) | ((gender == GENDER_UNKNOWN) & (rng.random(n) < 0.5))
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    first_slug = np.empty(n, dtype=object)
    last_slug = np.empty(n, dtype=object)
    city = np.empty(n, dtype=object)
    domain = np.empty(n, dtype=object)
    u_first, u_last, u_city, u_domain = rng.random((4, n))
    for ci, c in enumerate(COUNTRIES):  # per country (9), not per customer
        here = country == ci
        for is_female, names, slugs in (
            (True, pools.female[ci], pools.female_slug[ci]),
            (False, pools.male[ci], pools.male_slug[ci]),
        ):
            sel = here & (female == is_female)
            pick = (u_first[sel] * len(names)).astype(int)
            first[sel], first_slug[sel] = names[pick], slugs[pick]
        pick = (u_last[here] * len(pools.last[ci])).astype(int)
        last[here], last_slug[here] = pools.last[ci][pick], pools.last_slug[ci][pick]
        cum = np.cumsum(city_weights(len(c.cities)))
        city_idx = np.minimum(np.searchsorted(cum, u_city[here]), len(c.cities) - 1)
        city[here] = np.array(c.cities, dtype=object)[city_idx]
        domain[here] = np.array(c.email_domains, dtype=object)[
            (u_domain[here] * len(c.email_domains)).astype(int)
        ]
    ids = rows.astype(np.int64) + 1
    # The customer id in the address keeps e-mails unique without remembering the ones used.
    email = pc.binary_join_element_wise(
        pa.array(first_slug, pa.string()),
        ".",
        pc.binary_join_element_wise(
            pa.array(last_slug, pa.string()), pc.cast(pa.array(ids), pa.string()), ""
        ),
        "@",
        pa.array(domain, pa.string()),
        "",
    )
    return pa.table(
        {
            "customer_id": ints(ids),
            "first_name": pa.array(first, pa.string()),
            "last_name": pa.array(last, pa.string()),
            "email": email,
            "age": ints(customers.age[rows]),
            "gender": labels(GENDERS + ("",), gender, mask=gender == GENDER_UNKNOWN),
            "country": labels(COUNTRY_NAMES, country),
            "city": pa.array(city, pa.string()),
            "acquisition_channel": labels(ACQUISITION_CHANNELS, customers.channel[rows]),
            "signup_date": dates(customers.signup[rows]),
        }
    )
