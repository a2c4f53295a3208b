"""The pure parts of realised quality: which cutoff's labels matured on a date, and the AUCs on the
rows the truth covers."""

from __future__ import annotations

import datetime as dt
import math

from ecomm.monitoring.quality import matured_cutoff, realised_auc


def test_the_matured_cutoff_is_the_one_whose_label_window_ends_on_the_day():
    assert matured_cutoff(dt.date(2025, 3, 1), 60) == dt.date(2025, 1, 1)  # [Jan 1, Mar 2) ends Mar 1
    assert matured_cutoff(dt.date(2025, 1, 30), 30) == dt.date(2025, 1, 1)
    assert matured_cutoff(dt.date(2025, 1, 1), 1) == dt.date(2025, 1, 1)


def test_auc_without_truth_uses_every_row():
    assert realised_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == (0.75, None, 4, 2)
    assert realised_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], [math.nan] * 4) == (0.75, None, 4, 2)


def test_auc_with_truth_keeps_the_rows_the_truth_covers():
    # the last row has no truth: both AUCs on the first three (model 1 of 2 pairs right, truth both)
    assert realised_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], [0.2, 0.3, 0.6, math.nan]) == (0.5, 1.0, 3, 1)


def test_one_class_has_no_auc():
    assert realised_auc([1, 1, 1], [0.2, 0.5, 0.9]) == (None, None, 3, 3)
    assert realised_auc([0, 0], [0.2, 0.5], [0.1, 0.3]) == (None, None, 2, 0)
