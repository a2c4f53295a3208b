"""docker-compose.yml: valid Compose, healthy by construction, documented, on the contract's ports (docs/architecture.md#ports), and
every command it runs exists in the image that runs it."""

from __future__ import annotations

import json
import re
import shlex

import jsonschema
import pytest
import typer.main

from ecomm.settings import Settings

from support.deploy import (
    COMPOSE_FILE,
    REPO,
    compose_config,
    compose_env,
    compose_raw,
    documented_variables,
    exec_form,
    final_stage,
    variables,
)

SCHEMA = REPO / "tests" / "data" / "compose-spec" / "compose_spec.json"
ONE_SHOT = {"db-migrate", "bootstrap", "airflow-init"}
SERVICES = {
    "postgres", "redis", "mlflow", "db-migrate", "bootstrap", "airflow-init", "airflow-api-server",
    "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "fastapi",
    "streamlit", "jupyter", "dbt-docs", "prometheus", "stream",
}  # fmt: skip
# service -> (the .env setting that moves the host port, the contract's port = the container's port)
PORTS = {
    "postgres": ("ECOMM_POSTGRES_PORT", 5432),
    "airflow-api-server": ("ECOMM_AIRFLOW_PORT", 8080),
    "mlflow": ("ECOMM_MLFLOW_PORT", 5050),
    "fastapi": ("ECOMM_API_PORT", 8000),
    "streamlit": ("ECOMM_STREAMLIT_PORT", 8501),
    "jupyter": ("ECOMM_JUPYTER_PORT", 8888),
    "dbt-docs": ("ECOMM_DBT_DOCS_PORT", 8081),
    "prometheus": ("ECOMM_PROMETHEUS_PORT", 9090),
}


def services() -> dict[str, dict]:
    return compose_config()["services"]


def test_the_file_validates_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema)  # as docker-compose 1.29 validates
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose_config())]
    assert errors == []
    assert set(services()) == SERVICES


def test_compose_v1_compatible():
    raw = compose_raw()
    assert "include" not in raw and "version" not in raw
    assert [name for name, s in raw["services"].items() if "develop" in s] == []


def test_every_long_running_service_has_a_healthcheck_and_one_shot_jobs_say_why_not():
    with_check = {name for name, s in services().items() if "healthcheck" in s}
    assert with_check == SERVICES - ONE_SHOT
    for name in ONE_SHOT:
        service = services()[name]
        assert service["restart"] == "no", name
        assert len(service["x-one-shot"]) > 40, name  # the reason, in words
    for name in SERVICES - ONE_SHOT:
        # the stream exits 0 on imported data (nothing to replay): restarted only after a failure
        assert services()[name]["restart"] == ("on-failure" if name == "stream" else "unless-stopped"), name
        assert services()[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_dependencies_wait_for_health_or_completion():
    for name, service in services().items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition == {"condition": expected}, (name, dependency)
    assert set(services()["fastapi"]["depends_on"]) == {"bootstrap", "mlflow"}
    assert set(services()["airflow-scheduler"]["depends_on"]) == {"airflow-api-server", "bootstrap"}


def test_every_variable_is_documented_in_env_example():
    used = set(variables(COMPOSE_FILE.read_text()))
    assert sorted(used - set(documented_variables())) == []


def test_no_secret_in_the_file():
    text = COMPOSE_FILE.read_text()
    for name, uses in variables(text).items():
        if re.search(r"PASSWORD|TOKEN|SECRET", name):
            assert {op for op, _ in uses} == {":?"}, name  # required, never defaulted here
    # a password-ish key with a literal value (values come from ${...}; *_CMD, *_FILE name a command, a path)
    literal = re.findall(r"(?m)^\s*(\w*(?:PASSWORD|TOKEN|SECRET)\w*):\s+(?!\$\{)\S", text)
    assert [key for key in literal if not key.endswith(("_CMD", "_FILE"))] == []


def test_ports_are_design_section_4s_and_match_settings():
    defaults = Settings.model_fields
    setting_of = {
        "ECOMM_AIRFLOW_PORT": "airflow_port",
        "ECOMM_MLFLOW_PORT": "mlflow_port",
        "ECOMM_API_PORT": "api_port",
        "ECOMM_STREAMLIT_PORT": "streamlit_port",
        "ECOMM_JUPYTER_PORT": "jupyter_port",
        "ECOMM_DBT_DOCS_PORT": "dbt_docs_port",
        "ECOMM_PROMETHEUS_PORT": "prometheus_port",
    }
    published = {name: s["ports"] for name, s in compose_raw()["services"].items() if "ports" in s}
    assert set(published) == set(PORTS)
    for name, (variable, port) in PORTS.items():
        assert published[name] == [f"${{ECOMM_BIND_ADDRESS:-127.0.0.1}}:${{{variable}:-{port}}}:{port}"]
        if variable in setting_of:
            assert defaults[setting_of[variable]].default == port
        assert documented_variables()[variable] in (str(port), None)


def test_settings_defaults_in_compose_are_the_packages():
    """`${ECOMM_X:-default}` must not drift from Settings' default."""
    fields = Settings.model_fields
    for name, uses in variables(COMPOSE_FILE.read_text()).items():
        field = name.removeprefix("ECOMM_").lower()
        if not name.startswith("ECOMM_") or field not in fields:
            continue
        for op, default in uses:
            if op == ":-":
                assert default == str(fields[field].default), name


def test_the_package_gets_a_server_url_and_the_tracking_server():
    env = services()["fastapi"]["environment"]
    assert env["DATABASE_URL"] == (
        f"postgresql://ecomm:{compose_env()['ECOMM_DB_PASSWORD']}@postgres:5432/data_warehouse"
    )
    assert env["ECOMM_MLFLOW_TRACKING_URI"] == "http://mlflow:5050"
    for name in (
        "db-migrate",
        "bootstrap",
        "airflow-scheduler",
        "streamlit",
        "jupyter",
        "dbt-docs",
        "stream",
    ):
        assert services()[name]["environment"]["DATABASE_URL"] == env["DATABASE_URL"], name


# ------------------------------------------------------------------------ commands exist
def dockerfile_of(service: dict) -> str:
    image = service["image"]
    if "build" in service:
        return service["build"]["dockerfile"]
    assert image.startswith("ecomm:"), image  # the base image, built by db-migrate's build
    return "Dockerfile"


def command_of(name: str) -> list[str]:
    service = services()[name]
    if "command" in service:
        command = service["command"]
        return shlex.split(command) if isinstance(command, str) else command
    cmd = [args for op, args in final_stage(REPO / dockerfile_of(service)) if op == "CMD"]
    return exec_form(cmd[-1])


def click_command(argv: list[str]):
    """Walk the `ecomm` CLI down argv's subcommands; the command and the remaining args."""
    from ecomm.cli import app

    command = typer.main.get_command(app)
    args = list(argv)
    while args and hasattr(command, "commands") and args[0] in command.commands:
        command = command.commands[args.pop(0)]
    return command, args


def assert_ecomm_command(argv: list[str]) -> None:
    assert argv[0] == "ecomm"
    command, rest = click_command(argv[1:])
    assert not hasattr(command, "commands"), f"`{' '.join(argv)}` names a group, not a command"
    options = {opt for param in command.params for opt in param.opts}
    for arg in rest:
        if arg.startswith("--"):
            assert arg in options, f"`{' '.join(argv)}`: no option {arg}"
    assert rest == [] or rest[0].startswith("--"), f"`{' '.join(argv)}`: unknown subcommand {rest[0]}"


def assert_airflow_command(argv: list[str]) -> None:
    from airflow.cli import cli_parser

    assert argv[0] == "airflow"
    if argv[1:3] == ["celery", "worker"]:  # the provider is in the images' lock, not in .venv
        lock = (REPO / "docker" / "requirements-images.lock").read_text()
        assert re.search(r"^apache-airflow-providers-celery==", lock, re.M)
        return
    cli_parser.get_parser().parse_args(argv[1:])  # SystemExit on an unknown command


@pytest.mark.parametrize("name", ["db-migrate", "bootstrap", "fastapi", "dbt-docs", "stream"])
def test_ecomm_commands_exist(name):
    assert_ecomm_command(command_of(name))


@pytest.mark.parametrize(
    "name",
    [
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    ],
)
def test_airflow_commands_exist(name):
    assert_airflow_command(command_of(name))
    dockerfile = (REPO / "airflow" / "Dockerfile").read_text()
    assert "COPY airflow/dags /opt/ecomm/airflow/dags" in dockerfile
    assert services()[name]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/ecomm/airflow/dags"


def test_the_stream_service_exits_0_on_imported_data_and_stays_down():
    """ECOMM_SOURCE reaches the containers; on imported data the stream service's own command says
    why in one line and exits 0 (run here, as the container runs it: no API is needed to decide), so
    its restart policy leaves it down. Without --follow the command is an error."""
    from ecomm.platform.services import STREAM_OFF_IMPORTED

    from support.cli import ecomm

    assert {
        s["environment"]["ECOMM_SOURCE"]
        for s in services().values()
        if "ECOMM_SEED" in s.get("environment", {})
    } == {"simulated"}
    argv = command_of("stream")
    imported = ecomm(*argv[1:], env={"ECOMM_SOURCE": "imported"})
    assert (imported.returncode, imported.stdout, imported.stderr.strip()) == (0, "", STREAM_OFF_IMPORTED)
    by_hand = ecomm("stream", env={"ECOMM_SOURCE": "imported"})
    assert (by_hand.returncode, by_hand.stderr.strip()) == (1, f"error: {STREAM_OFF_IMPORTED}")
    assert services()["stream"]["restart"] == "on-failure"


def test_airflow_init_prepares_the_home_then_migrates():
    argv = command_of("airflow-init")
    assert argv[:2] == ["bash", "-c"]
    python_part, migrate = argv[2].split(" && ")
    assert migrate == "airflow db migrate"
    assert_airflow_command(shlex.split(migrate))
    code = shlex.split(python_part)
    assert code[:2] == ["python", "-c"]
    compile(code[2], "airflow-init", "exec")
    from ecomm.orchestration import config
    from ecomm.settings import get_settings

    assert callable(config.prepare_home) and callable(get_settings)
    # the files it writes are the ones the other components read
    env = services()["airflow-api-server"]["environment"]
    home = env["AIRFLOW_HOME"]
    settings = Settings(home="/var/lib/ecomm")
    assert str(config.passwords_file(settings)) == env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert str(config.airflow_home(settings)) == home
    for key in (
        "AIRFLOW__CORE__FERNET_KEY_CMD",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
        "AIRFLOW__API__SECRET_KEY_CMD",
    ):
        assert shlex.split(env[key])[3] == f"{home}/ecomm_secrets.json", key


def test_airflow_reads_its_keys_through_the_cmd_variables_of_sensitive_options():
    from airflow.configuration import conf

    env = services()["airflow-api-server"]["environment"]
    cmd_options = {
        tuple(key.removeprefix("AIRFLOW__").removesuffix("_CMD").lower().split("__"))
        for key in env
        if key.endswith("_CMD")
    }
    assert cmd_options == {("core", "fernet_key"), ("api_auth", "jwt_secret"), ("api", "secret_key")}
    assert cmd_options <= conf.sensitive_config_values  # Airflow honours _CMD for these only


def test_mlflow_server_command_exists():
    from mlflow.cli import cli

    argv = command_of("mlflow")
    assert argv[:2] == ["mlflow", "server"]
    server = cli.commands["server"]
    options = {opt for param in server.params for opt in param.opts}
    assert [arg for arg in argv[2:] if arg.startswith("--") and arg not in options] == []
    envvars = {param.envvar for param in server.params}
    env = services()["mlflow"]["environment"]
    assert {"MLFLOW_BACKEND_STORE_URI", "MLFLOW_ARTIFACTS_DESTINATION"} <= envvars
    assert env["MLFLOW_BACKEND_STORE_URI"].endswith("@postgres:5432/mlflow_tracking")
    from mlflow.environment_variables import MLFLOW_SERVER_ALLOWED_HOSTS

    assert MLFLOW_SERVER_ALLOWED_HOSTS.name in env
    assert "mlflow:5050" in env[MLFLOW_SERVER_ALLOWED_HOSTS.name].split(",")


def test_streamlit_command_runs_the_dashboard_app():
    from streamlit import config as st_config
    from streamlit.web.cli import main

    argv = command_of("streamlit")
    assert argv[:3] == ["streamlit", "run", "streamlit/app.py"]
    assert "run" in main.commands
    assert (REPO / "streamlit" / "app.py").is_file()
    for option in argv[3::2]:
        st_config.get_option(option.removeprefix("--"))  # raises on an unknown option
    assert "COPY streamlit /opt/ecomm/streamlit" in (REPO / "streamlit" / "Dockerfile").read_text()


def test_jupyter_command_serves_the_notebooks():
    import jupyterlab  # noqa: F401  (installed in the image from the same lock)

    argv = command_of("jupyter")
    assert argv[:2] == ["jupyter", "lab"]
    assert "--ServerApp.root_dir=/opt/ecomm/notebooks" in argv
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")) != []
    assert "COPY notebooks /opt/ecomm/notebooks" in (REPO / "jupyter" / "Dockerfile").read_text()
    assert services()["jupyter"]["environment"]["JUPYTER_TOKEN"] == compose_env()["ECOMM_JUPYTER_TOKEN"]


def test_prometheus_runs_debians_binary_on_the_repos_config_and_scrapes_fastapi():
    import yaml

    argv = command_of("prometheus")
    assert argv[0] == "prometheus"
    assert (
        "--config.file=/etc/prometheus/prometheus.yml" in argv and "--storage.tsdb.path=/prometheus" in argv
    )
    dockerfile = (REPO / "monitoring" / "Dockerfile").read_text()
    assert "COPY monitoring/prometheus.yml monitoring/alerts.yml /etc/prometheus/" in dockerfile
    assert "COPY docker/healthcheck.py /usr/local/bin/ecomm-healthcheck" in dockerfile
    config = yaml.safe_load((REPO / "monitoring" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]  # beside it in /etc/prometheus
    [job] = config["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["fastapi:8000"]}] and job["metrics_path"] == "/metrics"
    assert services()["prometheus"]["volumes"] == ["prometheus-data:/prometheus"]


def test_healthchecks_use_the_helper_the_base_image_installs():
    base = (REPO / "Dockerfile").read_text()
    assert "COPY docker/healthcheck.py /usr/local/bin/ecomm-healthcheck" in base
    helpers = {s["healthcheck"]["test"][1] for s in services().values() if "healthcheck" in s}
    assert helpers == {"ecomm-healthcheck", "redis-cli", "pg_isready -h 127.0.0.1 -U \"${POSTGRES_USER}\" -d postgres", "celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d \"celery@${HOSTNAME}\""}  # fmt: skip
