"""The causal notebooks run top to bottom (nbclient, a real ipykernel) against a loaded test warehouse,
and end with the table of every estimate beside the planted truth. They are stored without outputs."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from ecomm import db
from ecomm.datagen import GeneratorConfig

from support.causal_world import causal_world

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# A small world: the notebooks' job here is to run clean (the estimates' accuracy is tested at a
# bigger size in tests/integration/test_causal_warehouse.py). 120 days keep 11 weeks before the launch.
SMALL = GeneratorConfig(seed=42, as_of=date(2025, 3, 31), days=120, customers=3000, products=200)
KERNEL = "python3"


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory, request):
    return causal_world(template_warehouse, tmp_path_factory, request, SMALL)


@pytest.fixture(scope="module")
def kernel() -> str:
    """The venv's python3 kernel (installed into the venv if missing)."""
    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True,
            capture_output=True,
        )
    return KERNEL


@pytest.mark.parametrize("name", ["campaign_impact", "regional_launch_did"])
def test_notebook_runs_top_to_bottom_and_ends_with_the_truth_table(name, world, kernel, monkeypatch):
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), (
        f"{path.name} is stored with outputs"
    )

    # the kernel inherits the environment: point Settings at the test warehouse
    monkeypatch.setenv("DATABASE_URL", db.libpq_dsn(db.server_url(world.settings)))
    monkeypatch.setenv("ECOMM_WAREHOUSE_DB", world.settings.warehouse_db)
    client = NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [o for c in code for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    assert all(c.execution_count is not None for c in code)
    assert f"/{world.settings.warehouse_db}" in code[0].outputs[0].text  # it read the test warehouse
    last = code[-1]
    assert "comparison_table(" in last.source
    (result,) = [o for o in last.outputs if o.output_type == "execute_result"]
    html = result.data["text/html"]
    for column in (
        "method",
        "estimate",
        "ci_low",
        "ci_high",
        "true_effect",
        "relative_error",
        "covers_truth",
    ):
        assert f"<th>{column}</th>" in html
    methods = {
        "campaign_impact": [
            "naive_difference",
            "propensity_score_matching",
            "inverse_propensity_weighting",
            "dowhy:backdoor.propensity_score_weighting",
            "dml_linear",
            "dml_forest",
        ],
        "regional_launch_did": ["naive_post_difference", "difference_in_differences"],
    }[name]
    for method in methods:
        assert f"<td>{method}</td>" in html
    assert "<td>NaN</td>" not in html  # every estimate has its planted truth beside it
