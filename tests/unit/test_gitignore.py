"""Files that tools write into the checkout while the platform runs stay out of `git status`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs git and a checkout"
)


@pytest.mark.parametrize(
    "path",
    [
        "notebooks/.ipynb_checkpoints/campaign_impact-checkpoint.ipynb",  # JupyterLab's autosaves
        ".ecomm/pgdata/PG_VERSION",
        "benchmarks/.work/home/pgdata/PG_VERSION",
    ],
)
def test_generated_files_are_ignored(path):
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO)
    assert ignored.returncode == 0, f"{path} is not ignored by .gitignore"


def test_the_notebooks_themselves_are_not_ignored():
    tracked = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", "notebooks/campaign_impact.ipynb"], cwd=REPO
    )
    assert tracked.returncode == 1
