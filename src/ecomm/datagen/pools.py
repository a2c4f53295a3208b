"""Countries and the name pools sampled with numpy (Faker is called only to fill the pools, once)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from faker import Faker


@dataclass(frozen=True)
class Country:
    name: str  # spelled as the API and the dashboard show it
    locale: str  # Faker locale for names
    holiday_code: str  # `holidays` country code
    weight: float  # share of customers
    late_rate: float  # probability that a delivery is late (> 5 days)
    email_domains: tuple[str, ...]
    cities: tuple[str, ...]  # biggest first; sampled with Zipf-like weights


# fmt: off
COUNTRIES: tuple[Country, ...] = (
    Country("United States", "en_US", "US", 0.34, 0.09, ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
            ("New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio",
             "San Diego", "Dallas", "Austin", "Seattle", "Denver", "Boston", "Atlanta", "Miami", "Portland")),
    Country("United Kingdom", "en_GB", "GB", 0.12, 0.06, ("gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"),
            ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Liverpool", "Bristol", "Sheffield",
             "Edinburgh", "Cardiff", "Leicester", "Nottingham")),
    Country("Germany", "de_DE", "DE", 0.11, 0.04, ("gmail.com", "gmx.de", "web.de", "t-online.de"),
            ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart", "Düsseldorf", "Leipzig",
             "Dortmund", "Essen", "Bremen", "Dresden")),
    Country("France", "fr_FR", "FR", 0.09, 0.07, ("gmail.com", "orange.fr", "free.fr", "laposte.net"),
            ("Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier",
             "Bordeaux", "Lille", "Rennes")),
    Country("Spain", "es_ES", "ES", 0.07, 0.10, ("gmail.com", "hotmail.es", "yahoo.es", "outlook.es"),
            ("Madrid", "Barcelona", "Valencia", "Seville", "Zaragoza", "Málaga", "Murcia", "Palma",
             "Bilbao", "Alicante")),
    Country("Italy", "it_IT", "IT", 0.07, 0.12, ("gmail.com", "libero.it", "virgilio.it", "outlook.it"),
            ("Rome", "Milan", "Naples", "Turin", "Palermo", "Genoa", "Bologna", "Florence", "Bari", "Venice")),
    Country("Netherlands", "nl_NL", "NL", 0.05, 0.03, ("gmail.com", "ziggo.nl", "kpnmail.nl", "outlook.com"),
            ("Amsterdam", "Rotterdam", "The Hague", "Utrecht", "Eindhoven", "Groningen", "Tilburg", "Almere",
             "Breda", "Nijmegen")),
    Country("Canada", "en_CA", "CA", 0.08, 0.11, ("gmail.com", "outlook.com", "yahoo.ca", "rogers.com"),
            ("Toronto", "Montreal", "Vancouver", "Calgary", "Edmonton", "Ottawa", "Winnipeg", "Quebec City",
             "Hamilton", "Halifax")),
    Country("Australia", "en_AU", "AU", 0.07, 0.14, ("gmail.com", "bigpond.com", "outlook.com", "yahoo.com.au"),
            ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Gold Coast", "Canberra", "Newcastle",
             "Hobart", "Darwin")),
)
# fmt: on
COUNTRY_NAMES = tuple(c.name for c in COUNTRIES)
COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)
LATE_RATE = np.array([c.late_rate for c in COUNTRIES])
REGIONAL_TARGETS = ("Germany", "France", "Netherlands")  # where express shipping launches
IN_REGIONAL_TARGET = np.array([c.name in REGIONAL_TARGETS for c in COUNTRIES])

GENDERS = ("female", "male")  # plus ~4% empty (not given)


def ascii_slug(text: str) -> str:
    """`Zoë O'Neil` -> `zoeoneil`: for e-mail addresses."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", plain.lower()) or "user"


@dataclass(frozen=True)
class NamePools:
    female: tuple[np.ndarray, ...]  # per country: first names
    male: tuple[np.ndarray, ...]
    last: tuple[np.ndarray, ...]
    female_slug: tuple[np.ndarray, ...]
    male_slug: tuple[np.ndarray, ...]
    last_slug: tuple[np.ndarray, ...]
    brand_stems: np.ndarray


def _distinct(values: list[str]) -> np.ndarray:
    return np.array(list(dict.fromkeys(values)), dtype=object)  # keeps first-seen order (no set order)


def build_name_pools(seed: int, size: int = 150) -> NamePools:
    female, male, last = [], [], []
    for i, country in enumerate(COUNTRIES):
        fake = Faker(country.locale)
        fake.seed_instance(seed * 101 + i)
        female.append(_distinct([fake.first_name_female() for _ in range(size)]))
        male.append(_distinct([fake.first_name_male() for _ in range(size)]))
        last.append(_distinct([fake.last_name() for _ in range(2 * size)]))
    fake = Faker("en_US")
    fake.seed_instance(seed * 101 + 99)
    stems = _distinct([fake.last_name() for _ in range(120)])

    def slugs(pools):
        return tuple(np.array([ascii_slug(v) for v in pool], dtype=object) for pool in pools)

    return NamePools(tuple(female), tuple(male), tuple(last), slugs(female), slugs(male), slugs(last), stems)


def city_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.8
    return w / w.sum()
