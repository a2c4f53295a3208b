"""One parser: a file read with its types by pyarrow's CSV reader (the fast path for clean files) and
the same file read as text and parsed by `contract.parse` (the path that names each bad cell)
accept and reject exactly the same cells, with the same values — on a table of edge values."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from ecomm.entities import BY_NAME
from ecomm.warehouse.raw import read_raw_file
from ecomm.warehouse.validate import parse_frame

BAD = "rejected"
INF = float("inf")

BASE_ROWS = {
    "web_events": {
        "event_id": "1",
        "session_id": "7",
        "customer_id": "1",
        "product_id": "2",
        "event_type": "view",
        "event_ts": "2025-03-03 10:15:00",
    },
    "products": {
        "product_id": "1",
        "product_name": "Widget",
        "category": "Home",
        "subcategory": "Cookware",
        "brand": "Acme",
        "list_price": "20.00",
        "unit_cost": "8.00",
        "launch_date": "2023-06-01",
    },
    "campaign_exposure": {
        "customer_id": "1",
        "campaign_id": "2",
        "treated": "true",
        "exposure_date": "2025-03-03",
    },
}

# (entity, column) -> [(the cell as written in the file, quotes included; the parsed value)]
EDGES = {
    ("web_events", "product_id"): [  # integers (every integer SQL type is read as int64)
        ("5", 5),
        (" 5", 5),
        ("5 ", 5),
        ("\t5", 5),
        ("-5", -5),
        ("05", 5),
        ("0x10", 16),
        ("9223372036854775807", 9223372036854775807),
        ("-9223372036854775808", -9223372036854775808),
        ("", None),
        ("NA", None),
        ("null", None),
        ("+5", BAD),
        ("5.0", BAD),
        ("1e3", BAD),
        ("1e308", BAD),
        ("9223372036854775808", BAD),
        ("-9223372036854775809", BAD),
        ('""', BAD),
        ('"1,000"', BAD),
        ("5_0", BAD),
        ("\u0665", BAD),  # an Arabic-Indic digit
        ("five", BAD),
    ],
    ("products", "list_price"): [  # numerics
        ("1.5", 1.5),
        (" 1.5", 1.5),
        ("+1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1E2", 100.0),
        ("0.335", 0.335),  # parses; the numeric(12, 2) bounds reject it (test_load_bounds)
        ("inf", INF),
        ("-inf", -INF),
        ("Infinity", INF),
        ("1e308", 1e308),
        ("1e309", INF),
        ("", None),
        ("nan", None),
        ("NaN", None),
        ('"1,5"', BAD),
        ("0x1p3", BAD),
        ('""', BAD),
        ("20 EUR", BAD),
    ],
    ("products", "launch_date"): [  # dates
        ("2025-03-03", date(2025, 3, 3)),
        (" 2025-03-03", date(2025, 3, 3)),
        ("2025-03-03\t", date(2025, 3, 3)),
        ("", None),
        ("2025-3-3", BAD),
        ("20250303", BAD),
        ("2025-02-30", BAD),
        ("2025-03-03T00:00:00", BAD),
        ("03/03/2025", BAD),
    ],
    ("web_events", "event_ts"): [  # timestamps (shop zone UTC; a zone offset is converted to it)
        ("2025-03-03 10:15:00", datetime(2025, 3, 3, 10, 15)),
        ("2025-03-03T10:15:00", datetime(2025, 3, 3, 10, 15)),
        ("2025-03-03 10:15", datetime(2025, 3, 3, 10, 15)),
        ("2025-03-03", datetime(2025, 3, 3)),
        ("", None),
        ("2025-03-03 10:15:00Z", datetime(2025, 3, 3, 10, 15)),
        ("2025-03-03T10:15:00Z", datetime(2025, 3, 3, 10, 15)),
        ("2025-03-03 10:15:00+02:00", datetime(2025, 3, 3, 8, 15)),
        ("2025-03-03T10:15:00-0500", datetime(2025, 3, 3, 15, 15)),
        ("2025-03-03 10:15:00+05", datetime(2025, 3, 3, 5, 15)),
        ("2025-03-03 10:15:00-00:00", datetime(2025, 3, 3, 10, 15)),
        ("2025-03-03 10:15+02:00", datetime(2025, 3, 3, 8, 15)),
        ("2025-03-03 23:30:00-05:00", datetime(2025, 3, 4, 4, 30)),  # the next day in UTC
        ("2025-03-03 10:15:00.5", BAD),
        ("2025-03-03 10:15:00.5Z", BAD),
        ("2025-03-03 10:15:00z", BAD),
        ("2025-03-03 10:15:00 +02:00", BAD),
        ("2025-03-03 10:15:00+2", BAD),
        ("2025-03-03 10:15:00+99:00", BAD),
        ("2025-03-03+02:00", BAD),
        ("2025-03-03 10:15:00 Europe/Berlin", BAD),
        (" 2025-03-03 10:15:00", BAD),
        (" 2025-03-03 10:15:00Z", BAD),
        ("2025-03-03 10:15:00 ", BAD),
        ("2025-03-03 24:00:00", BAD),
        ('""', BAD),
    ],
    ("campaign_exposure", "treated"): [  # booleans: the contract's spellings, exactly
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("t", True),
        ("1", True),
        ('"true"', True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("f", False),
        ("0", False),
        ("", None),
        ("yes", BAD),
        ("no", BAD),
        ("T", BAD),
        (" true", BAD),
        ("true ", BAD),
        ("2", BAD),
        ('""', BAD),
    ],
}
CASES = [(entity, column, cell, value) for (entity, column), cells in EDGES.items() for cell, value in cells]


def _write(tmp_path: Path, entity: str, column: str, cell: str) -> Path:
    row = BASE_ROWS[entity] | {column: cell}
    path = tmp_path / f"{entity}.csv"
    path.write_text(
        ",".join(BY_NAME[entity].columns) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8"
    )
    return path


def _plain(value):
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date() if value.unit == "ms" else value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


@pytest.mark.parametrize(
    ("entity", "column", "cell", "value"), CASES, ids=[f"{c[1]}={c[2]!r}" for c in CASES]
)
def test_both_read_paths_agree(tmp_path, entity, column, cell, value):
    e = BY_NAME[entity]
    path = _write(tmp_path, entity, column, cell)
    fast = read_raw_file(path, e)
    text = read_raw_file(path, e, typed=False)
    assert not text.typed
    parsed, reasons = parse_frame(e, text.frame)
    if value == BAD:
        assert not fast.typed  # pyarrow's CSV reader rejected the file
        [[reason]] = reasons.values()
        assert reason.startswith(f"{column}: ")
    else:
        assert fast.typed and reasons == {}
        pd.testing.assert_frame_equal(fast.frame, parsed)
        got = _plain(parsed.at[0, column])
        assert got == value and type(got) is type(value)


# In the shop's zone, Europe/Berlin: UTC+1 in March, UTC+2 from the last Sunday of March (30 March 2025).
IN_BERLIN = [
    ("2025-03-03 10:15:00", datetime(2025, 3, 3, 10, 15)),  # naive: already shop time
    ("2025-03-03 10:15:00Z", datetime(2025, 3, 3, 11, 15)),
    ("2025-03-03 10:15:00+01:00", datetime(2025, 3, 3, 10, 15)),
    ("2025-03-03 23:30:00Z", datetime(2025, 3, 4, 0, 30)),
    ("2025-03-30 01:30:00Z", datetime(2025, 3, 30, 3, 30)),  # summer time began at 01:00 UTC
    ("2025-03-03 10:15:00+2", BAD),
]


@pytest.mark.parametrize(("cell", "value"), IN_BERLIN, ids=[c for c, _ in IN_BERLIN])
def test_both_read_paths_convert_a_zone_offset_to_the_shops_zone(tmp_path, cell, value):
    e = BY_NAME["web_events"]
    path = _write(tmp_path, "web_events", "event_ts", cell)
    fast = read_raw_file(path, e, zone="Europe/Berlin")
    text = read_raw_file(path, e, typed=False, zone="Europe/Berlin")
    parsed, reasons = parse_frame(e, text.frame, "Europe/Berlin")
    if value == BAD:
        assert not fast.typed and reasons == {
            0: [f"event_ts: {cell!r} is not a timestamp (YYYY-MM-DD HH:MM:SS)"]
        }
    else:
        assert fast.typed and reasons == {}
        pd.testing.assert_frame_equal(fast.frame, parsed)
        assert _plain(parsed.at[0, "event_ts"]) == value


def test_a_file_of_mixed_naive_and_zoned_timestamps_takes_the_fast_path(tmp_path):
    e = BY_NAME["web_events"]
    rows = [
        BASE_ROWS["web_events"] | {"event_id": str(i), "event_ts": ts}
        for i, ts in enumerate(
            ["2025-03-03 10:15:00", "2025-03-03T08:15:00Z", "2025-03-03 10:15:00+02:00", ""]
        )
    ]
    path = tmp_path / "web_events.csv"
    path.write_text("\n".join([",".join(e.columns), *(",".join(r.values()) for r in rows)]) + "\n")
    fast = read_raw_file(path, e)
    assert fast.typed
    assert [_plain(v) for v in fast.frame["event_ts"]] == [datetime(2025, 3, 3, 10, 15)] + [
        datetime(2025, 3, 3, 8, 15)
    ] * 2 + [None]


def test_every_cell_of_a_clean_file_takes_the_fast_path(tmp_path):
    for entity in BASE_ROWS:
        path = _write(tmp_path, entity, "customer_id" if entity != "products" else "product_id", "1")
        assert read_raw_file(path, BY_NAME[entity]).typed


def test_bad_cells_are_named_with_their_value(tmp_path):
    e = BY_NAME["web_events"]
    path = _write(tmp_path, "web_events", "event_id", "9223372036854775808")
    _, reasons = parse_frame(e, read_raw_file(path, e).frame)
    assert reasons == {
        0: [
            "event_id: '9223372036854775808' is out of range for bigint (-9223372036854775808 to 9223372036854775807)"
        ]
    }
    path = _write(tmp_path, "web_events", "event_ts", "2025-03-03 10:15:00.5")
    _, reasons = parse_frame(e, read_raw_file(path, e).frame)
    assert reasons == {0: ["event_ts: '2025-03-03 10:15:00.5' is not a timestamp (YYYY-MM-DD HH:MM:SS)"]}
