"""The daily HTML drift report of a hand-made reference and day whose PSI, KS and chi-squared are
known, and the choice of each model's latest report."""

from __future__ import annotations

import datetime as dt
import html
import math
import re

import pandas as pd
from scipy import stats

from ecomm.monitoring.reference import OTHER, drift_against
from ecomm.monitoring.report import bin_labels, latest_reports, render, report_path, write_report

from support.drift_report import summary_rows

DAY = dt.date(2025, 3, 1)
# x: half the 100 reference rows at 0, half at 2 (one edge at 1); c: half a, half b; the
# prediction: half 0.2, half 0.8
REFERENCE = {
    "format": 1,
    "rows": 100,
    "features": {
        "x": {"kind": "numeric", "rows": 100, "edges": [1.0], "shares": [0.5, 0.5], "sketch": [0.0] * 500 + [2.0] * 500},
        "c": {"kind": "categorical", "rows": 100, "shares": {"a": 0.5, "b": 0.5, OTHER: 0.0}},
    },
    "prediction": {"kind": "numeric", "rows": 100, "edges": [0.5], "shares": [0.5, 0.5], "sketch": [0.2] * 500 + [0.8] * 500},
}  # fmt: skip
# the day: x 80 % at 0, c 90 % a, the prediction unchanged
FEATURES = pd.DataFrame({"x": [0.0] * 80 + [2.0] * 20, "c": ["a"] * 90 + ["b"] * 10})
PREDICTIONS = pd.Series([0.2] * 50 + [0.8] * 50)


def test_the_report_shows_each_features_known_psi_test_and_shares(tmp_path):
    rows = drift_against(REFERENCE, FEATURES, PREDICTIONS, threshold=0.2, alpha=0.005)
    text = render("churn_model", "3", DAY, REFERENCE, FEATURES, PREDICTIONS, rows, "the rule")
    path = write_report(tmp_path, "churn_model", "3", DAY, text)
    assert path == tmp_path / "churn_model" / "churn_model-v3-2025-03-01.html"
    written = path.read_text(encoding="utf-8")
    assert written == text

    psi_x = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)  # 0.4159
    psi_c = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)  # 0.8789; OTHER empty: 0
    ks_p = stats.kstwo.sf(0.3, 50)  # KS 0.3 at the effective size 100 * 100 / 200
    chi2_p = stats.chisquare([90, 10], [50, 50]).pvalue
    assert summary_rows(written) == [
        # the prediction first, then the flagged features by PSI
        ['<a href="#__prediction__">__prediction__</a>', "prediction", "0.0000", "KS 0.0000", "1", "no", "100", "100"],
        ['<a href="#c">c</a>', "categorical", f"{psi_c:.4f}", "χ²", f"{chi2_p:.3g}", "yes", "100", "100"],
        ['<a href="#x">x</a>', "numeric", f"{psi_x:.4f}", "KS 0.3000", f"{ks_p:.3g}", "yes", "100", "100"],
    ]  # fmt: skip
    assert (f"{psi_x:.4f}", f"{psi_c:.4f}") == ("0.4159", "0.8789")
    assert "<strong>Drifted:</strong> c, x (2 of 3)" in written
    # each bar carries its exact share: reference and day, per bin or category
    tooltips = [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title></rect>", written)]
    assert tooltips == [
        "≤ 0.5: reference 50.0%", "≤ 0.5: current 50.0%", "> 0.5: reference 50.0%", "> 0.5: current 50.0%",
        "a: reference 50.0%", "a: current 90.0%", "b: reference 50.0%", "b: current 10.0%",
        f"{OTHER}: reference 0.0%", f"{OTHER}: current 0.0%",
        "≤ 1: reference 50.0%", "≤ 1: current 80.0%", "> 1: reference 50.0%", "> 1: current 20.0%",
    ]  # fmt: skip
    # self-contained: no script, no file or address from elsewhere
    assert "<script" not in written and "src=" not in written and "http" not in written


def test_a_rerun_of_the_date_replaces_its_report(tmp_path):
    write_report(tmp_path, "clv_model", "1", DAY, "first")
    path = write_report(tmp_path, "clv_model", "1", DAY, "second")
    assert path.read_text() == "second"
    assert sorted(p.name for p in (tmp_path / "clv_model").iterdir()) == ["clv_model-v1-2025-03-01.html"]


def test_bin_labels_name_the_bins_drift_counts():
    assert bin_labels([1.0, 2.5, 10.0]) == ["≤ 1", "1 – 2.5", "2.5 – 10", "> 10"]
    assert bin_labels([]) == ["all"]


def test_latest_report_per_model_is_the_latest_date_then_the_highest_version(tmp_path):
    for model, version, day in [
        ("churn_model", "1", dt.date(2025, 2, 27)),
        ("churn_model", "1", dt.date(2025, 3, 1)),
        ("churn_model", "2", dt.date(2025, 3, 1)),
        ("churn_model", "2", dt.date(2025, 2, 28)),
        ("segment_model", "4", dt.date(2025, 1, 5)),
    ]:
        write_report(tmp_path, model, version, day, "report")
    (tmp_path / "segment_model" / "notes.html").write_text("not a report")
    assert [(r.model, r.version, r.day, r.path) for r in latest_reports(tmp_path)] == [
        ("churn_model", 2, dt.date(2025, 3, 1), report_path(tmp_path, "churn_model", "2", dt.date(2025, 3, 1))),
        ("segment_model", 4, dt.date(2025, 1, 5), report_path(tmp_path, "segment_model", "4", dt.date(2025, 1, 5))),
    ]  # fmt: skip
    assert latest_reports(tmp_path / "missing") == []
