"""Airflow's configuration, derived from our Settings and handed to every Airflow process as
environment variables (no airflow.cfg to edit; Airflow still writes one with defaults).

- AIRFLOW_HOME is ECOMM_HOME/airflow (logs, the passwords file, generated secrets);
- the metadata database is `settings.airflow_db` on our PostgreSQL server (the embedded one
  through its unix socket, or the server of DATABASE_URL);
- LocalExecutor; DAGs from the repository's `airflow/dags`; no example DAGs;
- the simple auth manager with one admin whose password we write to its passwords file, so the
  login is the configured one and never a generated one;
- every ECOMM_* setting is passed on too, so tasks build the very same Settings.

This module does not import Airflow: the platform runner and the tests use it to start Airflow.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import AliasChoices

from ecomm import db
from ecomm.settings import Settings

# The repository's DAG folder (the package is installed in editable mode from src/).
DAGS_FOLDER = Path(__file__).resolve().parents[3] / "airflow" / "dags"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
# The long-running Airflow processes of a LocalExecutor deployment (tasks run in the scheduler's
# executor and report through the api-server's execution API, so all four run together).
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


class OrchestrationError(RuntimeError):
    """Airflow could not be prepared; the message says what failed."""


@dataclass(frozen=True)
class AirflowLogin:
    username: str
    password: str


def airflow_home(settings: Settings) -> Path:
    return (settings.home / "airflow").resolve()


def airflow_login(settings: Settings) -> AirflowLogin:
    return AirflowLogin(settings.airflow_admin_user, settings.airflow_admin_password)


def base_url(settings: Settings) -> str:
    return f"http://localhost:{settings.airflow_port}"


def passwords_file(settings: Settings) -> Path:
    return airflow_home(settings) / "simple_auth_manager_passwords.json"


def metadata_url(settings: Settings, *, start: bool = True) -> str:
    """SQLAlchemy URL of Airflow's metadata database (password included: Airflow needs it)."""
    url = db.database_url(settings, settings.airflow_db, start=start)
    return url.render_as_string(hide_password=False)


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """os.environ with every setting of `settings` applied (unset where None) plus `extra`: the
    environment of a child process whose Settings must equal `settings`."""
    env = dict(os.environ)
    for name, value in {**settings_env(settings), **extra}.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def settings_env(settings: Settings) -> dict[str, str | None]:
    """Every setting as the environment variable Settings reads it from (None = unset it).

    Paths are made absolute so a process started elsewhere finds the same ECOMM_HOME.
    """
    env: dict[str, str | None] = {}
    for name, field in type(settings).model_fields.items():
        alias = field.validation_alias
        names = (
            [str(a) for a in alias.choices]
            if isinstance(alias, AliasChoices)
            else [alias]
            if isinstance(alias, str)
            else [f"ECOMM_{name.upper()}"]
        )
        value = getattr(settings, name)
        if value is None:
            text = None
        elif isinstance(value, Path):
            text = str(value.resolve())
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        elif isinstance(value, date):  # ISO, as Settings parses it (JSON would quote it)
            text = value.isoformat()
        else:
            text = json.dumps(value, default=str)
        env[names[0]] = text
        for other in names[1:]:
            env[other] = None  # the first alias wins; never let a stale second one disagree
    return env


def _secrets(home: Path) -> dict[str, str]:
    """Keys every Airflow process must share (fernet, JWT signing, API session); made once, kept."""
    path = home / "ecomm_secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    values = {
        "fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_urlsafe(64),  # HS512 wants >= 64 bytes
        "api_secret_key": secrets.token_urlsafe(64),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return values


def prepare_home(settings: Settings) -> Path:
    """Create AIRFLOW_HOME and write the simple auth manager's passwords file from the settings."""
    home = airflow_home(settings)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    login = airflow_login(settings)
    path = passwords_file(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({login.username: login.password}) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    _secrets(home)
    return home


def airflow_config(settings: Settings) -> dict[str, str]:
    """The AIRFLOW_HOME and AIRFLOW__SECTION__KEY variables of our Airflow."""
    home = airflow_home(settings)
    url = base_url(settings)
    keys = _secrets(home)
    login = airflow_login(settings)
    config = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",  # a laptop: a few tasks at a time
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{login.username}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(settings),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # notice new DAG files within 30 s instead of 5 min
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    }
    return config


def airflow_env(settings: Settings, *, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of an Airflow process: `base` (default os.environ), our
    settings as ECOMM_* variables, and Airflow's configuration."""
    prepare_home(settings)
    env = dict(os.environ if base is None else base)
    for key, value in (settings_env(settings) | airflow_config(settings)).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def airflow_command(*args: str) -> list[str]:
    """argv running the `airflow` CLI of this interpreter's environment."""
    return [sys.executable, "-m", "airflow", *args]


def service_commands() -> dict[str, list[str]]:
    """argv of each long-running Airflow process, by service name."""
    return {name: airflow_command(name) for name in SERVICES}


def run_airflow(settings: Settings, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run one `airflow` CLI command with our configuration; raise with its output if it fails."""
    env = airflow_env(settings)
    try:
        done = subprocess.run(
            airflow_command(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise OrchestrationError(f"`airflow {' '.join(args)}` did not finish in {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise OrchestrationError(f"`airflow {' '.join(args)}` failed (exit {done.returncode}):\n{tail}")
    return done


def ensure_metadata_database(settings: Settings) -> bool:
    """Create the Airflow metadata database on our server if missing; True if created."""
    return db.create_database(settings, settings.airflow_db, if_missing=True)


def migrate_metadata(settings: Settings) -> None:
    """Prepare AIRFLOW_HOME and bring the metadata database to Airflow's schema (idempotent)."""
    prepare_home(settings)
    ensure_metadata_database(settings)
    run_airflow(settings, "db", "migrate")
