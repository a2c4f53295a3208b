"""Small hand-made interaction logs with known answers for the general recommender library."""

from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-01")


def at(days: float) -> pd.Timestamp:
    return START + pd.Timedelta(days=days)


def two_groups_log() -> pd.DataFrame:
    """Users a0..a4 had items A1..A4 and b0..b4 had B1..B4, except a0 never had A4 and b0 never B4."""
    rows = [
        (f"{group.lower()}{user}", f"{group}{item}", at(user + item))
        for group in "AB"
        for user in range(5)
        for item in range(1, 5)
        if not (user == 0 and item == 4)
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def two_groups_items() -> pd.DataFrame:
    """Categories 'a' and 'b' of the two groups' items, plus A9: a new 'a' item nobody had yet."""
    ids = [f"{g}{i}" for g in "AB" for i in range(1, 5)] + ["A9"]
    return pd.DataFrame({"item_id": ids, "category": [i[0].lower() for i in ids], "price": np.arange(9.0)})


def popularity_log() -> pd.DataFrame:
    """x: 4 users on day 0; y: 2 users on day 90; z: 1 user on day 91 (the log's end)."""
    rows = [(f"u{n}", "x", at(0)) for n in range(1, 5)]
    rows += [("u5", "y", at(90)), ("u6", "y", at(90)), ("u7", "z", at(91))]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def taste_world(seed: int = 0, users_per_group: int = 40, items_per_group: int = 12, days: int = 60):
    """Two taste groups over `days`: each user has 10 of their group's items, popular ones likelier."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in "AB":
        items = [f"{group}{i:02d}" for i in range(items_per_group)]
        weights = 1.0 / np.arange(1, items_per_group + 1)
        for user in range(users_per_group):
            for item in rng.choice(items, size=10, replace=False, p=weights / weights.sum()):
                rows.append((f"{group.lower()}{user}", item, at(float(rng.uniform(0, days)))))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def taste_items(frame: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(frame["item_id"].unique())
    return pd.DataFrame({"item_id": ids, "category": [i[0] for i in ids], "price": 10.0})
