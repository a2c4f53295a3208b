"""The operators' metrics on `GET /metrics`, read at scrape time by real uvicorn (`ecomm serve api`) from
a real warehouse: pipeline freshness and lag, load runs by outcome, drift flags of the latest
monitoring run, stream lag, the served model versions (none here: the registry is unreachable), and
the cache that keeps scrapes off the database. The served versions of a trained world: test_api.py."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ecomm import db
from ecomm.ml import registry

from support.api import start_api
from support.servers import free_port

CACHE_SECONDS = 2.0
TEMPLATE_DB = "warehouse_template"  # tests/conftest.py's migrated template


@pytest.fixture(scope="module")
def metrics_warehouse(template_warehouse):
    name = f"wh_metrics_{uuid.uuid4().hex[:8]}"
    db.create_database(template_warehouse, name, template=TEMPLATE_DB)
    yield template_warehouse.model_copy(update={"warehouse_db": name})
    db.drop_database(template_warehouse, name)


@pytest.fixture(scope="module")
def api(metrics_warehouse, tmp_path_factory):
    server, base = start_api(
        metrics_warehouse,
        tmp_path_factory,
        ECOMM_API_METRICS_CACHE_SECONDS=str(CACHE_SECONDS),
        ECOMM_MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",  # nothing listens: no model loads
    )
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client
    server.stop()


def samples(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def named(found: dict, name: str) -> dict[tuple, float]:
    return {labels: value for (n, labels), value in found.items() if n == name}


def from_warehouse(found: dict) -> dict:
    """The samples read from the warehouse (not the request counters, which every scrape moves)."""
    prefixes = ("ecomm_pipeline_", "ecomm_model_drift", "ecomm_stream_newest", "ecomm_stream_lag")
    return {key: value for key, value in found.items() if key[0].startswith(prefixes)}


def execute(settings, *statements: tuple[str, tuple]) -> None:
    with db.connection(settings) as conn, conn.cursor() as cur:
        for sql, params in statements:
            cur.execute(sql, params)
        conn.commit()


def load_run(day: date, status: str) -> tuple[str, tuple]:
    return (
        "INSERT INTO audit.load_runs (batch_date, source_dir, status, started_at) VALUES (%s, '/raw', %s, now())",
        (day, status),
    )


def web_event(stream_id: str, received: datetime) -> tuple[str, tuple]:
    return (
        "INSERT INTO stream.web_events (stream_event_id, received_at, event_id, session_id, customer_id, "
        "event_type, event_ts) VALUES (%s, %s, 1, 1, 1, 'view', %s)",
        (stream_id, received, received.replace(tzinfo=None)),
    )


def monitoring_row(model: str, version: int, day: date, feature: str, drifted: bool) -> tuple[str, tuple]:
    """A row of marts.model_monitoring (migration 0021) as ecomm.monitoring.models writes them."""
    kind = "prediction" if feature == "__prediction__" else "numeric"
    return (
        "INSERT INTO marts.model_monitoring (model_name, model_version, business_date, feature, kind, psi, "
        "ks_statistic, drifted, reference_rows, current_rows) VALUES (%s, %s, %s, %s, %s, %s, 0.1, %s, 100, 100)",
        (model, version, day, feature, kind, 0.3 if drifted else 0.01, drifted),
    )


def test_an_empty_warehouse_then_loads_failures_drift_and_stream_events(api, metrics_warehouse):
    empty = samples(api)
    assert named(empty, "ecomm_warehouse_scrape_up") == {(): 1.0}
    assert named(empty, "ecomm_pipeline_last_loaded_date_timestamp_seconds") == {}
    assert named(empty, "ecomm_pipeline_lag_days") == {}
    assert named(empty, "ecomm_pipeline_load_runs_total") == {
        (("status", status),): 0.0 for status in ("loaded", "rejected", "failed")
    }
    assert named(empty, "ecomm_model_drift_flag") == {}  # no monitoring run yet
    assert named(empty, "ecomm_model_drift_days") == {}
    assert named(empty, "ecomm_stream_lag_seconds") == {}
    served = {(("model", name), ("version", "")): 0.0 for name in (*registry.REQUIRED_SERVED_MODELS,
                                                                     *registry.OPTIONAL_SERVED_MODELS)}  # fmt: skip
    assert named(empty, "ecomm_model_served_version") == served

    today = datetime.now(UTC).date()
    last = today - timedelta(days=3)
    landed = (datetime.now(UTC) - timedelta(seconds=90)).replace(microsecond=250_000)
    execute(
        metrics_warehouse,
        load_run(last - timedelta(days=1), "loaded"),
        load_run(last, "rejected"),
        load_run(last, "loaded"),
        load_run(today - timedelta(days=2), "failed"),
        load_run(today - timedelta(days=2), "failed"),
        web_event("a", landed - timedelta(seconds=30)),
        web_event("b", landed),
        # churn_model: the latest date flags one feature of three; the date before flagged too, the
        # one before that flagged none
        monitoring_row("churn_model", 2, last - timedelta(days=2), "recency", False),
        monitoring_row("churn_model", 2, last - timedelta(days=1), "recency", True),
        monitoring_row("churn_model", 2, last - timedelta(days=1), "frequency", True),
        monitoring_row("churn_model", 2, last, "recency", False),
        monitoring_row("churn_model", 2, last, "frequency", True),
        monitoring_row("churn_model", 2, last, "__prediction__", False),
        monitoring_row("recommender_model", 1, last, "__prediction__", False),
        # segment_model: flagged on the latest date and two dates before it, not monitored between
        monitoring_row("segment_model", 1, last - timedelta(days=2), "recency", True),
        monitoring_row("segment_model", 1, last, "recency", True),
    )
    assert from_warehouse(samples(api)) == from_warehouse(empty)  # within the cache's seconds: not read again
    time.sleep(CACHE_SECONDS + 0.1)
    checked_at = time.time()
    found = samples(api)

    midnight = datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp()
    assert named(found, "ecomm_pipeline_last_loaded_date_timestamp_seconds") == {(): midnight}
    assert named(found, "ecomm_pipeline_lag_days") == {(): 3.0}
    assert named(found, "ecomm_pipeline_load_runs_total") == {
        (("status", "loaded"),): 2.0,
        (("status", "rejected"),): 1.0,
        (("status", "failed"),): 2.0,
    }
    assert named(found, "ecomm_model_drift_flag") == {
        (("model", "churn_model"), ("version", "2")): 1.0,
        (("model", "recommender_model"), ("version", "1")): 0.0,
        (("model", "segment_model"), ("version", "1")): 1.0,
    }
    assert named(found, "ecomm_model_drifted_features") == {
        (("model", "churn_model"), ("version", "2")): 1.0,
        (("model", "recommender_model"), ("version", "1")): 0.0,
        (("model", "segment_model"), ("version", "1")): 1.0,
    }
    assert named(found, "ecomm_model_drift_days") == {
        (("model", "churn_model"), ("version", "2")): 2.0,
        (("model", "recommender_model"), ("version", "1")): 0.0,
        (("model", "segment_model"), ("version", "1")): 1.0,  # the date not monitored ends the run
    }
    assert named(found, "ecomm_stream_newest_event_timestamp_seconds") == {
        (("table", "web_events"),): landed.timestamp()
    }  # order_items holds no event: no sample
    [lag] = named(found, "ecomm_stream_lag_seconds").values()
    assert checked_at - landed.timestamp() - 0.01 <= lag <= time.time() - landed.timestamp()
    assert named(found, "ecomm_model_served_version") == served
    assert named(found, "ecomm_warehouse_scrape_up") == {(): 1.0}
