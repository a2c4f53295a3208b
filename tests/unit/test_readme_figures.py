"""The README's measured figures are rendered from the stored results (benchmarks/results/*.json,
docs/results/): a hand edit of a generated block, or a stored result the README does not show, fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCKS = (
    "benchmarks",
    "platform",
    "models",
    "models_seeds",
    "recommend_general",
    "causal",
    "forecast_real",
    "forecast_seeds",
    "recommend_real",
    "recommend_train",
    "drift",
    "drift_retrain",
    "monitoring",
    "api",
    "contract",
)


def figures(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.figures", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def readme_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", copy)
    return copy


def test_readme_blocks_equal_what_the_stored_results_render():
    done = figures("--check")
    assert (done.returncode, done.stderr) == (0, "")


def test_every_block_is_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in BLOCKS:
        assert readme.count(f"<!-- figures:{name} -->") == 1
        assert readme.count(f"<!-- /figures:{name} -->") == 1


def test_a_hand_edited_figure_fails_the_check(tmp_path: Path):
    readme = readme_copy(tmp_path)
    text = readme.read_text(encoding="utf-8")
    start = text.index("<!-- figures:models -->")
    edited = text[:start] + text[start:].replace(
        "| churn ROC-AUC (leakage sentinel) | 0.", "| churn ROC-AUC (leakage sentinel) | 1.", 1
    )
    assert edited != text
    readme.write_text(edited, encoding="utf-8")
    done = figures("--check", "--readme", str(readme))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {readme}: block figures:models differs from its stored results; run `python -m benchmarks.figures`"
    ]
    assert readme.read_text(encoding="utf-8") == edited  # --check changes nothing


def test_a_missing_block_is_named(tmp_path: Path):
    readme = readme_copy(tmp_path)
    readme.write_text(
        readme.read_text(encoding="utf-8").replace("<!-- /figures:causal -->", ""), encoding="utf-8"
    )
    done = figures("--check", "--readme", str(readme))
    assert done.returncode == 1
    assert "README has no block <!-- figures:causal -->" in done.stderr


def test_a_missing_stored_result_is_named(tmp_path: Path):
    results = tmp_path / "results"
    shutil.copytree(REPO / "benchmarks" / "results", results)
    (results / "load.json").unlink()
    done = figures("--check", "--benchmark-results", str(results))
    assert done.returncode == 1
    assert (
        done.stderr
        == f"error: {results / 'load.json'}: missing (the stored result this block is rendered from)\n"
    )


def test_generation_target_is_judged_on_the_like_for_like_ratio(tmp_path: Path):
    """The headline ratio is order lines vs the baseline's order rows, and the ✅/❌ follows it."""
    stored = json.loads((REPO / "benchmarks" / "results" / "generate.json").read_text())
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"**{stored['ratio_order_lines_vs_row_wise']:.1f}×** (our order lines/s vs its rows/s" in readme
    assert "≥ 20× ❌ |" in readme  # 12.3 < 20

    results = tmp_path / "results"
    shutil.copytree(REPO / "benchmarks" / "results", results)
    stored["ratio_order_lines_vs_row_wise"] = 21.0
    (results / "generate.json").write_text(json.dumps(stored), encoding="utf-8")
    copy = readme_copy(tmp_path)
    done = figures("--readme", str(copy), "--benchmark-results", str(results))
    assert done.returncode == 0, done.stderr
    rendered = copy.read_text(encoding="utf-8")
    assert "**21.0×** (our order lines/s vs its rows/s" in rendered
    assert "≥ 20× ✅ |" in rendered


def test_stored_generation_ratio_follows_from_the_measured_numbers():
    stored = json.loads((REPO / "benchmarks" / "results" / "generate.json").read_text())
    ours, faker = stored["ours"], stored["row_wise_faker"]
    lines_per_s = ours["rows"]["order_items"] / ours["seconds"]
    assert abs(stored["ratio_order_lines_vs_row_wise"] - lines_per_s / faker["rows_per_s"]) < 0.05


def test_the_contract_table_lists_every_declared_column():
    from ecomm.entities import ENTITIES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("<!-- figures:contract -->") : readme.index("<!-- /figures:contract -->")]
    for entity in ENTITIES:
        assert f"| `{entity.name}` ({', '.join(entity.key)}) |" in block
        for column in entity.fields:
            assert f"| `{column.name}` | {column.type} |" in block
        for rule in entity.rules:
            assert f"`{rule}` ({rule.message})" in block


def _check_seeds_table(name: str) -> tuple[dict, str]:
    """The README block `name` counts each stored target's seeds met; the stored result and block."""
    stored = json.loads((REPO / "benchmarks" / "results" / f"{name}.json").read_text())
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(f"<!-- figures:{name} -->") : readme.index(f"<!-- /figures:{name} -->")]
    seeds = len(stored["seeds"])
    for target in stored["targets"]:
        assert target["met_in"] == sum(1 for met in target["met"].values() if met)
        row = next(line for line in block.splitlines() if line.startswith(f"| {target['name']} |"))
        assert row.startswith(f"| {target['name']} | {target['required']} | ")
        assert row.endswith(f"| {target['met_in']} of {seeds} |")
        assert row.count("✅") == target["met_in"]
    return stored, block


def test_the_seeds_table_counts_each_target_met_over_the_stored_seeds():
    _check_seeds_table("models_seeds")


def test_the_forecast_seeds_table_counts_each_target_met_and_judges_the_speed():
    stored, block = _check_seeds_table("forecast_seeds")
    for run in stored["seeds"]:
        for level, row in run["levels"].items():
            assert (
                f"| {run['seed']} | {level} | {row['series']} | {row['method']} | {row['mase']:.3f} |"
                in block
            )
    speed = stored["speed"]["target"]
    assert speed["met"] == (speed["observed"] <= 60)
    row = next(line for line in block.splitlines() if line.startswith(f"| {speed['name']} |"))
    assert row.count("✅") == int(speed["met"]) and row.endswith(f"| {int(speed['met'])} of 1 |")


def test_the_drift_retrain_block_names_the_retraining_rule_its_seeds_ran(tmp_path: Path):
    """The stored run records its rule and says it; a result without the rule's persistence (the
    older runs, a mix of triggers) says it was measured with the triggers of its date."""
    sys.path.insert(0, str(REPO))
    from benchmarks.figures import render_drift_retrain

    stored = json.loads((REPO / "benchmarks/results/drift_retrain.json").read_text())
    rule = stored["retrain_rule"]
    block = render_drift_retrain(REPO / "benchmarks/results")
    assert f"the recent inputs - p < {rule['inputs_alpha']}/features" in block
    assert "one-day order PSI" not in block
    del stored["retrain_rule"]["persist_days"]
    (tmp_path / "drift_retrain.json").write_text(json.dumps(stored))
    assert "by the trigger of the seed's run: the one-day order PSI" in render_drift_retrain(tmp_path)
