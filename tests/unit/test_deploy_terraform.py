"""terraform/: every file parses, checkov finds nothing it was not told (in code, with a reason) to
skip, and every compose service meant for AWS has an ECS counterpart."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from support.deploy import REPO, TOOLS, compose_raw

TERRAFORM = REPO / "terraform"
MODULES = {"network", "kms", "rds", "redis", "s3", "ecr", "ecs"}
# compose services with no ECS service or job, and why
NOT_ON_AWS = {
    "postgres": "RDS PostgreSQL (modules/rds) replaces it",
    "jupyter": "a developer's notebook server, run locally",
    "dbt-docs": "the dbt docs site for developers, served locally; dbt itself runs inside the Airflow tasks",
    "redis": "ElastiCache Redis (modules/redis) is the Celery broker on AWS",
    "stream": "the simulated shop's live replay, a demonstration: on AWS the shop's own systems post to /events",
    "prometheus": "scrapes the API locally and in Compose; no Prometheus runs on AWS yet (ECS logs go to CloudWatch)",
}
CHECKOV = TOOLS / "checkov-venv" / "bin" / "checkov"
# (check, resource) skipped by a `checkov:skip=` comment in terraform/, each with its reason there
SKIPPED = {
    ("CKV_AWS_111", "module.kms.aws_iam_policy_document.key"),
    ("CKV_AWS_356", "module.kms.aws_iam_policy_document.key"),
    ("CKV_AWS_109", "module.kms.aws_iam_policy_document.key"),
    ("CKV_AWS_394", "module.network.aws_availability_zones.available"),
    ("CKV2_AWS_62", 'module.s3.aws_s3_bucket.this["data-lake"]'),
    ("CKV2_AWS_62", 'module.s3.aws_s3_bucket.this["mlflow-artifacts"]'),
    ("CKV2_AWS_62", "module.s3.aws_s3_bucket.logs"),
    ("CKV_AWS_144", 'module.s3.aws_s3_bucket.this["data-lake"]'),
    ("CKV_AWS_144", 'module.s3.aws_s3_bucket.this["mlflow-artifacts"]'),
    ("CKV_AWS_144", "module.s3.aws_s3_bucket.logs"),
    ("CKV_AWS_18", "module.s3.aws_s3_bucket.logs"),
    ("CKV_AWS_145", "module.s3.aws_s3_bucket.logs"),
    ("CKV2_AWS_57", "module.ecs.aws_secretsmanager_secret.airflow_admin"),
    ("CKV2_AWS_57", "module.ecs.aws_secretsmanager_secret.api_keys"),
    ("CKV2_AWS_57", "module.rds.aws_secretsmanager_secret.url"),
    ("CKV2_AWS_57", "module.redis.aws_secretsmanager_secret.broker_url"),
    ("CKV_AWS_378", "module.ecs.aws_lb_target_group.this"),
}


def unquote(value):
    return value[1:-1] if isinstance(value, str) and value[:1] == value[-1:] == '"' else value


def parse(path):
    with path.open() as handle:
        return hcl2.load(handle)


def tf_files():
    return sorted(TERRAFORM.rglob("*.tf"))


def test_every_file_parses():
    files = tf_files()
    assert {p.parent.name for p in files if p.parent.parent.name == "modules"} == MODULES
    for path in files:
        parse(path)  # raises on a syntax error
    assert (TERRAFORM / "environments" / "prod" / "main.tf").is_file()


def test_every_variable_and_output_is_described():
    for path in tf_files():
        document = parse(path)
        for kind in ("variable", "output"):
            for block in document.get(kind, []):
                for name, body in block.items():
                    assert unquote(body.get("description", "")) != "", f"{path}: {kind} {name}"


def test_tfvars_example_sets_every_required_variable():
    variables = {}
    for block in parse(TERRAFORM / "environments" / "prod" / "variables.tf")["variable"]:
        for name, body in block.items():
            variables[unquote(name)] = "default" in body
    example = parse(TERRAFORM / "environments" / "prod" / "terraform.tfvars.example")
    required = {name for name, has_default in variables.items() if not has_default}
    assert required == {"domain_name", "certificate_arn", "allowed_cidrs", "image_tag"}
    assert required <= {name for name in example if not name.startswith("__")} <= set(variables)


def test_checkov_passes_with_reasoned_skips_only():
    done = subprocess.run(
        [str(CHECKOV), "--directory", str(TERRAFORM), "--framework", "terraform",
         "--compact", "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    report = json.loads(done.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert done.returncode == 0
    skipped = report["results"]["skipped_checks"]
    assert {(c["check_id"], c["resource"]) for c in skipped} == SKIPPED
    assert report["summary"]["skipped"] == len(SKIPPED)
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 40, (check["check_id"], check["resource"], reason)


def ecs_locals() -> dict:
    return parse(TERRAFORM / "modules" / "ecs" / "services.tf")["locals"][0]


def test_every_compose_service_for_aws_has_an_ecs_counterpart():
    compose = set(compose_raw()["services"])
    ecs = ecs_locals()
    on_aws = set(ecs["services"]) | set(ecs["jobs"])
    assert compose - set(NOT_ON_AWS) == on_aws
    assert set(NOT_ON_AWS) <= compose


@pytest.mark.parametrize("name", ["fastapi", "streamlit", "mlflow", "airflow-api-server"])
def test_ecs_services_listen_where_compose_services_do(name):
    ecs = ecs_locals()["services"][name]
    ports = compose_raw()["services"][name]["ports"]
    assert ports[0].endswith(f":{ecs['port']}")


def test_ecs_runs_the_compose_commands():
    ecs = ecs_locals()
    compose = compose_raw()["services"]
    for name, service in ecs["services"].items():
        command = service["command"]
        if command is not None:
            assert [unquote(a) for a in command] == compose[name]["command"], name
    assert [unquote(a) for a in ecs["jobs"]["bootstrap"]["command"]] == compose["bootstrap"]["command"]


def test_airflow_on_ecs_uses_the_scale_profiles_celery_executor():
    ecs = ecs_locals()
    environment = {k: unquote(v) for k, v in ecs["environment"]["airflow"].items()}
    assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert ecs["secrets"]["airflow"]["AIRFLOW__CELERY__BROKER_URL"] == "${var.celery_broker_secret_arn}"
    worker = ecs["services"]["airflow-worker"]
    assert worker["desired"] == "${var.airflow_worker_count}"
    assert worker["health_command"] == "${local.celery_ping}"
    prod = parse(TERRAFORM / "environments" / "prod" / "main.tf")["module"]
    modules = {unquote(name): body for block in prod for name, body in block.items()}
    assert modules["ecs"]["celery_broker_secret_arn"] == "${module.redis.broker_url_secret_arn}"
    compose_ping = compose_raw()["services"]["airflow-worker"]["healthcheck"]["test"][1]
    assert compose_ping.split(" -d ")[0] in ecs["celery_ping"]


# Where this machine has Terraform and a local copy of the AWS provider (no registry is reachable),
# `terraform validate` runs on a copy whose generated passwords are literals, since the `random`
# provider is not on disk; GitHub Actions validates the real files with both providers.
PLUGINS = Path("/opt/tf-plugins")


@pytest.mark.skipif(
    shutil.which("terraform") is None
    or not (PLUGINS / "registry.terraform.io" / "hashicorp" / "aws").is_dir(),
    reason="terraform or its local AWS provider (/opt/tf-plugins) is not on this machine",
)
def test_terraform_is_formatted_and_validates(tmp_path):
    unformatted = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-no-color", str(TERRAFORM)],
        capture_output=True,
        text=True,
    )
    assert unformatted.returncode == 0, f"terraform fmt would change: {unformatted.stdout}"
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy)
    for path in copy.rglob("*.tf"):
        text = re.sub(r'resource "random_password" "\w+" \{.*?\n\}\n', "", path.read_text(), flags=re.S)
        text = re.sub(r"random_password\.\w+\.result", '"' + "x" * 40 + '"', text)
        text = re.sub(r'\s*random = \{\s*source\s*=\s*"hashicorp/random"[^}]*\}', "", text)
        path.write_text(text)
    prod = copy / "environments" / "prod"
    env = {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": "/dev/null",
        # the plugin directory as the cache: init links the 600 MB provider instead of copying it
        "TF_PLUGIN_CACHE_DIR": str(PLUGINS),
        "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1",
    }
    run = functools.partial(subprocess.run, cwd=prod, env=env, capture_output=True, text=True, timeout=300)
    init = run(["terraform", "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={PLUGINS}"])
    assert init.returncode == 0, init.stderr
    done = run(["terraform", "validate", "-json"])
    report = json.loads(done.stdout)
    assert report["valid"], [d["summary"] + ": " + d.get("detail", "") for d in report["diagnostics"]]
    assert report["error_count"] == 0


def test_the_dashboard_on_ecs_reads_the_drift_reports_airflow_writes():
    """As in docker-compose.yml: both roles point ECOMM_DRIFT_REPORTS at the same path, which the
    Airflow tasks mount writable and the dashboard read-only (an EFS access point of its own)."""
    ecs = ecs_locals()
    compose_path = compose_raw()["x-ecomm-env"]["ECOMM_DRIFT_REPORTS"]
    assert unquote(ecs["reports_path"]) == compose_path
    for role in ("app", "airflow"):
        assert ecs["environment"][role]["ECOMM_DRIFT_REPORTS"] == "${local.reports_path}"
    mode = ecs["reports_mode"]
    assert 't.role == "airflow" ? "write"' in mode and 'k == "streamlit" ? "read" : null' in mode
    main = (TERRAFORM / "modules" / "ecs" / "main.tf").read_text()
    assert 'path = "/ecomm-reports"' in main  # not under /ecomm-home, where Airflow's keys are
    services = (TERRAFORM / "modules" / "ecs" / "services.tf").read_text()
    assert "drift-reports = aws_efs_access_point.reports.id" in services
    assert 'readOnly = local.reports_mode[each.key] == "read"' in services
    iam = parse(TERRAFORM / "modules" / "ecs" / "iam.tf")
    policies = {
        unquote(k): v
        for block in iam["resource"]
        for kind, body in block.items()
        if unquote(kind) == "aws_iam_role_policy"
        for k, v in body.items()
    }
    assert '${aws_iam_role.task["app"].id}' in str(policies["app_reports"]["role"])
    app_actions = str(policies["app_reports"]["policy"])
    assert "ClientMount" in app_actions and "ClientWrite" not in app_actions
