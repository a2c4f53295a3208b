"""Two kinds of randomness, both keyed by (seed, absolute date, stream) so any day can be re-simulated.

* `uniforms`: counter-based draws, a pure function of (seed, stream, date, customer id, slot). The
  customer process (churn, ordering, order details that feed back into churn) uses only these, so
  a counterfactual run (campaign on / off) gives every customer the very same draws on every day:
  common random numbers, which makes the true campaign effects exact for the realised sample.
* `day_rng`: an ordinary numpy Generator per (seed, date, stream) for everything that never feeds
  back into behaviour (names, prices, timestamps, web events, reviews).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


class Stream(IntEnum):
    # customer process (counter-based, common across counterfactual arms)
    CHURN = 1
    ORDER = 2
    ORDER_DETAIL = 3  # slots: cancel, line count, late, delivery days, coupon
    CHOICE = 4  # one Gumbel key per consideration-set slot
    LINE_DETAIL = 5  # slots: explore?, explored product, return?, return delay (x5 lines)
    ASSIGN = 6  # targeted campaign assignment
    VALUE = 7  # replica seeds of the value truth's Monte Carlo (see value.py)
    # per-day generators (never feed back into behaviour)
    INIT_CATALOG = 100
    INIT_CUSTOMERS = 101
    SIGNUPS = 102
    LAUNCHES = 103
    NAMES = 104
    ORDERS = 105
    EVENTS = 106
    REVIEWS = 107
    POOLS = 108
    REGIME_SIGNUPS = 109  # extra signups of a planted regime change (regimes.py)


def _mix(x: int) -> int:
    """splitmix64 finaliser on a Python int."""
    x &= _MASK
    x ^= x >> 30
    x = (x * _M1) & _MASK
    x ^= x >> 27
    x = (x * _M2) & _MASK
    return x ^ (x >> 31)


def stream_key(seed: int, stream: int, ordinal: int, slot: int = 0) -> int:
    key = _mix(seed + _GOLDEN)
    for part in (int(stream), int(ordinal), int(slot)):
        key = _mix(key + (part + 1) * _GOLDEN)
    return key


def uniforms(seed: int, stream: int, ordinal: int, ids: np.ndarray, slots: int | None = None) -> np.ndarray:
    """Uniforms in (0, 1) for each id (shape (n,)) or each id x slot (shape (n, slots))."""
    ids = np.asarray(ids).astype(np.uint64)
    if slots is None:
        x = ids * np.uint64(_GOLDEN) + np.uint64(stream_key(seed, stream, ordinal))
    else:
        x = ids[:, None] * np.uint64(_GOLDEN) + slot_keys(seed, stream, ordinal, slots)[None, :]
    x = _mix_array(x)
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def _mix_array(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic = the Python version's masking)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(31)
    return x


def slot_keys(seed: int, stream: int, ordinal: int, slots: int) -> np.ndarray:
    """stream_key(seed, stream, ordinal, s) for s in range(slots), the last mix vectorised."""
    key = _mix(seed + _GOLDEN)
    for part in (int(stream), int(ordinal)):
        key = _mix(key + (part + 1) * _GOLDEN)
    x = np.uint64(key) + np.arange(1, slots + 1, dtype=np.uint64) * np.uint64(_GOLDEN)
    return _mix_array(x)


def day_rng(seed: int, stream: int, ordinal: int) -> np.random.Generator:
    return np.random.default_rng([seed, int(stream), ordinal])
