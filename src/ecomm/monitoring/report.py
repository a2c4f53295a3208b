"""A model version's daily drift report: one self-contained HTML file per model, version and date.

Per feature and for the prediction it shows the reference's and the day's shares over the
reference's bins (numeric) or categories as an inline SVG bar overlay, beside the PSI, the KS
statistic or chi-squared test, the p-value the flag rule used and the flag - the numbers of
marts.model_monitoring. No script and no asset from another host: the file opens offline and is
safe to hand around. Our own HTML rather than Evidently's: Evidently 0.7 requires plotly < 6 and
the lock holds plotly 7 (README "Model drift").
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecomm.monitoring.drift import bin_shares, category_counts
from ecomm.monitoring.reference import (
    CATEGORICAL,
    OTHER,
    PREDICTION,
    FeatureDrift,
    category_labels,
    finite,
    row_pvalue,
)

REFERENCE_COLOUR, CURRENT_COLOUR = "#9aa5b1", "#2f6fdf"
FILE_NAME = re.compile(r"^(?P<model>.+)-v(?P<version>\d+)-(?P<day>\d{4}-\d{2}-\d{2})\.html$")


@dataclass(frozen=True)
class Distribution:
    """The reference's and the day's shares over the same bins or categories."""

    labels: list[str]
    reference: list[float]
    current: list[float]


def bin_labels(edges: list[float]) -> list[str]:
    """Labels of the bins (-inf, e1], (e1, e2], ..., (ek, inf) that drift.bin_shares counts."""
    if not edges:
        return ["all"]
    e = [f"{x:.3g}" for x in edges]
    return [f"≤ {e[0]}", *(f"{a} – {b}" for a, b in zip(e, e[1:], strict=False)), f"> {e[-1]}"]


def distribution(summary: dict, values) -> Distribution:
    """The shares `summary` (a feature's reference, monitoring.reference) compares with `values`."""
    if summary["kind"] == CATEGORICAL:
        categories = list(summary["shares"])
        labels = category_labels(values)
        counts = (
            category_counts(labels.tolist(), categories, OTHER) if len(labels) else np.zeros(len(categories))
        )
        current = counts / max(counts.sum(), 1)
        return Distribution(categories, [summary["shares"][c] for c in categories], current.tolist())
    x = finite(values)
    edges = np.asarray(summary["edges"], dtype=float)
    current = bin_shares(x, edges) if x.size else np.zeros(len(edges) + 1)
    return Distribution(bin_labels(summary["edges"]), list(summary["shares"]), current.tolist())


def svg_bars(d: Distribution, height: int = 170) -> str:
    """Reference and current shares side by side per bin; each bar's exact share in its tooltip."""
    top, bottom = 10, 40  # room for the bin labels below the bars
    width = max(560, 80 * len(d.labels))  # each bin label gets room to be read
    peak = max([*d.reference, *d.current, 1e-9])
    slot = width / len(d.labels)
    bar = slot * 0.38
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, label in enumerate(d.labels):
        for j, (share, colour, side) in enumerate(
            ((d.reference[i], REFERENCE_COLOUR, "reference"), (d.current[i], CURRENT_COLOUR, "current"))
        ):
            h = (height - top - bottom) * share / peak
            x = i * slot + slot * 0.12 + j * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{html.escape(label)}: {side} {share:.1%}</title></rect>'
            )
        short = label if len(label) <= 14 else label[:13] + "…"
        parts.append(
            f'<text x="{i * slot + slot / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
            f'text-anchor="middle">{html.escape(short)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _test(row: FeatureDrift) -> str:
    if row.ks_statistic is not None:
        return f"KS {row.ks_statistic:.4f}"
    return "χ²" if row.chi2_p_value is not None else "—"


def _ordered(rows: list[FeatureDrift]) -> list[FeatureDrift]:
    """The prediction first, then flagged features, then by PSI (largest first)."""
    return sorted(rows, key=lambda r: (r.feature != PREDICTION, not r.drifted, -r.psi, r.feature))


def _table(rows: list[FeatureDrift]) -> str:
    head = "<tr><th>feature</th><th>kind</th><th>PSI</th><th>test</th><th>p-value</th><th>drifted</th>"
    head += "<th>reference rows</th><th>current rows</th></tr>"
    body = "".join(
        f'<tr class="{"drifted" if r.drifted else ""}"><td><a href="#{html.escape(r.feature)}">'
        f"{html.escape(r.feature)}</a></td><td>{r.kind}</td><td>{r.psi:.4f}</td><td>{_test(r)}</td>"
        f"<td>{_number(row_pvalue(r), '.3g')}</td><td>{'yes' if r.drifted else 'no'}</td>"
        f"<td>{r.reference_rows}</td><td>{r.current_rows}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def _panel(row: FeatureDrift, d: Distribution) -> str:
    flag = '<span class="flag">drifted</span>' if row.drifted else "stable"
    return (
        f'<section id="{html.escape(row.feature)}"><h3>{html.escape(row.feature)} — {flag}</h3>'
        f"<p>PSI {row.psi:.4f} · {_test(row)} · p-value {_number(row_pvalue(row), '.3g')} · "
        f"{row.reference_rows} reference rows, {row.current_rows} today</p>{svg_bars(d)}</section>"
    )


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#1f2933}
table{border-collapse:collapse}td,th{border:1px solid #cbd2d9;padding:2px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}tr.drifted td{background:#fde8e8}
.flag{color:#c81e1e}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}"""


def render(
    model: str,
    version: str,
    day: dt.date,
    reference: dict,
    features: pd.DataFrame,
    predictions,
    rows: list[FeatureDrift],
    rule: str,
) -> str:
    """The report of one day's rows (monitoring.reference.drift_against) of `model` v`version`:
    `features` and `predictions` are the day's population the rows were computed on, `rule` the
    flag rule in words."""
    ordered = _ordered(rows)
    panels = []
    for r in ordered:
        if r.feature == PREDICTION:
            panels.append(_panel(r, distribution(reference["prediction"], predictions)))
        else:
            panels.append(_panel(r, distribution(reference["features"][r.feature], features[r.feature])))
    drifted = [r.feature for r in ordered if r.drifted]
    title = f"{model} v{version} — drift on {day.isoformat()}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Against the training reference stored with the version ({reference['rows']} rows). "
        f"{html.escape(rule)}</p>"
        f"<p><strong>Drifted:</strong> {html.escape(', '.join(drifted)) if drifted else 'none'} "
        f"({len(drifted)} of {len(rows)})</p>"
        f'<p class="legend"><span style="background:{REFERENCE_COLOUR}"></span>reference'
        f'<span style="background:{CURRENT_COLOUR}"></span>{day.isoformat()}</p>'
        f"<h2>Summary</h2>{_table(ordered)}<h2>Distributions</h2>{''.join(panels)}</body></html>"
    )


# ------------------------------------------------------------------------------------------ files
def report_path(directory: Path, model: str, version: str, day: dt.date) -> Path:
    return directory / model / f"{model}-v{version}-{day.isoformat()}.html"


def write_report(directory: Path, model: str, version: str, day: dt.date, text: str) -> Path:
    """Write (or replace) the report; through a temporary file, so a reader never sees half of it."""
    path = report_path(directory, model, version, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


@dataclass(frozen=True)
class ReportFile:
    model: str
    version: int
    day: dt.date
    path: Path


def latest_reports(directory: Path) -> list[ReportFile]:
    """Per model (by name), its report of the latest date (the highest version that day)."""
    found: dict[str, ReportFile] = {}
    for path in sorted(directory.glob("*/*.html")) if directory.is_dir() else []:
        match = FILE_NAME.match(path.name)
        if match is None or match["model"] != path.parent.name:
            continue
        report = ReportFile(match["model"], int(match["version"]), dt.date.fromisoformat(match["day"]), path)
        best = found.get(report.model)
        if best is None or (report.day, report.version) > (best.day, best.version):
            found[report.model] = report
    return [found[m] for m in sorted(found)]
