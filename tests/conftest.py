"""Session fixtures: a real PostgreSQL (pgserver's embedded server on a temp dir, or
TEST_DATABASE_URL), a migrated template warehouse, and a fresh warehouse database per test."""

from __future__ import annotations

import os
import re
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


SHARED_WORLDS = re.compile(r"\b(loaded_world|trained_world)\b")  # a minute or more to build
TESTS = Path(__file__).parent


# The longest file that uses the world (Airflow runs, about 10 minutes) runs beside the others: the
# other worker then builds the world too (a minute or two), but the shared worker is no longer the
# one the whole run waits for.
WORLD_OF_ITS_OWN = {"tests/integration/test_dags.py"}


def world_modules() -> set[str]:
    """Test files (node id paths) that use the session's shared world: named in their source."""
    root = TESTS.parent
    return {
        path.relative_to(root).as_posix()
        for path in TESTS.rglob("test_*.py")
        if SHARED_WORLDS.search(path.read_text())
    } - WORLD_OF_ITS_OWN


def pytest_xdist_make_scheduler(config, log):
    """`make test`'s scheduling (-n 2 --dist loadfile): a file stays on one worker (its module
    fixtures are built once), and the files that use the shared world go to the same worker, so
    the world is built once, not on both. (xdist's loadgroup cannot do it under pytest 9.2: it
    renames node ids through an attribute pytest no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    together = world_modules()

    class SharedWorldScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "shared world" if path in together else path

    return SharedWorldScheduling(config, log)


def pytest_collection_modifyitems(items):
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
        elif f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.e2e)
