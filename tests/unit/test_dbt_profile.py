"""The dbt profile written at run time from Settings: the server of DATABASE_URL (or a unix-socket
directory), the warehouse database, and never the password in the file."""

from __future__ import annotations

import json

import pytest

from ecomm.settings import Settings
from ecomm.warehouse.marts import MartsError, dbt_command, dbt_env


def settings(tmp_path, url: str, **over) -> Settings:
    return Settings(_env_file=None, home=tmp_path, database_url=url, warehouse_db="wh", **over)


def written_profile(config: Settings) -> dict:
    fake_dbt = config.home / "dbt-bin"
    fake_dbt.write_text("#!/bin/sh\n")
    fake_dbt.chmod(0o755)
    command = dbt_command(config.model_copy(update={"dbt_executable": fake_dbt}), ["build"])
    profiles_dir = command[command.index("--profiles-dir") + 1]
    text = (config.home / "dbt" / "wh" / "profiles.yml").read_text()
    assert profiles_dir == str(config.home / "dbt" / "wh")
    return json.loads(text)["ecomm"]["outputs"]["warehouse"] | {"_text": text}


def test_a_tcp_server_with_its_password_in_the_environment_only(tmp_path):
    config = settings(tmp_path, "postgresql://ecomm:s3cret@db.example:6543/ignored?sslmode=require")
    out = written_profile(config)
    assert {k: out[k] for k in ("host", "port", "user", "dbname", "schema", "sslmode")} == {
        "host": "db.example",
        "port": 6543,
        "user": "ecomm",
        "dbname": "wh",
        "schema": "marts",
        "sslmode": "require",
    }
    assert "s3cret" not in out["_text"]
    assert out["password"] == "{{ env_var('ECOMM_DBT_PASSWORD', '') }}"
    assert dbt_env(config)["ECOMM_DBT_PASSWORD"] == "s3cret"
    assert dbt_env(config)["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"


def test_a_unix_socket_directory_is_the_host(tmp_path):
    out = written_profile(settings(tmp_path, "postgresql://postgres:@/postgres?host=/run/pg/data"))
    assert (out["host"], out["port"], out["user"], out["dbname"]) == ("/run/pg/data", 5432, "postgres", "wh")


def test_the_default_executable_is_the_dbt_venv_of_the_project(tmp_path):
    config = settings(tmp_path, "postgresql://u@h/x")
    assert config.dbt_executable.parts[-4:] == (".tools", "dbt-venv", "bin", "dbt")
    assert (config.dbt_project_dir / "dbt_project.yml").is_file()
    with pytest.raises(MartsError, match=r"^dbt is not installed at .*nothing: run `make setup`"):
        dbt_command(config.model_copy(update={"dbt_executable": tmp_path / "nothing"}), ["build"])
