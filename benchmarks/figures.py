"""The README's measured figures, rendered from the stored results (never typed by hand).

Each block of README.md between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->` is rendered
from stored files:
  benchmarks, platform  benchmarks/results/{generate,load,daily_history,big_day,import,platform,daily}.json
                        (`make bench`; a result not measured yet is shown as such)
  models                docs/results/model_report.json (`ecomm evaluate --report`) + world.json
  models_seeds          benchmarks/results/models_seeds.json (python -m benchmarks.bench_models_seeds)
  recommend_general     benchmarks/results/recommend_general.json
                        (python -m benchmarks.bench_recommend_general --seeds 1 2 3)
  causal                docs/results/causal_estimates.csv (`ecomm causal report`) + world.json
  forecast_real         benchmarks/results/forecast_real.json (python -m benchmarks.bench_forecast_real)
  forecast_seeds        benchmarks/results/forecast_seeds.json (python -m benchmarks.bench_forecast_seeds)
  recommend_real        benchmarks/results/recommend_real.json (python -m benchmarks.bench_recommend_real)
  import_recommend      benchmarks/results/import_recommend.json (python -m benchmarks.bench_import_recommend)
  import_interactions   benchmarks/results/import_interactions.json (--only import_interactions)
  recommend_train       benchmarks/results/recommend_train{,_before}.json (--only recommend_train)
  stream                benchmarks/results/stream_{ingest,fanout,day}.json (--only stream_ingest --only stream_fanout
                        --only stream_day)
  drift                 benchmarks/results/drift.json (python -m benchmarks.bench_drift --seeds 1 2 3)
  drift_retrain         benchmarks/results/drift_retrain.json (python -m benchmarks.bench_drift_retrain)
  monitoring            benchmarks/results/monitoring.json (python -m benchmarks.run --only monitoring)
  api                   benchmarks/results/api.json (python -m benchmarks.run --only api ...)
  contract              the raw contract's declarations (src/ecomm/entities.py), not a measurement

python -m benchmarks.figures           # rewrite the blocks from the stored files
python -m benchmarks.figures --check   # exit 1 naming each block that differs (tests/unit runs it)
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BENCHMARK_RESULTS = REPO / "benchmarks" / "results"
DOCS_RESULTS = REPO / "docs" / "results"

# The targets the benchmarks are judged against (the figures come from the stored results).
GENERATE_SECONDS_MAX = 60
GENERATE_RATIO_MIN = 20  # our order lines per second against row-wise Faker rows per second
LOAD_SECONDS_MAX = 90
LOAD_RATIO_TO_SQL_MIN = 10
LOAD_RATIO_COPY_MIN = 0.5
LOAD_PEAK_GIB_MAX = 4
DAILY_HISTORY_RATIO_MAX = 1.5  # a daily run on the full warehouse vs on a warehouse of one month
BIG_DAY_SECONDS_MAX = 120  # one business date of 1M orders, validated and loaded
IMPORT_SECONDS_MAX = 60  # a 1,000,000-line transaction log imported (issue 20)
BIG_DAY_RATIO_COPY_MIN = 0.5

# (method, estimand) of the causal report quoted in the README, in this order, with a short name.
QUOTED_ESTIMATES = (
    ("naive_difference", "ATE", "naive difference"),
    ("propensity_score_matching", "ATT", "PSM ATT"),
    ("inverse_propensity_weighting", "ATE", "IPW ATE"),
    ("dml_linear", "ATE", "LinearDML ATE"),
    ("difference_in_differences", "ATT", "DiD ATT"),
)


class FiguresError(ValueError):
    """A block marker is missing or a stored result lacks a field."""


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FiguresError(f"{path}: missing (the stored result this block is rendered from)") from None


def _mark(met: bool) -> str:
    return "✅" if met else "❌"


def _gib(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB"


def _day(iso_timestamp: str) -> str:
    return iso_timestamp[:10]


def _durations(seconds_by_phase: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in seconds_by_phase.items())


def _optional(path: Path) -> dict | None:
    """A stored result that a newer benchmark writes (None until `make bench` has run it)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _load_peak(lo: dict) -> tuple[str, float]:
    """The load's peak memory as shown, and the total (main process + every worker at its peak) in MiB."""
    if "workers_peak_rss_mib" not in lo:
        return f"peak {_gib(lo['peak_rss_mib'])}", lo["peak_rss_mib"]
    total = lo["peak_rss_mib"] + lo["workers"] * lo["workers_peak_rss_mib"]
    return (
        f"peak {_gib(total)} ({_gib(lo['peak_rss_mib'])} + {lo['workers']} worker processes × "
        f"{_gib(lo['workers_peak_rss_mib'])})",
        total,
    )


def _daily_history_row(results: Path) -> str:
    found = _optional(results / "daily_history.json")
    head = "| daily run on the 1M-order warehouse vs the same kind of day on a warehouse of one month "
    if found is None:
        return head + "| not measured yet (`make bench`) | | | ≤ 1.5× |"
    full, month = found["full_warehouse"], found["month_warehouse"]
    ratio = found["ratio_full_vs_month"]
    return (
        f"| daily run ({found['business_date']}: {found['day_orders']:,} orders, {found['day_rows_read']:,} raw "
        f"rows; validate, load, checks, marts) on the load benchmark's warehouse "
        f"({full['order_lines']:,} order lines, {full['dates']} dates) "
        f"| **{full['seconds']:.1f} s** (load {full['load_seconds']:.1f} s, marts {full['marts_seconds']:.1f} s) "
        f"| the same day on a warehouse of one month ({month['order_lines']:,} order lines, "
        f"{month['dates']} dates): {month['seconds']:.1f} s (load {month['load_seconds']:.1f} s, "
        f"marts {month['marts_seconds']:.1f} s) "
        f"| **{ratio:.2f}×** | ≤ {DAILY_HISTORY_RATIO_MAX}× {_mark(ratio <= DAILY_HISTORY_RATIO_MAX)} |"
    )


def _big_day_row(results: Path) -> str:
    found = _optional(results / "big_day.json")
    head = "| one business date holding 1,000,000 orders, validated and loaded "
    if found is None:
        return head + "| not measured yet (`make bench`) | | | ≤ 120 s, ≥ 0.5× COPY |"
    ours, copy, ratio = found["ours"], found["bare_copy"], found["ratio_vs_bare_copy"]
    return (
        f"| one business date holding {found['orders']:,} orders ({found['rows'] / 1e6:.2f}M raw rows, "
        f"{found['raw_mib']:,} MiB: the world's order lines, web events and reviews re-dated to one day), "
        f"validated and loaded into an empty warehouse "
        f"| **{ours['seconds']:.0f} s**, {ours['rows_per_s'] / 1000:.0f}k rows/s ({_durations(ours['phase_seconds'])}) "
        f"| bare `COPY` of the same files: {copy['seconds']:.1f} s "
        f"| **{ratio:.2f}×** COPY "
        f"| ≤ {BIG_DAY_SECONDS_MAX} s {_mark(ours['seconds'] <= BIG_DAY_SECONDS_MAX)}, "
        f"≥ {BIG_DAY_RATIO_COPY_MIN}× {_mark(ratio >= BIG_DAY_RATIO_COPY_MIN)} |"
    )


def _import_row(results: Path) -> str:
    found = _optional(results / "import.json")
    head = "| `ecomm import transactions` of a 1,000,000-line log "
    if found is None:
        return head + f"| not measured yet (`make bench`) | | | ≤ {IMPORT_SECONDS_MAX} s |"
    ours, copy = found["ours"], found["bare_copy"]
    steps = _durations(
        {"read, derive, write batches": ours["read_derive_write_seconds"], **ours["phase_seconds"]}
    )
    return (
        f"| `ecomm import transactions` of a {found['rows']:,}-line log ({found['log_mib']} MiB CSV, "
        f"synthetic, text keys, {ours['batches']} days{_load(found)}) into an empty warehouse: "
        f"{ours['imported']['order_items']:,} order lines (exact duplicates dropped), "
        f"{ours['imported']['customers']:,} customers, {ours['imported']['products']:,} products "
        f"| **{ours['seconds']:.0f} s**, peak {_gib(ours['peak_rss_mib'])} ({steps}){_import_memory(found)} "
        f"| bare `COPY` of the same CSV into one table of text columns: {copy['seconds']:.1f} s "
        f"| **{found['ratio_ours_over_copy']:.0f}×** COPY's time "
        f"| ≤ {IMPORT_SECONDS_MAX} s {_mark(ours['seconds'] <= IMPORT_SECONDS_MAX)} |"
    )


def _load(found: dict) -> str:
    """The 1-minute load average at the start and end of the run, when recorded (a shared machine)."""
    load = found.get("load_average")
    return f"; load average {load[0]} → {load[1]} on {found['cpus']} cores" if load else ""


def _import_memory(found: dict) -> str:
    """The peak of reading, deriving and writing the batches at each measured log size."""
    sizes = found.get("memory_by_rows") or []
    if not sizes:
        return ""
    peaks = ", ".join(f"{_gib(m['peak_rss_mib'])} at {m['rows']:,} lines ({m['log_mib']} MiB)" for m in sizes)
    return f"; read, derive, write alone (blocks of {found['block_bytes'] >> 20} MiB): peak {peaks}"


def _link(path: Path) -> str:
    try:
        target = path.resolve().relative_to(REPO).as_posix()
    except ValueError:  # results kept out of the repository (a trial run)
        target = path.as_posix()
    return f"[`{path.name}`]({target})"


# ------------------------------------------------------------------------------------ benchmarks
def render_benchmarks(results: Path) -> str:
    gen, load = _load_json(results / "generate.json"), _load_json(results / "load.json")
    ours, faker, cfg = gen["ours"], gen["row_wise_faker"], gen["config"]
    rows, total = ours["rows"], ours["total_rows"]
    lines_ratio = gen["ratio_order_lines_vs_row_wise"]
    web_share = rows["web_events"] / total
    lo, to_sql, copy = load["ours"], load["to_sql_sample"], load["bare_copy"]
    phases = _durations(lo["phase_seconds"])
    if "batches_phases" in lo:
        phases += f"; the batches: {_durations(lo['batches_phases'])}"
    peak, peak_mib = _load_peak(lo)
    to_sql_ratio, copy_ratio = load["ratio_vs_to_sql"], load["ratio_vs_bare_copy"]
    return "\n".join(
        [
            f"Measured {_day(gen['when'])} on this project's machine ({gen['cpus']} cores) at "
            f"{cfg['customers']:,} customers, {cfg['products']:,} products, {cfg['days']} days → "
            f"{ours['orders']:,} orders, {rows['order_items'] / 1e6:.2f}M order lines, "
            f"{rows['web_events'] / 1e6:.2f}M web events, {total / 1e6:.1f}M raw rows in all "
            f"({_link(results / 'generate.json')}, {_link(results / 'load.json')}):",
            "",
            "| benchmark | ours | baseline | ratio | target |",
            "|---|---|---|---|---|",
            f"| generate | **{ours['seconds']:.1f} s**, {ours['order_lines_per_s']:,} order lines/s "
            f"({ours['rows_per_s']:,} raw rows/s of every entity), peak {_gib(ours['peak_rss_mib'])} "
            f"| row-wise Faker (one call per field per row, 11-field order rows): "
            f"{faker['rows_per_s']:,} rows/s "
            f"| **{lines_ratio:.1f}×** (our order lines/s vs its rows/s; {gen['ratio_all_rows_vs_row_wise']:.0f}× "
            f"counting every raw row, {web_share:.0%} of them narrow web events) "
            f"| ≤ {GENERATE_SECONDS_MAX} s {_mark(ours['seconds'] <= GENERATE_SECONDS_MAX)}, "
            f"≥ {GENERATE_RATIO_MIN}× {_mark(lines_ratio >= GENERATE_RATIO_MIN)} |",
            f"| load raw CSV → star schema ({lo['batches']} batches, validation, quarantine, merges, "
            f"checks, marts) | **{lo['seconds']:.0f} s**, {lo['rows_per_s'] / 1000:.0f}k rows/s, "
            f"{peak} ({phases}) "
            f"| `DataFrame.to_sql` on a {to_sql['batches']}-batch sample: {to_sql['rows_per_s'] / 1000:.0f}k rows/s "
            f"| **{to_sql_ratio:.1f}×** `to_sql` "
            f"| ≤ {LOAD_SECONDS_MAX} s {_mark(lo['seconds'] <= LOAD_SECONDS_MAX)}, "
            f"≥ {LOAD_RATIO_TO_SQL_MIN}× {_mark(to_sql_ratio >= LOAD_RATIO_TO_SQL_MIN)}, "
            f"≤ {LOAD_PEAK_GIB_MAX} GiB {_mark(peak_mib <= LOAD_PEAK_GIB_MAX * 1024)} |",
            f"| same load vs the ceiling | | bare `COPY` of the same files into unconstrained tables: "
            f"{copy['seconds']:.1f} s, {copy['rows_per_s'] / 1000:.0f}k rows/s "
            f"| **{copy_ratio:.2f}×** COPY | ≥ {LOAD_RATIO_COPY_MIN}× {_mark(copy_ratio >= LOAD_RATIO_COPY_MIN)} |",
            _daily_history_row(results),
            _big_day_row(results),
            _import_row(results),
            "",
            f"A business date of the load holds {lo['rows'] / lo['batches'] / 1000:.0f}k rows on average "
            f"and costs {lo['phase_seconds']['batches'] / lo['batches']:.2f} s.",
        ]
    )


def render_platform(results: Path) -> str:
    plat, daily = _load_json(results / "platform.json"), _load_json(results / "daily.json")
    cfg, fresh, again = plat["config"], plat["fresh_make_up"], plat["make_up_without_bootstrap"]
    phases = _durations(fresh["phases"])
    run, bare = daily["dag_run"], daily["bare_pipeline_run"]
    return "\n".join(
        [
            f"Measured {_day(plat['when'])} at the default size ({cfg['customers']:,} customers, "
            f"{cfg['history_days']} days, {cfg['churn_trials']} + {cfg['recommender_trials']} tuning "
            f"trials; {_link(results / 'platform.json')}): a fresh `make up` reaches every service healthy "
            f"plus the first pipeline run in **{fresh['seconds']:.0f} s** (target ≤ {plat['target_seconds']} s "
            f"{_mark(plat['target_met'])}): {phases}; `make up` again after `make down`, with nothing to "
            f"bootstrap, takes {again['seconds']:.0f} s (the fresh start is "
            f"{plat['ratio_fresh_vs_services_only']:.1f}× that).",
            f"A daily `ecommerce_data_pipeline` run through Airflow on the {daily['config']['customers']:,}-customer "
            f"warehouse of the load benchmark (business date {daily['business_date']}: "
            f"{daily['day_orders']:,} orders, {daily['day_rows_read']:,} raw rows, generated, validated, "
            f"loaded, checked, marts refreshed; {_link(results / 'daily.json')}) takes "
            f"**{run['seconds']:.1f} s** (target ≤ {daily['target_seconds']} s {_mark(daily['target_met'])}) "
            f"against {bare['seconds']:.1f} s for the bare `ecomm pipeline run` of the same date on a clone "
            f"of the same warehouse (Airflow's overhead {daily['ratio_dag_vs_bare']:.2f}×).",
        ]
    )


# ---------------------------------------------------------------------------------- model report
def _world_sentence(docs: Path, command: str) -> str:
    """How and on which world a report was measured (docs/results/world.json)."""
    world = _load_json(docs / "world.json")
    w = world["world"]
    return (
        f"`ecomm pipeline bootstrap` then `{command}` on a fresh default world, {world['measured_on']} (seed {w['seed']}, "
        f"{w['customers']:,} customers, {w['products']:,} products, history {world['first_date']} to "
        f"{world['last_date']}{_machine(world)}; {_link(docs / 'world.json')})"
    )


def _machine(world: dict) -> str:
    """The machine's load while the report was made (training times depend on it)."""
    machine = world.get("machine")
    if not machine:
        return ""
    return f"; {machine['cpus']} cores, peak load average {machine['peak_load_average_1min']}"


def _target_value(target: dict) -> str:
    observed = target["observed"]
    if observed is None:
        return "n/a"
    name = target["target"]
    if "time" in name:
        return f"{observed:.0f} s"
    if " - " in name:
        return f"{observed:+.4f}"
    if " / " in name:
        return f"{observed:.3g}×"
    return f"{observed:.4f}"


def render_models(docs: Path) -> str:
    report = _load_json(docs / "model_report.json")
    lines = [
        f"Measured by {_world_sentence(docs, 'ecomm evaluate --report')}, stored in "
        f"{_link(docs / 'model_report.json')}. "
        + " ".join(f"Holdout of `{c['model']}`: {c['holdout']}." for c in report["comparisons"]),
        "",
        "| quality target | measured | required | met | from |",
        "|---|---|---|---|---|",
    ]
    for target in report["targets"]:
        met = "n/a" if target["met"] is None else _mark(target["met"])
        lines.append(
            f"| {target['target']} | {_target_value(target)} | {target['required']} | {met} | {target['detail']} |"
        )
    return "\n".join(lines)


def _seed_cell(target: dict, seed: str) -> str:
    met = target["met"].get(seed)
    value = _target_value({"target": target["name"], "observed": target["observed"].get(seed)})
    return value if met is None else f"{value} {_mark(met)}"


def _seed_target_rows(targets: list[dict], seeds: list[str]) -> list[str]:
    """The table "target | required | seed ... | met in" of a seeds benchmark."""
    rows = [
        "| target | required | " + " | ".join(f"seed {s}" for s in seeds) + " | met in |",
        "|---|---|" + "---|" * len(seeds) + "---|",
    ]
    for target in targets:
        cells = " | ".join(_seed_cell(target, s) for s in seeds)
        rows.append(
            f"| {target['name']} | {target['required']} | {cells} | {target['met_in']} of {len(seeds)} |"
        )
    return rows


def render_models_seeds(results: Path) -> str:
    """The evaluate targets on each seed's world (a table: target | required | seed ... | met in)."""
    path = results / "models_seeds.json"
    found = _load_json(path)
    seeds = [str(run["seed"]) for run in found["seeds"]]
    w = found["world"]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_models_seeds` ({_link(path)}): "
        f"per seed a world of {w['customers']:,} customers, {w['products']:,} products and {w['days']} days "
        f"to {w['as_of']}, every model trained with {found['churn_trials']} churn and "
        f"{found['recommender_trials']} recommender tuning trials, then `ecomm evaluate`'s targets "
        f"({found['seconds']:.0f} s in all):",
        "",
        *_seed_target_rows(found["targets"], seeds),
    ]
    for model in found["seeds"][0]["train_seconds"]:
        cells = " | ".join(f"{run['train_seconds'][model]:.0f} s" for run in found["seeds"])
        lines.append(f"| `{model}` training time | | {cells} | |")
    return "\n".join(lines)


def render_recommend_general(results: Path) -> str:
    """The general recommender library on simulated shops: per list, NDCG@10 on each seed, and the
    seeds' mean MAP@10, coverage@10 and novelty."""
    path = results / "recommend_general.json"
    found = _load_json(path)
    runs = found["seeds"]
    w = found["world"]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_recommend_general` ({_link(path)}): "
        f"per seed a world of {w['customers']:,} customers, {w['products']:,} products and {w['days']} days "
        f"to {w['as_of']}, the served recommender's 28-day holdout, bought items excluded "
        f"({found['seconds']:.0f} s in all):",
        "",
        "| list | "
        + " | ".join(f"NDCG@10 seed {run['seed']}" for run in runs)
        + " | MAP@10 | coverage@10 | novelty |",
        "|---|" + "---|" * len(runs) + "---|---|---|",
    ]
    for name in runs[0]["metrics"]:
        cells = " | ".join(f"{run['metrics'][name]['ndcg_at_10']:.3f}" for run in runs)
        means = [
            sum(run["metrics"][name][key] for run in runs) / len(runs)
            for key in ("map_at_10", "coverage_at_10", "novelty")
        ]
        lines.append(f"| {name} | {cells} | {means[0]:.3f} | {means[1]:.3f} | {means[2]:.2f} |")
    lines.append("")
    for other, by_seed in found["reranked_ndcg_ratio"].items():
        cells = ", ".join(f"{ratio:.2f}×" for ratio in by_seed.values())
        lines.append(f"- NDCG@10 of reranked / {other}, per seed: {cells}")
    return "\n".join(lines)


def _seed_table_head(runs: list[dict]) -> list[str]:
    """A table's header with a column per seed, after the row's name and its target."""
    return [
        "| | target | " + " | ".join(f"seed {run['seed']}" for run in runs) + " |",
        "|---|---|" + "---|" * len(runs),
    ]


def _days_to_flag(days: int | None, target: int) -> str:
    return f"not within 28 days {_mark(False)}" if days is None else f"{days} {_mark(days <= target)}"


def render_drift(results: Path) -> str:
    """The recent-inputs drift monitor: per seed, days from each planted drift's start to its first
    flag, and the stable world's flagged days per 180."""
    path = results / "drift.json"
    found = _load_json(path)
    runs, targets, w = found["seeds"], found["targets"], found["world"]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_drift` ({_link(path)}): per seed "
        f"a stable world and one per drift kind of {w['customers']:,} customers, {w['products']:,} products "
        f"and {w['days']} days to {w['as_of']}, reference = the 90 days to {found['reference_cutoff']}, "
        f"drift from {found['drift_start']}, ECOMM_DRIFT_ALPHA {found['alpha']}, ECOMM_DRIFT_MIN_PSI "
        f"{found['min_psi']} ({found['seconds']:.0f} s in all{_drift_load(found)}):",
        "",
        *_seed_table_head(runs),
    ]
    lines += _kind_rows(
        found, ("drift", "days_to_flag", "features"), " ({magnitude}): days to the first flag"
    )
    cells = " | ".join(
        f"{run['stable']['flagged_days'] * 180 / run['stable']['days_monitored']:.0f} "
        f"({run['stable']['episodes']} episode{'' if run['stable']['episodes'] == 1 else 's'}) "
        f"{_mark(run['stable']['flagged_days'] * 180 / run['stable']['days_monitored'] <= targets['false_alarms_per_180'])}"
        for run in runs
    )
    lines.append(f"| stable world: flagged days per 180 | ≤ {targets['false_alarms_per_180']} | {cells} |")
    if "days_to_alert" in runs[0]["drift"][next(iter(found["magnitudes"]))]:
        lines += _alert_rows(found)
    if "retrain_stable" in runs[0]:
        lines += _retrain_rows(found)
    return "\n".join(lines)


def _alert_rows(found: dict) -> list[str]:
    """The alert (EcommModelDrift: the view flagged on `persist_days` monitored dates in a row)."""
    runs, limit = found["seeds"], found["targets"]["false_alarms_per_180"]
    persist = found["order_trigger_rule"]["persist_days"]
    lines = [
        f"| **the alert** (`EcommModelDrift`: the view flagged on {persist} dates in a row) | | "
        + " | ".join("" for _ in runs)
        + " |"
    ]
    lines += _kind_rows(found, ("drift", "days_to_alert", "alerted_by"), ": days to the alert")
    cells = []
    for run in runs:
        per_180 = run["stable"]["alert_episodes"] * 180 / run["stable"]["days_monitored"]
        cells.append(f"{per_180:.0f} ({run['stable']['alert_days']} alerting days) {_mark(per_180 <= limit)}")
    lines.append(f"| stable world: alerts per 180 | ≤ {limit} | {' | '.join(cells)} |")
    return lines


def _drift_load(found: dict) -> str:
    if "load_1min" not in found:
        return ""
    start, end = found["load_1min"]
    at_a_time = "one seed" if found["processes"] == 1 else f"{found['processes']} seeds"
    return f", {at_a_time} at a time, 1-minute load average {start} at the start and {end} at the end"


def _stable_retrainings(stable: dict, limit: float) -> str:
    count, days = len(stable["retrainings"]), stable["days_monitored"]
    return f"{count} in {days} days ({count * 180 / days:.1f} per 180) {_mark(count * 180 / days <= limit)}"


def _kind_rows(found: dict, keys: tuple[str, str, str], title: str) -> list[str]:
    """One row per drift kind: each seed's days from the start (section, days key, features key)."""
    section, days, features = keys
    runs, target, lines = found["seeds"], found["targets"]["detect_days"], []
    for kind, magnitude in found["magnitudes"].items():
        cells = " | ".join(_days_to_flag(run[section][kind][days], target) for run in runs)
        flagged_by = sorted({f for run in runs for f in run[section][kind][features]})
        lines.append(
            f"| `{kind}`{title.format(magnitude=magnitude)} ({', '.join(flagged_by) or 'none'}) "
            f"| ≤ {target} | {cells} |"
        )
    return lines


def _nth_day(days: int) -> str:
    return {1: "first day", 2: "second consecutive day", 3: "third consecutive day"}.get(
        days, f"{days}th consecutive day"
    )


def _inputs_level(rule: dict) -> str:
    return f" - p < {rule['inputs_alpha']}/features" if "inputs_alpha" in rule else ""


def _retrain_rows(found: dict) -> list[str]:
    """The retraining decision (monitoring.retrain, rolling references as the DAG runs it)."""
    runs, targets, rule = found["seeds"], found["targets"], found["order_trigger_rule"]
    lines = [
        f"| **retraining decision** (the {_nth_day(rule.get('persist_days', 1))} of a drift episode of the "
        f"recent orders - KS p < {rule['alpha']}/2, PSI ≥ {rule['min_psi']}, ≥ {rule['min_orders']} orders - "
        f"or of the recent inputs{_inputs_level(rule)}, rolling references) | | "
        + " | ".join("" for _ in runs)
        + " |"
    ]
    lines += _kind_rows(found, ("retrain_drift", "days_to_retrain", "flagged_by"), ": days to the retraining")
    limit = targets["false_alarms_per_180"]
    cells = " | ".join(_stable_retrainings(run["retrain_stable"], limit) for run in runs)
    lines.append(f"| stable world: retrainings | ≤ {targets['false_alarms_per_180']} per 180 | {cells} |")
    windows = " | ".join("{}-{}".format(*run["retrain_stable"]["orders_in_window"]) for run in runs)
    lines.append(f"| stable world: orders in a 7-day window | | {windows} |")
    return lines


def _auc_cell(group: dict, entry: str, target: float | None) -> str:
    """`AUC (ratio to the oracle)`, marked against the target when given; a dash when not scored."""
    auc, ratio = (group.get("roc_auc") or {}).get(entry), (group.get("auc_to_oracle") or {}).get(entry)
    if auc is None:
        return "-"
    if ratio is None:
        return f"{auc:.3f}"
    return f"{auc:.3f} ({ratio:.3f}{'' if target is None else ' ' + _mark(ratio >= target)})"


def _retrain_cell(run: dict) -> str:
    retrained = run["retrained"]
    gate = "promoted" if retrained["promoted"] else f"not promoted, v{run['champion_after_retraining']} kept"
    if not retrained["triggered"]:
        return f"not flagged {_mark(False)}; v{retrained['version']} trained on {run['retrain_day']} all the same, {gate}"
    return f"day {run['days_to_retrain']} ({', '.join(run['retrain_flagged_by'])}); v{retrained['version']} {gate}"


def render_drift_retrain(results: Path) -> str:
    """The churn champion after a drift-triggered retraining, scored on the regime's labels against
    the oracle, per seed (benchmarks/bench_drift_retrain.py)."""
    path = results / "drift_retrain.json"
    found = _load_json(path)
    runs, target, w = found["seeds"], found["target_ratio"], found["world"]
    first = runs[0]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_drift_retrain` ({_link(path)}): per seed "
        f"a world of {w['customers']:,} customers, {w['products']:,} products and {w['days']} days to {w['as_of']} "
        f"with `{found['kind']}` ({found['magnitude']}) from {found['drift_start']}, churn trained on the days "
        f"before it ({found['churn_trials']} trials, {found['churn_horizon_days']}-day label), the daily "
        f"monitoring run from {first['monitoring'][0]['day']} until it retrains on or after the start (the 7th day "
        f"if it does not), churn retrained then, the rest loaded and every version scored on the cutoff "
        f"{first['new_regime']['cutoff']} (ROC-AUC, and its ratio to the oracle's on the same customers; "
        f"{found['seconds']:.0f} s in all):",
        "",
        *_seed_table_head(runs),
        "| days before the start that would have retrained (of "
        + str(_days_before(first, found))
        + f"; {_retrain_decision(runs, found['retrain_rule'])}) | | "
        + " | ".join(
            str(sum(1 for d in run["monitoring"] if d["day"] < found["drift_start"] and _any_flag(d)))
            for run in runs
        )
        + " |",
        "| retraining after the start (flagged by); the gate | ≤ 7 days | "
        + " | ".join(_retrain_cell(run) for run in runs)
        + " |",
        "| labelled cutoffs v1 / the retrained version learnt from | | "
        + " | ".join(_cutoffs_cell(run) for run in runs)
        + " |",
    ]
    rows = (
        ("champion after the retraining", "champion"),
        ("v1, the champion before the start", "before"),
        ("the retrained version", "retrained"),
        ("retrained at the world's end (contrast)", "late"),
    )
    for group, title in (
        ("all", "every customer"),
        ("signed_up_since_start", "customers signed up since the start"),
    ):
        counts = " / ".join(f"{run['new_regime'][group]['customers']:,}" for run in runs)
        lines.append(f"| **{title}** ({counts}) | | " + " | ".join("" for _ in runs) + " |")
        oracle = " | ".join(
            f"{(run['new_regime'][group].get('roc_auc') or {}).get('oracle', float('nan')):.3f}"
            for run in runs
        )
        lines.append(f"| oracle ROC-AUC | | {oracle} |")
        for label, entry in rows:
            mark = f"≥ {target} × oracle" if entry == "champion" else ""
            judged = target if entry == "champion" else None
            cells = " | ".join(_auc_cell(run["new_regime"][group], entry, judged) for run in runs)
            lines.append(f"| {label} | {mark} | {cells} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------- a daily monitoring run
def _step(phases: dict, name: str, part: str | None = None) -> str:
    found = phases.get(name if part is None else f"{name}.{part}")
    return "—" if found is None else f"{found['seconds']:.1f}"


def _monitoring_rows(ours: dict, floor: dict) -> list[str]:
    p, f = ours["phases"], floor["phases"]
    rows = [
        "| step | wall s | CPU s | load s | population s | drift s | reference + write + report s | reads alone s (with its quality's) |",
        "|---|---|---|---|---|---|---|---|",
        f"| interpreter, imports, settings | {ours['startup_seconds']:.1f} | | | | | | {floor['startup_seconds']:.1f} |",
        f"| order trigger | {_step(p, 'order_drift')} | {p['order_drift']['cpu_seconds']:.1f} | | | | "
        f"| {_step(f, 'order_drift')} |",
    ]
    for m in ours["models"]:
        name = m["model"]
        if name == "inputs":
            rows.append(
                f"| recent inputs | {_step(p, 'inputs')} | {p['inputs']['cpu_seconds']:.1f} | | | | | {_step(f, 'inputs')} |"
            )
            continue
        rest = sum(p.get(f"{name}.{k}", {"seconds": 0})["seconds"] for k in ("reference", "write", "report"))
        rows.append(
            f"| `{name}` drift ({m['status']}, {m['features']} rows) | {_step(p, name)} | {p[name]['cpu_seconds']:.1f} "
            f"| {_step(p, name, 'load')} | {_step(p, name, 'population')} | {_step(p, name, 'drift')} "
            f"| {rest:.1f} | {_step(f, name)} |"
        )
    for q in ours["quality"]:
        key = f"quality.{q['model']}"
        source = f", {q['predictions']} predictions" if q.get("predictions") else ""
        rows.append(
            f"| `{q['model']}` realised quality ({q['status']}{source}) | {_step(p, key)} | {p[key]['cpu_seconds']:.1f} "
            f"| {_step(p, key, 'load')} | {_step(p, key, 'population')} | | | (in the model's) |"
        )
    rows.append(
        f"| retraining decision | {_step(p, 'decision')} | {p['decision']['cpu_seconds']:.1f} | | | | | |"
    )
    if "quality_predictions" in floor:  # the models ran in two lanes: their rows overlap in time
        rows.append(
            f"| `model_drift` task whole (the models' two lanes side by side, then the quality) "
            f"| {_step(p, 'model_drift')} | {p['model_drift']['cpu_seconds']:.1f} | | | | | |"
        )
    return rows


def _monitoring_floor(floor: dict) -> str:
    if "quality_predictions" not in floor:  # before the churn features were shared and logged
        return (
            "by the same feature SQL (so the churn features are built twice there too): the order windows, "
            "each champion loaded and its population built and scored, the matured populations and their "
            "labels, the recent inputs' frames"
        )
    return (
        "by the same feature SQL, one after the other: the order windows, each champion loaded and its "
        "population built and scored (the churn features built once for churn and purchase), the "
        "matured cutoffs' logged predictions and their labels, the recent inputs' frames"
    )


def render_monitoring(results: Path) -> str:
    """One daily model_monitoring run on the 1M-order world, per step, beside its reads alone."""
    path = results / "monitoring.json"
    found = _optional(path)
    if found is None:
        return "A daily monitoring run on the 1M-order world: not measured yet (`--only monitoring`)."
    ours, floor, w, setup, t = found["ours"], found["floor"], found["world"], found["setup"], found["target"]
    return "\n".join(
        [
            f"Measured {_day(found['when'])} by `python -m benchmarks.run --only monitoring` ({_link(path)}) on "
            f"the {setup['orders']:,}-order world ({w['customers']:,} customers, {w['products']:,} products, "
            f"{w['days']} days, seed {w['seed']}), business date {found['business_date']}: one daily "
            f"`model_monitoring` run (its three tasks one after the other, in a fresh interpreter) took "
            f"**{ours['wall_seconds']:.1f} s** wall, {ours['cpu_seconds']:.1f} s CPU in its process tree and "
            f"{ours['server_cpu_seconds']:.1f} s in PostgreSQL, at a 1-minute load average of "
            f"{ours['load_1min'][0]} → {ours['load_1min'][1]} on {found['cpus']} shared cores: target "
            f"{t['required']} {_mark(t['met'])}. Baseline in the same run, after it (a warmer cache): the "
            f"same reads alone, {_monitoring_floor(floor)}; no "
            f"reference, statistic, write or report: {floor['wall_seconds']:.1f} s wall, "
            f"{floor['cpu_seconds']:.1f} s CPU, {floor['server_cpu_seconds']:.1f} s in PostgreSQL (load "
            f"{floor['load_1min'][0]} → {floor['load_1min'][1]}); ours **{found['ours_to_floor']:.2f}×** it. "
            f"The champions were trained by the benchmark with fewer trials and trees than `make up` "
            f"(`trained_with` in the results; {', '.join(setup['trained_seconds']) or 'none'} trained in this run).",
            "",
            *_monitoring_rows(ours, floor),
        ]
    )


def _days_before(run: dict, found: dict) -> int:
    return sum(1 for d in run["monitoring"] if d["day"] < found["drift_start"])


def _retrain_decision(runs: list[dict], rule: dict) -> str:
    """The retraining decision the seeds ran: the recorded rule when every seed ran it (results of
    monitoring.retrain carry `retrain` on every day), else the mix of the older triggers."""
    if not all("retrain" in day for run in runs for day in run["monitoring"]) or "persist_days" not in rule:
        return (
            "by the trigger of the seed's run: the one-day order PSI or any recent-inputs flag before "
            "2026-12-07, the retraining decision since"
        )
    return (
        f"by the retraining decision: the {_nth_day(rule['persist_days'])} of a drift episode of the recent "
        f"orders - KS p < {rule['alpha']}/2, PSI ≥ {rule['min_psi']}, ≥ {rule['min_orders']} orders - or of "
        f"the recent inputs{_inputs_level(rule)}, PSI > {rule['inputs_min_psi']}"
    )


def _any_flag(day: dict) -> bool:
    """A day that retrains, as bench_drift_retrain.flagged_by (results before the decision of
    monitoring.retrain: the one-day order PSI trigger or any recent-inputs flag)."""
    if "retrain" in day:
        return day["retrain"]
    return bool(day["order_trigger"] or day["inputs_drifted"])


def _cutoffs_cell(run: dict) -> str:
    def span(version: dict) -> str:
        cutoffs = version["train_cutoffs"]
        return f"{cutoffs[0]}..{cutoffs[-1]} (evaluated {version['evaluation_cutoff']})"

    same = run["retrained"]["train_cutoffs"] == run["before"]["train_cutoffs"]
    return f"{span(run['before'])} / {'the same' if same else span(run['retrained'])}"


# --------------------------------------------------------------------------------- causal report
def render_causal(docs: Path) -> str:
    path = docs / "causal_estimates.csv"
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise FiguresError(f"{path}: missing (the stored result this block is rendered from)") from None
    by_key = {
        (r["method"], r["estimand"]): r
        for r in rows
        if r["segment"] in ("all_eligible", "treated", "treated_countries")
    }
    quoted = []
    for method, estimand, label in QUOTED_ESTIMATES:
        row = by_key.get((method, estimand))
        if row is None:
            raise FiguresError(f"{path}: no {method} {estimand} row")
        covers = (
            "truth inside its 95% interval"
            if row["covers_truth"] == "True"
            else "truth outside its 95% interval"
        )
        quoted.append(f"{label} {float(row['relative_error']):+.0%} ({covers})".replace("-", "−"))
    return (
        f"Measured by {_world_sentence(docs, 'ecomm causal report')}, stored in {_link(path)}; each estimate's "
        f"error relative to the planted truth: {', '.join(quoted)}."
    )


# ------------------------------------------------------------------------- forecast, real series
def _coverage(row: dict, level: int) -> str:
    value = row.get(f"coverage_{level}")
    return "–" if value is None or value != value else f"{value:.0%}"


def render_forecast_real(results: Path) -> str:
    """The backtest table of the real series (a table: model | horizon | MASE | vs naive | ...)."""
    path = results / "forecast_real.json"
    found = _load_json(path)
    cutoffs = found["cutoffs"]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_forecast_real` ({_link(path)}): "
        f"CDNOW's CDs sold per day, {found['first_day']} to {found['last_day']} ({found['days']} days, "
        f"{found['mean_units_per_day']:,} a day; {found['source']}), {found['windows']} origins "
        f"{found['step_days']} days apart ({cutoffs[0]} to {cutoffs[-1]}), {found['seconds']:.0f} s; "
        "no planted truth, so no oracle row:",
        "",
        "| model | horizon | MASE | MASE vs seasonal naive | sMAPE | bias | 80% coverage | 95% coverage |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(found["table"], key=lambda r: (found["models"].index(r["model"]), r["horizon"])):
        lines.append(
            f"| {row['model']} | {row['horizon']} | {row['mase']:.3f} | {row['mase_vs_naive']:.2f} | "
            f"{row['smape']:.1f} | {row['bias']:+.3f} | {_coverage(row, 80)} | {_coverage(row, 95)} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------- forecast, world seeds
def _forecast_level_rows(found: dict) -> list[str]:
    lines = [
        "| seed | level | series | ours | MASE ours | seasonal naive | oracle | ours / naive | ours / oracle "
        "| ours / oracle outside sale days | 80% coverage | 95% coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in found["seeds"]:
        for level, row in run["levels"].items():
            outside = row.get("vs_oracle_outside_sales")
            lines.append(
                f"| {run['seed']} | {level} | {row['series']} | {row['method']} | {row['mase']:.3f} "
                f"| {row['naive_mase']:.3f} | {row['oracle_mase']:.3f} | {row['vs_naive']:.2f}× "
                f"| {row['vs_oracle']:.2f}× | {'–' if outside is None else f'{outside:.2f}×'} "
                f"| {_coverage(row, 80)} | {_coverage(row, 95)} |"
            )
    return lines


def _forecast_settings(found: dict) -> str:
    """Per level: AutoETS's search space, the conformal errors' half-life and scale (results before
    they were recorded: nothing)."""
    levels = found["forecast"].get("levels")
    if not levels:
        return ""

    def weights(days: float | None) -> str:
        return "equal weights" if days is None else f"half-life {days:.0f} days"

    over = {"spread": "the spread", "point": "the forecast"}  # conformal.interval_scale's scales
    parts = [
        f"{level}: AutoETS {s['ets_model']}, conformal errors over "
        f"{over.get(s['interval_scale'], s['interval_scale'])} with {weights(s['half_life_days'])}"
        for level, s in levels.items()
    ]
    return "; " + "; ".join(parts)


def _forecast_stock_rows(found: dict) -> list[str]:
    lines = [
        "| seed | replay | ours: service level | ours: average stock | naive: service level "
        "| naive: average stock | naive + z·sd·√L: service | its stock "
        "| naive at ours' service: k | its stock |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in found["seeds"]:
        s = run["stock"]
        matched = (
            f"{s['matched_naive_k']:.2f} | {s['matched_naive_average_stock']:,.1f} units"
            if "matched_naive_k" in s
            else "– | –"
        )
        safety = (
            f"{s['naive_safety_service_level']:.1%} | {s['naive_safety_average_stock']:,.1f} units"
            if "naive_safety_service_level" in s
            else "– | –"
        )
        lines.append(
            f"| {run['seed']} | {s['series']} products × {s['days']} days | {s['service_level']:.1%} "
            f"| {s['average_stock']:,.1f} units | {s['naive_service_level']:.1%} "
            f"| {s['naive_average_stock']:,.1f} units | {safety} | {matched} |"
        )
    return lines


def _forecast_speed_lines(found: dict, seeds: list[str]) -> list[str]:
    speed = found["speed"]
    w, target = speed["world"], speed["target"]
    workers = sorted({r["workers"] for r in speed["runs"]})

    def label(run: dict) -> str:
        ets = run.get("ets_model")
        return f"{run['method']} ({ets})" if ets else run["method"]

    def timing(run: dict) -> str:
        cpu = run.get("cpu_seconds")  # recorded since 2026-12-07
        return f"{run['seconds']:.1f} s" + ("" if cpu is None else f" (CPU {cpu:.1f} s)")

    seconds = {(label(r), r["workers"]): timing(r) for r in speed["runs"]}
    loads = ", ".join(
        f"{r['load_average_1min_before']:.1f} → {r['load_average_1min']:.1f}"
        if "load_average_1min_before" in r
        else f"{r['load_average_1min']:.1f}"
        for r in speed["runs"]
    )
    header = " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in workers)
    cpu_note = (
        ", in brackets the CPU seconds of the process and its workers"
        if any(r.get("cpu_seconds") is not None for r in speed["runs"])
        else ""
    )
    lines = [
        f"| {target['name']} | {target['required']} | "
        f"{target['observed']:.1f} s {_mark(target['met'])} (one run) |"
        + " |" * (len(seeds) - 1)
        + f" {int(target['met'])} of 1 |",
        "",
        f"Speed, {'measured separately on ' + speed['measured_on'] if speed.get('separately') else 'in the same run'}: "
        f"every product of a world of {w['customers']:,} customers, "
        f"{w['products']:,} products and {w['days']} days (seed {w['seed']}: {w['orders']:,} orders, "
        f"{w['order_lines']:,} order lines; {speed['series']:,} product series of "
        f"{speed['history_days_mean']:.0f} days on average, {speed['units_per_series_day']:.2f} units a day) "
        f"forecast {speed['horizon']} days ahead by the registered pyfunc holding each model, on "
        f"{found['cpus']} cores; wall time{cpu_note} (1-minute load average before → after each run, in "
        f"order: {loads}):",
        "",
        f"| model | {header} |",
        "|---|" + "---|" * len(workers),
    ]
    for method in dict.fromkeys(label(r) for r in speed["runs"]):
        cells = " | ".join(seconds.get((method, n), "–") for n in workers)
        lines.append(f"| {method} | {cells} |")
    return lines


def render_forecast_seeds(results: Path) -> str:
    """The demand forecasts' backtest per seed and level, the stock replay, the targets, the speed."""
    path = results / "forecast_seeds.json"
    found = _load_json(path)
    seeds = [str(run["seed"]) for run in found["seeds"]]
    w, f = found["world"], found["forecast"]
    orders = ", ".join(f"{run['orders']:,}" for run in found["seeds"])
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_forecast_seeds` ({_link(path)}): "
        f"per seed a world of {w['customers']:,} customers, {w['products']:,} products and {w['days']} days "
        f"to {w['as_of']} ({orders} orders), backtested as `ecomm train forecast` does by default "
        f"(candidates {', '.join(f['candidates'])}; {f['windows']} origins {f['step_days']} days apart; "
        f"product level: the {f['best_sellers']} best sellers before the first origin; ours = the "
        f"candidate with the lowest MASE at 14 days on the validation origins before the reported ones"
        f"{_forecast_settings(found)}), "
        f"horizon 14 days; stock replay of ours' reorder "
        f"points against the naive policy, lead time {f['lead_time_days']} days, target service level "
        f"{f['service_level']:.2f} ({found['seconds']:.0f} s in all):",
        "",
        *_forecast_level_rows(found),
        "",
        *_forecast_stock_rows(found),
        "",
        *_seed_target_rows(found["targets"], seeds),
    ]
    return "\n".join(lines + _forecast_speed_lines(found, seeds))


# ------------------------------------------------------------------ recommender, real rating logs
def _chosen(window_methods: list[dict], method: str) -> str:
    """Each window's tuned setting, oldest window first ("–" for an untuned method, "no labels" for a
    window whose re-ranker had too few positives)."""
    params = [w["methods"][method]["params"] for w in window_methods]
    if params[0] == {}:
        return "–"
    return ", ".join(
        "no labels" if p is None else " ".join(str(v) if k == "kind" else f"{k}={v}" for k, v in p.items())
        for p in params
    )


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _target_line(targets: dict) -> str:
    def verdict(met: bool) -> str:
        return "met" if met else "not met"

    return (
        f"Re-ranked NDCG@10 {targets['reranked_ndcg_at_10']:.4f}: ≥ 1.1 × item-kNN "
        f"({targets['bar_item_knn']:.4f}) {verdict(targets['meets_item_knn'])}; > whole-window popularity "
        f"({targets['bar_popularity_all']:.4f}) {verdict(targets['meets_popularity_all'])}."
    )


def render_recommend_real(results: Path) -> str:
    """Per real log: every method's pooled NDCG@10 / recall@10, its ratios to the baselines and
    whether the re-ranked model clears issue 17's bar."""
    path = results / "recommend_real.json"
    found = _load_json(path)
    protocol = found["protocol"]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_recommend_real` ({_link(path)}), "
        f"{found['seconds']:.0f} s: per log the last {protocol['windows']} test windows of "
        f"{protocol['window_share']:.0%} of its rows each, every setting tuned on the window before; "
        "mean over (window, warm user) pairs, ± one standard error; ratios of NDCG@10 means:",
    ]
    for name, log in found["logs"].items():
        rows = {row["method"]: row for row in log["table"]}
        knn, popular = rows["item_knn"]["ndcg_at_10"], rows["popularity_all"]["ndcg_at_10"]
        lines += [
            "",
            f"**{name}** — {log['source']}; {log['rows']:,} ratings, {log['users']:,} users, "
            f"{log['items']:,} items, {log['first'][:10]} to {log['last'][:10]}; test windows from "
            f"{log['windows'][0]['test_start'][:10]}; {rows['item_knn']['user_windows']} (window, user) pairs. "
            f"The bar: NDCG@10 ≥ {1.1 * knn:.4f} (1.1 × item-kNN) and > {popular:.4f} "
            "(popularity over the whole training window).",
            "",
            "| method | NDCG@10 | recall@10 | vs item-kNN | vs popularity (whole window) "
            "| vs popularity (recent, tuned) | windows without enough labels | tuned setting per window |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for method, row in rows.items():
            lines.append(
                f"| {method} | {row['ndcg_at_10']:.4f} ± {row['ndcg_se']:.4f} | {row['recall_at_10']:.4f} "
                f"| {_ratio(row['vs_item_knn'])} | {_ratio(row['vs_popularity_all'])} "
                f"| {_ratio(row['vs_popularity_recent'])} | {row['windows_without_enough_labels']} "
                f"| {_chosen(log['windows'], method)} |"
            )
        if log.get("targets"):
            lines += ["", _target_line(log["targets"])]
    return "\n".join(lines)


IMPORT_RECOMMEND_ROWS = {  # the training run's rows, in the table's order, with their README names
    "model": "re-ranked (the registered `recommender_model`)",
    "popularity": "popularity, last 56 days of training (the shop's baseline)",
    "popularity_all": "popularity, whole training window",
    "item_knn_tuned": "item-kNN, tuned",
    "als": "ALS alone",
    "item_knn": "item-kNN (cosine) alone",
    "item_knn_bm25": "item-kNN (BM25) alone",
    "recent_popular": "recent popularity generator alone",
    "popular": "popularity generator alone",
    "category": "category generator alone (no categories)",
}


def render_import_interactions(results: Path) -> str:
    """The peak memory of importing an event log, block by block and month by month vs read whole."""
    path = results / "import_interactions.json"
    found = _load_json(path)
    load = found["load_average"]
    lines = [
        f"Measured {_day(found['when'])} by `python -m benchmarks.run --only import_interactions` "
        f"({_link(path)}; load average {load[0]} → {load[1]} on {found['cpus']} cores): reading, deriving "
        f"and writing the daily batches of a synthetic event log (unix seconds, text visitor and item keys, "
        f"views, add-to-carts and transactions; blocks of {found['block_bytes'] >> 20} MiB), each in a "
        "fresh process:",
        "",
        "| events | CSV | customers, products | `ecomm import interactions` (month by month) "
        "| the log read whole | peak ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in found["by_rows"]:
        ours, whole = r["ours"], r.get("whole_read")
        lines.append(
            f"| {r['rows']:,} | {r['log_mib']} MiB | {ours['customers']:,}, {ours['products']:,} "
            f"| peak **{_gib(ours['peak_rss_mib'])}**, {ours['seconds']:.0f} s "
            + (
                f"| peak {_gib(whole['peak_rss_mib'])}, {whole['seconds']:.0f} s "
                f"| **{r['peak_ratio_ours_over_whole']:.2f}×** |"
                if whole
                else f"| not run (over {found['whole_max_rows']:,} events) | |"
            )
        )
    return "\n".join(lines)


def render_import_recommend(results: Path) -> str:
    """The served recommender trained on MovieLens 100K through `ecomm import interactions`."""
    path = results / "import_recommend.json"
    found = _load_json(path)
    trained, imp = found["trained"], found["import"]
    rows, split = trained["rows"], trained["split"]
    model = rows["model"]
    knn = trained["item_knn_tuned"]
    lines = [
        f"Measured {found['measured_on']} by `python -m benchmarks.bench_import_recommend` ({_link(path)}) "
        f"on 2 shared cores: {found['rows']:,} ratings imported in {found['import_seconds']:.0f} s "
        f"({imp['customers']:,} customers, {imp['products']:,} products, {imp['first_day']} … "
        f"{imp['last_day']}), the recommender trained in {found['train_seconds']:.0f} s and `ecomm evaluate`'s "
        f"comparison in {found['evaluate_seconds']:.0f} s (load average {found['load_before']} before, "
        f"{found['load_after_train']} after training). Trained before {split['train_end']}; holdout "
        f"{split['holdout_start']} … {split['holdout_last_day']}: {model['users']:.0f} customers rated a "
        f"product new to them, {model['warm_users']:.0f} of them known to the model, "
        f"{model['cold_users']:.0f} new (the served model gives them its cold-start popularity of the last 56 "
        "days; item-kNN, ALS and the category generator list nothing for them). "
        f"Re-ranker label windows {trained['params']['label_windows']} (tuned), item-kNN tuned: "
        f"{knn['generator']}, {knn['neighbours']} neighbours. Version {trained['version']}, "
        f"promoted: {'yes' if trained['promoted'] else 'no'}.",
        "",
        "| method | NDCG@10 | recall@10 | coverage@10 | NDCG@10, known customers | NDCG@10, new customers |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in IMPORT_RECOMMEND_ROWS.items():
        r = rows[name]
        lines.append(
            f"| {label} | {r['ndcg_at_10']:.4f} | {r['recall_at_10']:.4f} | {r['coverage_at_10']:.4f} "
            f"| {r['warm_ndcg_at_10']:.4f} | {r['cold_ndcg_at_10']:.4f} |"
        )
    ratio = {
        name: model["ndcg_at_10"] / rows[name]["ndcg_at_10"] for name in ("popularity", "popularity_all")
    }
    warm_knn = model["warm_ndcg_at_10"] / rows["item_knn_tuned"]["warm_ndcg_at_10"]
    fresh = next(r for name, r in found["evaluate"]["rows"].items() if name.startswith("champion"))[
        "ndcg_at_10"
    ]
    lines += [
        "",
        f"NDCG@10 of the re-ranked model over popularity: {ratio['popularity']:.2f}× (last 56 days), "
        f"{ratio['popularity_all']:.2f}× (whole window); over the tuned item-kNN on the known customers "
        f"(item-kNN lists nothing for a new one): {warm_knn:.2f}×. `ecomm evaluate` scores the champion "
        f"afresh on the same holdout at {fresh:.4f}.",
    ]
    return "\n".join(lines)


TRAIN_PHASES = {
    "startup": "start-up (interpreter, imports, settings)",
    "read": "read from the warehouse",
    "tune": "tuning: the re-ranker's label windows",
    "tune_item_knn": "tuning: the item-kNN baseline's grid (its evaluation row)",
    "calibrate": "calibration curves",
    "fit": "final fit before the holdout",
    "lists": "every customer's top 100 and explanations",
    "evaluate": "holdout evaluation",
    "mlflow": "MLflow: logging, registration, drift reference, gate",
}


def _phase_table(columns: list[tuple[str, dict]]) -> list[str]:
    """Rows: the training's phases and its total; per run a wall and a CPU column."""
    lines = [
        "| phase | " + " | ".join(f"wall s, {name} | CPU s, {name}" for name, _ in columns) + " |",
        "|---|" + "---|---|" * len(columns),
    ]
    for phase, label in TRAIN_PHASES.items():
        cells = (f"{r['phase_seconds'][phase]:.0f} | {r['phase_cpu_seconds'][phase]:.0f}" for _, r in columns)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = (f"**{r['wall_seconds']:.0f}** | **{r['cpu_seconds']:.0f}**" for _, r in columns)
    return [*lines, "| **total** | " + " | ".join(cells) + " |"]


def _quiet_verdict(cpu: float, limit: float) -> str:
    if cpu <= limit:
        return "met ✅ even on one core"
    if cpu / 2 <= limit:
        return (
            "not met ❌: it would take both cores busy throughout, and most of the training runs one "
            "thread at a time (pandas, NumPy, LightGBM; implicit's ALS and item-kNN use two)"
        )
    return "not met ❌ even with both cores busy throughout"


def _run_context(found: dict, path: Path) -> str:
    world, train = found["world"], found["train"]
    return (
        f"{_link(path)}, {_day(found['when'])}, {world['customers']:,} customers, {world['orders']:,} orders, "
        f"load {train['load_1min'][0]} → {train['load_1min'][1]}"
    )


def render_recommend_train(results: Path) -> str:
    """`ecomm train recommender` at the 1M-order world, per phase, beside the tuned item-kNN alone; and
    before/after pairs of the same benchmark on the code before the speed-ups, when stored (at 1M:
    recommend_train_before.json; on a smaller world: recommend_train_small{,_before}.json)."""
    path = results / "recommend_train.json"
    found, before = _load_json(path), _optional(results / "recommend_train_before.json")
    train, base, world = found["train"], found.get("baseline"), found["world"]  # no baseline: --no-baseline
    cpu, limit = train["cpu_seconds"], found["target_seconds"]
    compared = (
        " Baseline in the same run, the tuned item-kNN alone (the same read, its grid on the validation "
        f"split, fitted, every customer's top 100 listed): {base['wall_seconds']:.0f} s wall, "
        f"{base['cpu_seconds']:.0f} s CPU (load {base['load_1min'][0]} → {base['load_1min'][1]}); the "
        f"re-ranked model's training costs **{found['ratio_cpu']:.1f}×** its CPU."
        if base
        else " No baseline in this run (`--no-baseline`)."
    )
    lines = [
        f"Measured {_day(found['when'])} by `python -m benchmarks.run --only recommend_train` ({_link(path)}) "
        f"on the {world['orders']:,}-order world ({world['customers']:,} customers, "
        f"{world['order_lines']:,} order lines): `ecomm train recommender` took **{train['wall_seconds']:.0f} s** "
        f"wall and {cpu:.0f} s CPU (user + sys of its process tree; the PostgreSQL server's work for the "
        f"read is not in it) at a 1-minute load average of {train['load_1min'][0]} → {train['load_1min'][1]} "
        f"on {found['cpus']} shared cores. Target ≤ {limit} s wall on 2 quiet cores, which this shared "
        f"machine cannot time: the CPU seconds put a quiet run between {cpu / 2:.0f} s (both cores busy "
        f"throughout) and {cpu:.0f} s (one core at a time): {_quiet_verdict(cpu, limit)}.{compared}",
        "",
        *_phase_table([("after", train), *([("before", before["train"])] if before else [])]),
    ]
    if before:
        lines += [
            "",
            f"Before: the code before the speed-ups ({_run_context(before, results / 'recommend_train_before.json')}); "
            f"the model's validation NDCG@10 {before['train']['validation_ndcg_at_10']:.4f} before and "
            f"{train['validation_ndcg_at_10']:.4f} after, holdout {before['train']['holdout_ndcg_at_10']:.4f} "
            f"and {train['holdout_ndcg_at_10']:.4f}.",
        ]
    small, small_before = (_optional(results / f"recommend_train_small{s}.json") for s in ("", "_before"))
    if small and small_before:
        lines += [
            "",
            "The same benchmark on a smaller world, the code before the speed-ups and after: before "
            f"({_run_context(small_before, results / 'recommend_train_small_before.json')}), after "
            f"({_run_context(small, results / 'recommend_train_small.json')}); the model's validation NDCG@10 "
            f"{small_before['train']['validation_ndcg_at_10']:.4f} before and "
            f"{small['train']['validation_ndcg_at_10']:.4f} after, holdout "
            f"{small_before['train']['holdout_ndcg_at_10']:.4f} and {small['train']['holdout_ndcg_at_10']:.4f}:",
            "",
            *_phase_table([("before", small_before["train"]), ("after", small["train"])]),
        ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ real time
def _cpu(run: dict, key: str) -> str:
    value = run.get(f"{key}_cpu_ms_per_1000")
    return "—" if value is None else f"{value:.1f} ms"


def _loads(run: dict) -> str:
    load = run.get("load_average")
    return "—" if load is None else f"{load[0]:.1f} → {load[1]:.1f}"


def _ours_row(found: dict, name: str, label: str) -> str:
    run, t = found[name], found["targets"]
    if "seconds" not in run:
        return f"| {label} | not run: {run['skipped']} | | | | | | | | |"
    ratios, met = found["ratios"][name], found["met"][name]
    return (
        f"| {label} | {run['seconds']:.2f} | **{run['events_per_second']:,}** | {_cpu(run, 'server')} "
        f"| {_cpu(run, 'client')} | {_cpu(run, 'postgres')} | {_loads(run)} | {run['lost']} / {run['duplicated']} "
        f"| {ratios['vs_bare_fastapi']:.2f}× / **{ratios['vs_copy']:.2f}×** "
        f"| ≥ {t['events_per_second_min']:,}/s {_mark(met['events_per_second'])}; "
        f"≥ {t['copy_ratio_min']}× COPY {_mark(met['copy_ratio'])} |"
    )


def _ingest_lines(found: dict, path: Path) -> list[str]:
    bare, copy = found["bare_fastapi"], found["copy"]
    mix = ", ".join(f"{n:,} {name}" for name, n in found["by_entity"].items())
    workers = found["ours_scaled"].get("workers", 2)
    scaled = (
        f"once with {workers} sharing the live KPIs through a Redis bus (Compose's `scale` profile)"
        if "seconds" in found["ours_scaled"]
        else "the run with several workers skipped (no redis-server)"
    )
    return [
        f"Ingestion, measured {_day(found['when'])} ({_link(path)}): {found['events']:,} events ({mix}) POSTed "
        f"as batches of {found['batch']:,} by {found['clients']} keep-alive clients in their own process "
        f"to `ecomm serve api`, once with one uvicorn worker and {scaled}, each into empty stream tables; lost and "
        "duplicated events checked by `stream_event_id` after each. CPU per 1,000 events of each process "
        "(the server with its workers, the client process, the embedded PostgreSQL), and the machine's "
        "1-minute load average at the start and end of each run (2 cores, shared):",
        "",
        "| path | seconds | events/s | server CPU | client CPU | PostgreSQL CPU | load average "
        "| lost / duplicated | vs bare FastAPI / vs COPY | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
        _ours_row(found, "ours", "**ours**, `POST /events`, 1 worker"),
        _ours_row(found, "ours_scaled", f"**ours**, `POST /events`, {workers} workers + Redis bus"),
        f"| bare FastAPI endpoint (reads the body, answers 202) | {bare['seconds']:.2f} "
        f"| {bare['events_per_second']:,} | {_cpu(bare, 'server')} | {_cpu(bare, 'client')} | "
        f"| {_loads(bare)} | | | |",
        f"| bare COPY of the same rows from files | {copy['seconds']:.2f} | {copy['events_per_second']:,} "
        f"| | | {_cpu(copy, 'postgres')} | {_loads(copy)} | | | |",
    ]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _fanout_lines(found: dict, path: Path) -> list[str]:
    t = found["targets"]
    lines = [
        f"Fan-out, measured {_day(found['when'])} ({_link(path)}): {found['clients']:,} WebSocket clients "
        f"(websockets client library, {found['client_processes']} processes of their own) for "
        f"{found['seconds_per_run']:.0f} s per run; the ceiling is a bare `websockets` server sending the "
        f"same {found['payload_bytes']:,}-byte KPI message with `websockets.broadcast()` at the same rate; "
        "delay = producer tick → client receive; compute = the producer's work per tick (p50 / p99):",
        "",
        "| rate | server | frames/s delivered | p50 | p99 | skipped | dropped | compute per tick "
        "| p99 vs ceiling | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rate, run in found["runs"].items():
        per_second = rate.split("_")[0]
        for name, label in (("ours", "**ours**, `/ws/live`"), ("bare_broadcast", "`websockets.broadcast()`")):
            r = run[name]
            ratio, target, compute = "", "", ""
            if name == "ours":
                ratio = f"**{run['p99_vs_ceiling']:.2f}×**" if run["p99_vs_ceiling"] is not None else "—"
                target = (
                    f"p99 ≤ {t['p99_ms_max']:,} ms, none dropped {_mark(run['met']['p99'])}; "
                    f"≤ {t['p99_ceiling_ratio_max']}× {_mark(run['met']['p99_vs_ceiling'])}"
                )
                cost = r.get("compute_ms")
                compute = (
                    f"{cost['p50']:.1f} / {cost['p99']:.1f} ms" if cost and cost["p50"] is not None else "—"
                )
            lines.append(
                f"| {per_second}/s | {label} | {r['frames_per_second']:,.0f} | {_ms(r['p50_ms'])} "
                f"| {_ms(r['p99_ms'])} | {r['skipped']:,} | {r['dropped']:,} of {r['clients']:,} | {compute} "
                f"| {ratio} | {target} |"
            )
    return [*_tick_lines(found), *lines, "", *_visible_lines(found)]


def _tick_lines(found: dict) -> list[str]:
    tick = found.get("tick")
    if tick is None:
        return []
    same = "equal to" if tick["equal_to_recount"] else "**different from**"
    return [
        f"The producer's tick on the day the ingestion left ({tick['rows']:,} stream rows), same run: "
        f"**{tick['tick_nothing_new_ms']:.1f} ms** with nothing new, **{tick['tick_one_batch_ms']:.1f} ms** "
        f"folding in one {tick['tick_batch_events']:,}-event batch, {tick['first_tick_ms']:,.0f} ms for its "
        f"first tick (everything counted: at start, after a prune), against {tick['recount_ms']:.1f} ms to "
        f"recount the same KPIs by SQL over every row (what each tick did before); its figures {same} "
        "the recount's.",
        "",
    ]


def _visible_lines(found: dict) -> list[str]:
    runs = {rate: run["visible"] for rate, run in found["runs"].items() if "visible" in run}
    if not runs:
        return ["Time from an event's 202 to the live KPIs: not measured in this run."]
    first = next(iter(runs.values()))
    lines = [
        f"Time from an event's 202 to the live KPIs, the same runs: after each rate's fan-out run, on the "
        f"same server, one client posts {first['posts']} batches of {first['events_per_post']} events "
        "(one order line, five web events of the day shown), one at a time at a random phase of the tick, "
        "and times each from its 202 to the first `/ws/live` frame that counts it:",
        "",
        "| tick | p50 | p99 | max | the POST itself (p50) | target |",
        "|---|---|---|---|---|---|",
    ]
    for rate, v in runs.items():
        met = found["runs"][rate]["met"]["visible_p99"]
        lines.append(
            f"| {v['tick_ms']:,} ms | {_ms(v['p50_ms'])} | **{_ms(v['p99_ms'])}** | {_ms(v['max_ms'])} "
            f"| {_ms(v['post_p50_ms'])} | p99 ≤ {found['targets']['visible_p99_ms_max']:,} ms {_mark(met)} |"
        )
    return lines


def _stream_day_lines(path: Path) -> list[str]:
    found = _optional(path)
    if found is None:
        return ["A whole day of the 1M-order world streamed and reconciled: not measured yet (`stream_day`)."]
    w, r, c = found["world"], found["replay"], found["reconciliation"]
    verdict = "**reconciled exactly**" if found["reconciled"] else "**not reconciled**"
    left = found["stream_rows_after_prune"]
    return [
        f"A whole day streamed, measured {_day(found['when'])} ({_link(path)}): the next business date "
        f"({found['business_date']}) of the 1M-order world ({w['customers']:,} customers, {w['products']:,} "
        f"products, {w['days']} days, seed {w['seed']}) replayed by `ecomm stream --speed {found['speed']:g}` into "
        f"`ecomm serve api`: {r['sent']:,} events sent, {r['stored']:,} stored, {r['rejected']:,} rejected, in "
        f"{r['seconds']:.1f} s (generating the date's batch first, as the `stream` service does; the day's "
        f"span at this speed is {r['paced_seconds']:.0f} s; load "
        f"{found['load_average'][0]:.1f} → {found['load_average'][1]:.1f}). The nightly load of that date "
        f"then took {found['nightly_load_seconds']:.1f} s and its checks {verdict}: "
        f"`stream_order_items` {c['stream_order_items']['details']}; "
        f"`stream_web_events` {c['stream_web_events']['details']}. Stream rows left after the prune: "
        f"{left['order_items']:,} order lines, {left['web_events']:,} web events.",
    ]


def render_stream(results: Path) -> str:
    """POST /events beside a bare endpoint and a bare COPY; /ws/live beside websockets.broadcast();
    a whole day of the 1M-order world streamed and reconciled."""
    ingest, fanout = results / "stream_ingest.json", results / "stream_fanout.json"
    return "\n".join(
        [
            *_ingest_lines(_load_json(ingest), ingest),
            "",
            *_fanout_lines(_load_json(fanout), fanout),
            "",
            *_stream_day_lines(results / "stream_day.json"),
        ]
    )


# ------------------------------------------------------------------------------------ the API
def _rate(run: dict) -> str:
    return f"{run['rps']:,.0f}"


def _milliseconds(value: float) -> str:
    """Two significant digits, as wrk's own precision makes sense of (0.17, 3.0, 20, 113)."""
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _latency(run: dict) -> str:
    return f"{_milliseconds(run['p50_ms'])} / {_milliseconds(run['p99_ms'])} ms"


def _api_rows(found: dict) -> list[str]:
    r, ratios, met, t = found["results"], found["ratios"], found["met"], found["targets"]
    churn, hundred = r["churn_1_user"], r["churn_100_users"]
    rows = [
        ("ceiling: bare `GET /hello`", r["ceiling_hello"], "", "", ""),
        ("our `GET /health`", r["health"], "", "", ""),
        (
            "`POST /predict/churn`, 1 user",
            churn,
            f" {_mark(met['p99_c1_one_user'])} (≤ {t['p99_c1_one_user_ms']:.0f})",
            f" (**{ratios['churn_1_throughput_vs_ceiling_c32']:.2f}×** the ceiling "
            f"{_mark(met['throughput'])}, target ≥ {t['throughput_ratio_min']})",
            f" (**{ratios['churn_1_p99_vs_ceiling_p99_c32']:.1f}×** the ceiling's p99 "
            f"{_mark(met['p99_c32'])}, target ≤ {t['p99_ratio_max']})",
        ),
        (
            "`POST /predict/churn`, 100 users",
            hundred,
            f" {_mark(met['p99_c1_100_users'])} (≤ {t['p99_c1_100_users_ms']:.0f})",
            "",
            "",
        ),
    ]
    for name, label in (
        ("recommendations_k10", "`GET /recommendations/{id}?k=10`"),
        ("recommendations_post_n10", "`POST /recommendations`, `n_items` 10"),
    ):
        rows.append(
            (
                label,
                r[name],
                f" {_mark(met[f'{name}_p99_c1'])} (≤ {t['recommendations_p99_c1_ms']:.0f})",
                f" {_mark(met[f'{name}_rps_c32'])} (≥ {t['recommendations_rps_c32']:,.0f}; "
                f"{ratios[f'{name}_throughput_vs_ceiling_c32']:.2f}× the ceiling)",
                "",
            )
        )
    return [
        f"| {label} | {_rate(run['c1'])} | {_latency(run['c1'])}{p99_c1} | {_rate(run['c32'])}{rps_c32} "
        f"| {_latency(run['c32'])}{p99_c32} |"
        for label, run, p99_c1, rps_c32, p99_c32 in rows
    ]


def render_api(results: Path) -> str:
    """wrk against `ecomm serve api` beside a bare FastAPI hello-world in the same run."""
    path = results / "api.json"
    found = _load_json(path)
    setup, load = found["setup"], found["load_average_1min"]
    return "\n".join(
        [
            f"**Speed** (`make bench` → {_link(path)}; wrk, 1 thread, keep-alive, {found['seconds_per_run']} s "
            "per run, loopback, one uvicorn worker, server and load generator on the same "
            f"{found['cpus']} cores; measured {_day(found['when'])} on a world of "
            f"{setup['customers']:,} customers and {setup['orders']:,} orders, customer "
            f"{found['customer_id']} (one the recommender knows); 1-minute load average "
            f"{load['before']:.1f} before the run and {load['after']:.1f} after it, other work "
            "included). The ceiling is a bare FastAPI hello-world served the same way in the same run:",
            "",
            "| route | c=1 req/s | c=1 p50 / p99 | c=32 req/s | c=32 p50 / p99 |",
            "|---|---|---|---|---|",
            *_api_rows(found),
        ]
    )


# --------------------------------------------------------------------------------- raw contract
def render_contract() -> str:
    from ecomm.warehouse.contract import contract_markdown

    return contract_markdown()


# ------------------------------------------------------------------------------------ the README
def renderers(benchmark_results: Path, docs_results: Path) -> dict[str, Callable[[], str]]:
    return {
        "benchmarks": lambda: render_benchmarks(benchmark_results),
        "platform": lambda: render_platform(benchmark_results),
        "models": lambda: render_models(docs_results),
        "models_seeds": lambda: render_models_seeds(benchmark_results),
        "recommend_general": lambda: render_recommend_general(benchmark_results),
        "causal": lambda: render_causal(docs_results),
        "forecast_real": lambda: render_forecast_real(benchmark_results),
        "forecast_seeds": lambda: render_forecast_seeds(benchmark_results),
        "recommend_real": lambda: render_recommend_real(benchmark_results),
        "import_recommend": lambda: render_import_recommend(benchmark_results),
        "import_interactions": lambda: render_import_interactions(benchmark_results),
        "recommend_train": lambda: render_recommend_train(benchmark_results),
        "stream": lambda: render_stream(benchmark_results),
        "drift": lambda: render_drift(benchmark_results),
        "drift_retrain": lambda: render_drift_retrain(benchmark_results),
        "monitoring": lambda: render_monitoring(benchmark_results),
        "api": lambda: render_api(benchmark_results),
        "contract": render_contract,
    }


def _block(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- figures:{name} -->\n)(.*?)(<!-- /figures:{name} -->)", re.DOTALL)


def apply(text: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """The README with each block replaced by its rendering, and the names of the blocks that changed."""
    changed = []
    for name, rendering in blocks.items():
        body = rendering + "\n"
        pattern = _block(name)
        match = pattern.search(text)
        if match is None:
            raise FiguresError(f"README has no block <!-- figures:{name} --> ... <!-- /figures:{name} -->")
        if match.group(2) != body:
            changed.append(name)
        text = text[: match.start(2)] + body + text[match.end(2) :]
    return text, changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block differs")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--benchmark-results", type=Path, default=BENCHMARK_RESULTS)
    parser.add_argument("--docs-results", type=Path, default=DOCS_RESULTS)
    args = parser.parse_args(argv)
    try:
        rendered = {
            name: render() for name, render in renderers(args.benchmark_results, args.docs_results).items()
        }
        text, changed = apply(args.readme.read_text(encoding="utf-8"), rendered)
    except FiguresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"error: a stored result lacks the field {exc}", file=sys.stderr)
        return 1
    if args.check:
        for name in changed:
            print(
                f"error: {args.readme}: block figures:{name} differs from its stored results; "
                "run `python -m benchmarks.figures`",
                file=sys.stderr,
            )
        return 1 if changed else 0
    args.readme.write_text(text, encoding="utf-8")
    print(f"{args.readme}: " + (f"rewrote {', '.join(changed)}" if changed else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
