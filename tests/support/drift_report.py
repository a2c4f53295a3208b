"""Reading back a daily HTML drift report (ecomm.monitoring.report)."""

from __future__ import annotations

import re


def summary_rows(text: str) -> list[list[str]]:
    """The cells of the report's summary table, row by row (the feature cell is its anchor link)."""
    table = re.search(r"<h2>Summary</h2><table>(.*?)</table>", text).group(1)
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table)[1:]]


def feature_of(cell: str) -> str:
    return re.search(r">(.*)</a>", cell).group(1)
