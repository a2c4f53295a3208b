"""A country sent to the API, in the churn model's spelling.

Names and codes come from ISO 3166 (pycountry): a name, official or common name, alpha-2 or alpha-3
code, any case, plus a few everyday spellings ISO does not have ("UK", "USA" is ISO already). A
country the model was trained on gets its training spelling ("us" -> "United States"); anything else
is scored as an unknown country (the model has no row for it) with a warning saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import pycountry

ISO_ATTRIBUTES = ("alpha_2", "alpha_3", "name", "official_name", "common_name")
EVERYDAY_NAMES = {  # spelling -> ISO alpha-2
    "uk": "GB",
    "u.k.": "GB",
    "britain": "GB",
    "great britain": "GB",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "the united states": "US",
    "the united kingdom": "GB",
}
MAX_REMEMBERED = 10_000  # distinct spellings kept resolved; the rest are looked up each time


def _key(value: str) -> str:
    return " ".join(value.split()).casefold()


@cache
def iso_alpha3() -> dict[str, str]:
    """Every ISO 3166 spelling (casefolded) -> the country's alpha-3 code."""
    index = {}
    for country in pycountry.countries:
        for attribute in ISO_ATTRIBUTES:
            value = getattr(country, attribute, None)
            if value:
                index[_key(value)] = country.alpha_3
    for spelling, alpha2 in EVERYDAY_NAMES.items():
        index[spelling] = pycountry.countries.get(alpha_2=alpha2).alpha_3
    return index


def fitted_categories(pipeline, column: str) -> list[str] | None:
    """The values of `column` a fitted scikit-learn pipeline's one-hot encoder saw in training
    (None: the pipeline has no such encoder)."""
    for step in getattr(pipeline, "named_steps", {}).values():
        for _, transformer, columns in getattr(step, "transformers_", ()):
            columns = list(columns) if not isinstance(columns, str) else [columns]
            if column not in columns:
                continue
            encoder = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
            categories = getattr(encoder, "categories_", None)
            if categories is not None:
                return [str(value) for value in categories[columns.index(column)]]
    return None


class CountryNames:
    """Resolves a country as sent to (model spelling, warning or None), for the model's `known`
    countries (None: a model whose countries cannot be read; ISO names are used, and only what is not a
    country is warned about)."""

    def __init__(self, known: Iterable[str] | None) -> None:
        self.known = tuple(sorted(known)) if known is not None else None
        index = iso_alpha3()
        self._by_key = {_key(name): name for name in self.known or ()}
        self._by_alpha3 = {index[_key(n)]: n for n in self.known or () if _key(n) in index}
        self._resolved: dict[str, tuple[str, str | None]] = {}

    def resolve(self, value: str) -> tuple[str, str | None]:
        resolved = self._resolved.get(value)
        if resolved is None:
            resolved = self._resolve(value)
            if len(self._resolved) < MAX_REMEMBERED:
                self._resolved[value] = resolved
        return resolved

    def _resolve(self, value: str) -> tuple[str, str | None]:
        key = _key(value)
        if key in self._by_key:
            return self._by_key[key], None
        alpha3 = iso_alpha3().get(key)
        if alpha3 in self._by_alpha3:
            return self._by_alpha3[alpha3], None
        trained_on = f" (the model knows {', '.join(self.known)})" if self.known is not None else ""
        if alpha3 is None:
            return value, (
                f"country {value!r} is not a country name or ISO 3166 code; scored as an unknown "
                f"country{trained_on}"
            )
        name = pycountry.countries.get(alpha_3=alpha3).name
        if self.known is None:
            return name, None
        return name, (
            f"country {value!r} ({name}) is not one the model was trained on; scored as an unknown "
            f"country{trained_on}"
        )
