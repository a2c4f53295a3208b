"""Same config -> identical files; a continued world writes exactly what a longer history writes."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ecomm.datagen import GeneratorConfig, generate_history, generate_next_day
from ecomm.entities import STATE_DIR

BASE = dict(seed=7, customers=600, products=80, days=90)
AS_OF = date(2024, 3, 31)


def files(out: Path) -> dict[str, bytes]:
    """Every output file except the state arrays (zip metadata there carries write times)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and STATE_DIR not in p.parts
    }


def test_same_config_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    config = GeneratorConfig(as_of=AS_OF, **BASE)
    generate_history(config, tmp_path / "a")
    generate_history(config, tmp_path / "b")
    generate_history(GeneratorConfig(as_of=AS_OF, **{**BASE, "seed": 8}), tmp_path / "c")
    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert len(a) == 90 * (8 + 1) + 8 + 1  # batches (8 files and a manifest), truth files, ground_truth.json
    assert a == b
    assert a.keys() == c.keys()
    day = (AS_OF - timedelta(days=10)).isoformat()
    for name in ("customers", "order_items", "web_events"):
        assert a[f"{day}/{name}.csv"] != c[f"{day}/{name}.csv"]


def test_next_day_continues_exactly_like_a_longer_history(tmp_path):
    plan = dict(BASE, plan_days=BASE["days"])  # same plan for both worlds (see GeneratorConfig.plan_days)
    short, long_ = tmp_path / "short", tmp_path / "long"
    summary = generate_history(GeneratorConfig(as_of=AS_OF, **plan), short)
    assert summary.first_date == AS_OF - timedelta(days=89)
    assert summary.last_date == AS_OF
    first = generate_next_day(short)
    second = generate_next_day(short)
    assert first.dates == (AS_OF + timedelta(days=1),)
    assert second.dates == (AS_OF + timedelta(days=2),)
    assert second.rows["order_items"] > 0
    assert 0 < second.orders <= second.rows["order_items"]
    assert summary.orders == int(pd.read_csv(short / AS_OF.isoformat() / "order_items.csv").order_id.max())

    generate_history(GeneratorConfig(as_of=AS_OF + timedelta(days=2), **{**plan, "days": 92}), long_)
    continued, longer = files(short), files(long_)
    assert continued.keys() == longer.keys()
    different = [name for name in longer if continued[name] != longer[name]]
    assert different == []  # every batch, every truth file and ground_truth.json


def test_a_day_redone_after_a_crash_rewrites_the_same_batch(tmp_path):
    out = tmp_path / "w"
    generate_history(GeneratorConfig(as_of=AS_OF, **BASE), out)
    saved_state = tmp_path / "state-before"
    shutil.copytree(out / STATE_DIR, saved_state)
    generate_next_day(out)
    day = (AS_OF + timedelta(days=1)).isoformat()
    written = {p.name: p.read_bytes() for p in (out / day).iterdir()}

    # killed after writing the batch but before saving the state, with a half-written temp dir
    shutil.rmtree(out / STATE_DIR)
    shutil.copytree(saved_state, out / STATE_DIR)
    (out / f".tmp-{day}").mkdir()
    (out / f".tmp-{day}" / "order_items.csv").write_text("order_id\n1\n")
    summary = generate_next_day(out)

    assert summary.dates == (AS_OF + timedelta(days=1),)
    assert {p.name: p.read_bytes() for p in (out / day).iterdir()} == written
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
