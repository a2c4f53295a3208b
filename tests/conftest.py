"""Session fixtures: a real PostgreSQL (pgserver's embedded server on a temp dir, or
TEST_DATABASE_URL), a migrated template warehouse, and a fresh warehouse database per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from ecomm import db
from ecomm.settings import Settings

from support.query import Query

TEMPLATE_DB = "warehouse_template"

pytest_plugins = ["support.trained_world"]


@pytest.fixture(scope="session")
def pg_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ecomm-home")


@pytest.fixture(scope="session")
def server_settings(pg_home) -> Settings:
    """Settings pointing at a real server; the embedded one is stopped at the end of the session."""
    url = os.environ.get("TEST_DATABASE_URL")
    settings = Settings(_env_file=None, home=pg_home, database_url=url, warehouse_db=TEMPLATE_DB)
    if not url:
        db.start_embedded(settings)
    yield settings
    if not url:
        db.stop_embedded(settings)


@pytest.fixture(scope="session")
def template_warehouse(server_settings) -> Settings:
    from ecomm.warehouse.migrate import migrate

    db.drop_database(server_settings, TEMPLATE_DB)
    migrate(server_settings)
    return server_settings


def _clone(settings: Settings, name: str) -> Settings:
    db.create_database(settings, name, template=TEMPLATE_DB)
    return settings.model_copy(update={"warehouse_db": name})


@pytest.fixture
def warehouse(template_warehouse) -> Settings:
    """Settings of a fresh, migrated, empty warehouse database (dropped after the test)."""
    name = f"wh_{uuid.uuid4().hex[:10]}"
    settings = _clone(template_warehouse, name)
    yield settings
    db.drop_database(template_warehouse, name)


@pytest.fixture
def sql(warehouse):
    """Run a query on the test warehouse and get all rows (or a scalar with sql.one)."""
    q = Query(warehouse)
    yield q
    q.close()


SHARED_WORLDS = {"loaded_world", "trained_world"}  # session fixtures that take a minute or more to build


def pytest_collection_modifyitems(items):
    # `make test` runs two xdist workers with --dist loadgroup: a module stays on one worker (its
    # module fixtures are built once), and every module using a shared world goes to the same worker
    # (the world is built once, not on both).
    with_world = {item.module.__name__ for item in items if SHARED_WORLDS & set(item.fixturenames)}
    for item in items:
        group = "shared-world" if item.module.__name__ in with_world else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
        elif f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.e2e)
