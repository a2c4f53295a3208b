"""Session fixtures: a real PostgreSQL (pgserver's embedded server on a temp dir, or
TEST_DATABASE_URL), a migrated template warehouse, and a fresh warehouse database per test."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest

from ecomm import db
from ecomm.settings import Settings

from support import pg_watchdog
from support.query import Query

TEMPLATE_DB = "warehouse_template"

pytest_plugins = ["support.trained_world"]


@pytest.fixture(scope="session")
def pg_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ecomm-home")


@pytest.fixture(scope="session")
def server_settings(pg_home) -> Settings:
    """Settings pointing at a real server; the embedded one is stopped at the end of the session (or
    by its watchdog when this process dies first)."""
    url = os.environ.get("TEST_DATABASE_URL")
    settings = Settings(_env_file=None, home=pg_home, database_url=url, warehouse_db=TEMPLATE_DB)
    if url:
        yield settings
        return
    db.start_embedded(settings)
    watchdog = pg_watchdog.start(pg_home)  # stops the server if this process dies before the teardown
    yield settings
    db.stop_embedded(settings)
    pg_watchdog.stop(watchdog)


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


# Files that take minutes start first, longest first: a long file handed out last keeps one worker
# busy while the other has nothing left. xdist hands out the rest by number of tests, so without this
# the slow files with few tests came near the end (test_platform, 2 tests: 96th of 111 units). Their
# sums in the last full run under load: test_dags 489 s, test_cli 298, test_benchmarks 266,
# test_platform 262, test_forecast_shop 202, test_dbt_marts 92+, test_forecast_jobs 89+; the shared
# world's files more than any (test_api alone 259 s). Cut since, not yet re-measured in a full run:
# test_dbt_marts (3 daily builds, not 6: about 21-36 s of CPU less alone) and test_forecast_jobs
# (fork-server workers: about 37 s of CPU less alone); they stay last of the list.
LONGEST_FIRST = [
    "shared world",
    "tests/integration/test_dags.py",
    "tests/integration/test_cli.py",
    "tests/integration/test_benchmarks.py",
    "tests/e2e/test_platform.py",
    "tests/integration/test_forecast_shop.py",
    "tests/integration/test_import_recommend.py",  # its module fixture trains on MovieLens (~100 s)
    "tests/integration/test_dbt_marts.py",
    "tests/unit/test_forecast_jobs.py",
]


def start_order(scope: str) -> tuple[int, bool]:
    """Where a work unit starts: the listed long files in their order, then the other integration and
    end-to-end files (servers, a warehouse: seconds to minutes each), then the unit files (many
    short tests: the end of the run, where both workers should finish together)."""
    listed = LONGEST_FIRST.index(scope) if scope in LONGEST_FIRST else len(LONGEST_FIRST)
    return listed, scope.startswith("tests/unit/")


def pytest_xdist_make_scheduler(config, log):
    """`make test`'s scheduling (-n 2 --dist loadfile): a file stays on one worker (its module
    fixtures are built once), and the files that use the shared world go to the same worker, so
    the world is built once, not on both. (xdist's loadgroup cannot do it under pytest 9.2: it
    renames node ids through an attribute pytest no longer reads.) The long files start first
    (LONGEST_FIRST), the unit files last (start_order); otherwise xdist's order (most tests first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    together = world_modules()

    class SharedWorldScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "shared world" if path in together else path

        def _assign_work_unit(self, node) -> None:
            # xdist hands out the queue's first unit: put the one that should start next there
            first = min(self.workqueue, key=start_order)  # min keeps xdist's order among equals
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return SharedWorldScheduling(config, log)


def pytest_collection_modifyitems(items):
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
        elif f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.e2e)


# The run waits for its last worker: say when each one reported its last result (a long idle tail on
# one worker is time the scheduling could win back).
_last_result: dict[str, float] = {}


def pytest_sessionstart(session):
    _last_result.clear()
    _last_result["start"] = time.monotonic()


def pytest_runtest_logreport(report):
    node = getattr(report, "node", None)  # set in xdist's controller: the worker of the report
    if node is not None:
        _last_result[node.gateway.id] = time.monotonic() - _last_result["start"]


def pytest_terminal_summary(terminalreporter):
    workers = {worker: at for worker, at in _last_result.items() if worker != "start"}
    if len(workers) > 1:
        ends = ", ".join(f"{worker} at {at:.0f} s" for worker, at in sorted(workers.items()))
        idle = max(workers.values()) - min(workers.values())
        terminalreporter.write_line(f"workers' last results: {ends} (one idle for the last {idle:.0f} s)")
