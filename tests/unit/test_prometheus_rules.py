"""monitoring/: Prometheus's config and alert rules checked by Debian's `promtool` (`make promtool`
installs it; `make test` depends on that), each alert unit-tested in alerts_test.yml (fires after its
`for:`, resolves), and the config `make up` writes for its own Prometheus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ecomm.platform.services import MONITORING, prometheus_config
from ecomm.settings import Settings

REQUIRED_ALERTS = {
    "EcommApiHighP99Latency",
    "EcommApi5xxRate",
    "EcommWarehouseStale",
    "EcommPipelineLoadFailed",
    "EcommModelDrift",
}


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: `make promtool` installs Debian's prometheus package (needs root)")
    return subprocess.run([binary, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60)


def alerts() -> list[dict]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_repos_config_is_valid():
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_the_rules_are_valid_and_every_alert_waits_and_says_what():
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in done.stdout
    assert {rule["alert"] for rule in alerts()} >= REQUIRED_ALERTS
    for rule in alerts():
        assert rule["for"], rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert len(rule["annotations"]["summary"]) > 30, rule["alert"]


def test_each_alert_fires_and_resolves_in_promtool_test_rules():
    done = promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    tests = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
    for rule in alerts():
        checks = [c for t in tests for c in t["alert_rule_test"] if c["alertname"] == rule["alert"]]
        fired = [i for i, c in enumerate(checks) if c["exp_alerts"]]
        assert fired, f"{rule['alert']} never fires in alerts_test.yml"
        assert checks[0]["exp_alerts"] == [] and checks[-1]["exp_alerts"] == [], rule["alert"]  # and resolves
        assert any(c["exp_alerts"] == [] for c in checks[1 : fired[0]]), f"{rule['alert']}: not pending first"


def test_the_config_make_up_writes_scrapes_the_local_api(tmp_path: Path):
    settings = Settings(_env_file=None, home=tmp_path, api_port=18000)
    path = prometheus_config(settings)
    assert path == tmp_path / "run" / "prometheus.yml"
    config = yaml.safe_load(path.read_text())
    assert config["rule_files"] == [str(MONITORING / "alerts.yml")]
    assert config["scrape_configs"][0]["static_configs"] == [{"targets": ["127.0.0.1:18000"]}]
    done = promtool("check", "config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
