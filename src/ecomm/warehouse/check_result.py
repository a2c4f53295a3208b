"""The outcome of one quality check (its own module: the stream reconciliation returns these and the
quality checks run it, so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass
class CheckResult:
    name: str
    passed: bool
    observed: float | None
    details: str
    batch_date: date | None = None
