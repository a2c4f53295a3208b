"""An interaction log imported a month of rows at a time (ecomm.imports.bounded_interactions, what
`ecomm import interactions` runs) gives the batches, the report and the refusals that reading it
whole (`interactions.frame` + `tables`) gives, whatever the block size; without a database."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomm.imports import interactions
from ecomm.imports.source import ImportRefused

from support.import_batches import read_in_blocks, read_whole

EVENTS = {"user_id": "user", "item_id": "item", "date": "ts", "event": "event"}
RATINGS = {"user_id": "user", "item_id": "item", "date": "ts", "rating": "stars"}


def _event_log(path: Path) -> Path:
    """Events over three months with every case a month or block boundary could split: sessions
    that run over midnight at a month's end, gaps of exactly 30 minutes and just over, ties in time,
    empty users and items, spellings of the contract's events and one that is not, exact copies."""
    rows = []
    for n in range(150):
        day = 1 + n % 28
        month = 1 + n // 50
        minute = (n * 7) % 60
        user = "" if n % 23 == 4 else f"u{n % 9}"
        item = "" if n % 31 == 7 else f"item {n % 11}"
        kind = ("view", "Click", "addtocart", "BUY", "wishlist", "")[n % 6]
        rows.append(f"{user},{item},2024-{month:02d}-{day:02d} {10 + n % 3}:{minute:02d}:00,{kind}")
    rows += [  # a session over the month's end (u1: 23:50 -> 00:15), a gap of exactly 30 minutes (u2)
        "u1,item 1,2024-01-31 23:50:00,view",
        "u1,item 2,2024-02-01 00:15:00,view",
        "u2,item 3,2024-02-29 23:40:00,view",
        "u2,item 3,2024-03-01 00:10:00,addtocart",
        "u2,item 4,2024-03-01 00:40:01,purchase",  # 30 min 1 s: a new session
        "u3,item 5,2024-03-01 00:40:01,view",  # the same start: ties by customer id
        "u0,late item,2024-03-31 23:59:59,view",
    ]
    rows += rows[3:6]  # exact duplicates, far from their copies
    path.write_text("user,item,ts,event\n" + "\n".join(rows) + "\n")
    return path


def _rating_log(path: Path) -> Path:
    """Ratings with the source's integer ids (one written '01': the same product as '1'), over three
    months, with ties in time."""
    rows = [f"{1 + n % 13},{('1', '01', '2', '3', '40')[n % 5]},{1700000000 + 86_400 * (n // 2)},{1 + n % 5}"
            for n in range(120)]  # fmt: skip
    path.write_text("user,item,ts,stars\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("block_bytes", [40, 600, 1 << 20])
@pytest.mark.parametrize(
    ("make", "mapping"), [(_event_log, EVENTS), (_rating_log, RATINGS)], ids=["events", "ratings"]
)
def test_the_bounded_import_gives_the_bytes_and_report_of_the_whole_read(
    tmp_path, make, mapping, block_bytes
):
    log = [make(tmp_path / "log.csv")]
    expected, derived = read_whole(log, tmp_path / "whole", interactions, mapping)
    found, bounded_derived = read_in_blocks(log, tmp_path / "bounded", block_bytes, interactions, mapping)
    assert found == expected
    assert bounded_derived == derived
    assert derived.duplicates == (3 if make is _event_log else 0)
    days = (derived.last_day - derived.first_day).days + 1
    assert len({name.split("/")[0] for name in expected}) == days > 55  # a batch per day over months


def test_sessions_continue_over_a_month_end(tmp_path):
    log = [_event_log(tmp_path / "log.csv")]
    files, _ = read_in_blocks(log, tmp_path / "out", 200, interactions, EVENTS)

    def events(day: str) -> list[dict]:
        return list(csv.DictReader(io.StringIO(files[f"{day}/web_events.csv"].decode())))

    at = {
        (e["customer_id"], e["event_ts"]): e["session_id"]
        for day in ("2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01")
        for e in events(day)
    }
    u1, u2 = (
        next(c for c, ts in at if ts == moment) for moment in ("2024-01-31 23:50:00", "2024-02-29 23:40:00")
    )
    assert at[u1, "2024-01-31 23:50:00"] == at[u1, "2024-02-01 00:15:00"]  # 25 minutes apart
    assert at[u2, "2024-02-29 23:40:00"] == at[u2, "2024-03-01 00:10:00"]  # exactly 30 minutes apart
    assert at[u2, "2024-03-01 00:10:00"] != at[u2, "2024-03-01 00:40:01"]  # 30 minutes 1 second apart


def test_a_parquet_log_names_the_empty_item_as_the_whole_read_does(tmp_path):
    """A Parquet item column can hold both null and "": one product (the empty key), named "" as the
    whole read names it (its first name that is not null)."""
    table = pa.table(
        {
            "user": ["u1", "u2", "u1"],
            "item": [None, "", "i1"],
            "ts": ["2024-01-01 10:00:00", "2024-01-01 11:00:00", "2024-01-02 10:00:00"],
            "event": ["view", "view", "view"],
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    expected, _ = read_whole([tmp_path / "log.parquet"], tmp_path / "whole", interactions, EVENTS)
    found, _ = read_in_blocks([tmp_path / "log.parquet"], tmp_path / "out", 1 << 20, interactions, EVENTS)
    assert found == expected
    assert found["2024-01-01/products.csv"].decode().splitlines()[1].startswith('1,""')


def _refusal(tmp_path: Path, body: str, mapping: dict, block_bytes: int) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ImportRefused) as whole_read:
        read_whole([path], tmp_path / "whole", interactions, mapping)
    with pytest.raises(ImportRefused) as bounded:
        read_in_blocks([path], tmp_path / "out", block_bytes, interactions, mapping)
    assert not (tmp_path / "out").exists()  # nothing written
    assert str(bounded.value) == str(whole_read.value)
    return str(bounded.value)


GOOD = "".join(f"u{n},i{n % 3},2024-01-{n % 28 + 1:02d},{n % 5 + 1}\n" for n in range(40))


@pytest.mark.parametrize("block_bytes", [30, 1 << 20])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("u1,i1,2024-01-01,x\n" + GOOD + "u2,i2,2024-01-02 10:00,1\n", "ts: mixed date formats"),
        ("u1,i1,2024-01-01,4.5\n" + GOOD + "u2,i2,2099-02-01,1\n" + GOOD + "u3,i1,2099-01-05,1\n",
         "ts: 2 row(s) dated after today 2026-01-01 (first 2099-01-05)"),
        (GOOD + "u1,i1,2024-01-01,4.5\nu2,i2,2024-01-01,x\n", "stars: row 42: 'x' is not a number"),
        (GOOD + "u1,i1,2024-01-01,4.5\n" + GOOD, "stars: row 41: 4.5 is not a whole number of stars"),
    ],
    ids=["dates-first", "future-counted-over-blocks", "a-number-before-stars", "half-star"],
)  # fmt: skip
def test_a_refusal_is_the_one_a_whole_read_gives(tmp_path, body, expected, block_bytes):
    found = _refusal(tmp_path, "user,item,ts,stars\n" + body, RATINGS, block_bytes)
    assert found.startswith(expected)


def test_mapping_both_event_and_rating_is_refused_before_reading(tmp_path):
    found = _refusal(tmp_path, "user,item,ts,stars\n" + GOOD, {**RATINGS, "event": "stars"}, 1 << 20)
    assert found == "--map: map exactly one of event or rating"


def test_a_file_that_does_not_continue_the_log_is_refused(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("user,item,ts,stars\n" + GOOD)
    second.write_text("user,item,ts,stars\nu1,i1,2024-01-10,3\n")
    with pytest.raises(ImportRefused, match="b.csv: starts on 2024-01-10, not after the log so far"):
        read_in_blocks([first, second], tmp_path / "out", 1 << 20, interactions, RATINGS)
    assert not (tmp_path / "out").exists()


def _events(path: Path, rows: int) -> Path:
    """`rows` events of 300 users over 200 items across half a year: the keys do not grow with the rows."""
    lines = (
        f"u{n * 7 % 300},i{n * 13 % 200},{1_700_000_000 + n * 15_552_000 // rows},{('view', 'cart', 'buy')[n % 3]}"
        for n in range(rows)
    )
    path.write_text("user,item,ts,event\n" + "\n".join(lines) + "\n")
    return path


_PEAK = """
import sys, tracemalloc
from datetime import date
from pathlib import Path
from ecomm.imports import interactions
from ecomm.imports.days import write_whole
from ecomm.imports.run import write_log
from ecomm.imports.source import open_log
log, out, today = Path(sys.argv[1]), Path(sys.argv[2]), date(2026, 1, 1)
mapping = {"user_id": "user", "item_id": "item", "date": "ts", "event": "event"}
tracemalloc.start()
if sys.argv[3] == "whole":
    rows, derived = interactions.frame(open_log([log], mapping, block_bytes=16 << 10), mapping, None, today)
    write_whole(interactions.tables(rows, derived), out)
else:
    write_log([log], mapping, interactions, lambda: out, date_format=None, delimiter=",", encoding="utf-8",
              today=today, block_bytes=16 << 10)
print(tracemalloc.get_traced_memory()[1])
"""


def _peak(log: Path, out: Path, whole: bool) -> int:
    """The peak of the memory Python and numpy allocate (tracemalloc) reading `log` and writing its
    batches, in a fresh process (no earlier test's objects count). Arrow's memory is left out: the
    same in both reads here, it is the CSV reader's readahead (up to 32 blocks of 1 MiB, so at these
    sizes the whole file)."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(log), str(out), "whole" if whole else "blocks"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


def test_memory_grows_with_a_month_of_rows_not_with_the_log(tmp_path):
    """Four times the rows: the whole read's peak grows with every row it holds; the import's grows by
    its duplicate hashes (8 bytes a row) and by a month of rows, a sixth of the log."""
    sizes = (10_000, 40_000)
    logs = [_events(tmp_path / f"{rows}.csv", rows) for rows in sizes]
    growth = {}
    for whole in (True, False):
        small, large = (_peak(log, tmp_path / f"{whole}-{log.stem}", whole) for log in logs)
        growth[whole] = (large - small) / (sizes[1] - sizes[0])  # bytes per added row
    assert growth[False] < growth[True] / 3, growth
