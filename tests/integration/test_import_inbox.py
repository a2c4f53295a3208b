"""The import inbox: files that continue the imported log load only their new days and leave every
loaded row as it was; a file that does not continue the log is refused with nothing written; a file
still being written waits.

The log: CDNOW with customer keys made text (support/cdnow.py), so the importer derives customer ids
and they must stay stable too.
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta

import pytest

from ecomm.imports.inbox import import_inbox
from ecomm.imports.run import import_configured

from support.cdnow import CDNOW, MAP, cdnow_part, source_rows

TODAY = date(2026, 1, 1)
FACTS = (
    "SELECT f.order_id, f.line_no, f.customer_id, f.order_date, f.revenue FROM warehouse.fact_order_items f "
    "WHERE f.order_date < '1997-02-01' ORDER BY 1, 2"
)


@pytest.fixture
def imported(warehouse, tmp_path):
    """An imported warehouse holding CDNOW's January 1997 (as `make up` imports ECOMM_IMPORT_FILE)."""
    settings = warehouse.model_copy(
        update={
            "import_inbox": tmp_path / "inbox",  # (a home of its own would be another server)
            "source": "imported",
            "import_file": cdnow_part(tmp_path / "jan.csv", "19970101", "19970131"),
            "import_map": MAP,
        }
    )
    assert import_configured(settings, today=TODAY).load.ok
    return settings


def test_a_file_continuing_the_log_loads_only_its_days_and_keeps_every_id(imported, sql):
    before = sql(FACTS)
    inbox = imported.inbox_dir
    cdnow_part(inbox / "1997-02.csv", "19970201", "19970228")
    cdnow_part(inbox / "1997-03.csv", "19970301", "19970303", mtime_ago=0)  # still being copied

    run = import_inbox(imported, today=TODAY)

    assert run.refused == {} and run.problems == []
    assert [p.relative_to(inbox).as_posix() for p in run.accepted] == ["accepted/0001-1997-02.csv"]
    assert run.loaded_dates == [date(1997, 2, 1) + timedelta(days=n) for n in range(28)]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["1997-03.csv"]  # left to settle
    assert sql(FACTS) == before  # January's orders, lines and derived customer ids unchanged
    assert sql("SELECT count(*), count(DISTINCT order_date) FROM warehouse.fact_order_items") == [
        (source_rows("19970101", "19970228"), 59)
    ]
    # one customer per distinct source key across both files
    keys = {
        line.split(",")[0] for line in CDNOW.read_text().splitlines()[1:] if line.split(",")[1] < "19970301"
    }
    assert sql("SELECT count(*) FROM warehouse.dim_customer") == [(len(keys),)]


def test_a_file_that_does_not_continue_the_log_is_refused_and_nothing_is_written(imported, sql):
    """Repeating rows the log holds is fine (exact duplicates are dropped); a new row of a loaded day
    is not."""
    inbox = imported.inbox_dir
    cdnow_part(inbox / "a.csv", "19970201", "19970210")
    assert len(import_inbox(imported, today=TODAY).accepted) == 1
    cdnow_part(inbox / "b.csv", "19970205", "19970215")  # repeats a's rows: dropped as duplicates
    assert len(import_inbox(imported, today=TODAY).accepted) == 1
    counts = sql("SELECT count(*), max(order_date) FROM warehouse.fact_order_items")
    assert counts == [(source_rows("19970101", "19970215"), date(1997, 2, 15))]
    c = cdnow_part(inbox / "c.csv", "19970216", "19970220")
    with c.open("a") as f:  # a row of a day the log already holds that is not in the log
        f.write("cnew,19970212,1,9.99\n")
    os.utime(c, (time.time() - 120, time.time() - 120))

    run = import_inbox(imported, today=TODAY)

    why = "c.csv: starts on 1997-02-12, not after the log so far (which ends 1997-02-15): a file added to a log must continue it"
    assert run.accepted == [] and run.refused == {"c.csv": why}
    assert (inbox / "refused" / "c.csv").is_file()
    assert (inbox / "refused" / "c.csv.why.txt").read_text() == why + "\n"
    assert sql("SELECT count(*), max(order_date) FROM warehouse.fact_order_items") == counts
    assert import_inbox(imported, today=TODAY).accepted == []  # refused files are not retried


def test_an_empty_or_missing_inbox_does_nothing_and_other_files_are_refused(imported):
    run = import_inbox(imported, today=TODAY)
    assert (run.accepted, run.refused, run.reports) == ([], {}, [])
    inbox = imported.inbox_dir
    cdnow_part(inbox / "feb.xlsx", "19970201", "19970205")
    cdnow_part(inbox / ".feb.csv.partial", "19970201", "19970205")  # a copy tool's temporary file
    run = import_inbox(imported, today=TODAY)
    why = "feb.xlsx: not a CSV or Parquet file (.csv, .parquet, .pq)"
    assert (run.accepted, run.refused) == ([], {"feb.xlsx": why})
    assert (inbox / "refused" / "feb.xlsx.why.txt").read_text() == why + "\n"
    assert [p.name for p in inbox.iterdir() if p.is_file()] == [".feb.csv.partial"]


def test_a_file_that_would_renumber_the_logs_integer_ids_is_refused(warehouse, tmp_path, sql):
    """CDNOW's own customer ids are integers: a file with a text key would renumber every one."""
    jan = tmp_path / "jan.csv"
    rows = [line for line in CDNOW.read_text().splitlines()[1:] if line.split(",")[1] < "19970108"]
    jan.write_text("customer,date,quantity,amount\n" + "\n".join(rows) + "\n")  # integer ids
    settings = warehouse.model_copy(
        update={
            "import_inbox": tmp_path / "inbox",
            "source": "imported",
            "import_file": jan,
            "import_map": MAP,
        }
    )
    assert import_configured(settings, today=TODAY).load.ok
    before = sql("SELECT count(*), max(customer_id) FROM warehouse.dim_customer")
    feb = cdnow_part(settings.inbox_dir / "feb.csv", "19970201", "19970203")  # keys "c4", ...
    first_key = feb.read_text().splitlines()[1].split(",")[0]

    run = import_inbox(settings, today=TODAY)

    assert run.refused == {
        "feb.csv": f"feb.csv: customer {first_key!r} is not a positive integer, and the log so far uses its own "
        "integer customer ids: numbering them now would change every loaded id"
    }
    assert sql("SELECT count(*), max(customer_id) FROM warehouse.dim_customer") == before
