"""A generated interaction log with a taste to learn: the imported event-log tests' source."""

from __future__ import annotations

import numpy as np
import pandas as pd

USERS, GROUPS, PER_GROUP, DAYS = 300, 6, 20, 126
START = pd.Timestamp("2024-01-01")


def event_log(seed: int = 3) -> pd.DataFrame:
    """visitor, item, kind, ts: each visitor has a taste (one of GROUPS groups of PER_GROUP items) and
    about 17 sessions over DAYS days; a session views 3 items, 85% of them from the visitor's group
    (the group's items Zipf-popular) and the rest from any group, puts one in the cart half the time
    and buys it 60% of those times. Whole-window popularity knows nothing of the taste."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, PER_GROUP + 1)
    zipf /= zipf.sum()
    rows = []
    for user in range(1, USERS + 1):
        group = rng.integers(GROUPS)
        for day in np.sort(rng.choice(DAYS, size=rng.poisson(16) + 1, replace=False)):
            ts = START + pd.Timedelta(days=int(day), minutes=int(rng.integers(8 * 60, 22 * 60)))
            own = rng.random(3) < 0.85
            groups = np.where(own, group, rng.integers(GROUPS, size=3))
            items = groups * PER_GROUP + rng.choice(PER_GROUP, size=3, p=zipf) + 1
            for j, item in enumerate(items):
                rows.append((user, int(item), "view", ts + pd.Timedelta(minutes=2 * j)))
            if rng.random() < 0.5:
                item = items[rng.integers(3)]
                rows.append((user, int(item), "addtocart", ts + pd.Timedelta(minutes=7)))
                if rng.random() < 0.6:
                    rows.append((user, int(item), "transaction", ts + pd.Timedelta(minutes=9)))
    return pd.DataFrame(rows, columns=["visitor", "item", "kind", "ts"])
