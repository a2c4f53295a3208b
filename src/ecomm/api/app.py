"""The FastAPI application: `create_app()` (uvicorn factory) wires the model store, the warehouse
reader, middleware, error handlers and the routes. Operational routes live here; predictions in
`predictions.py`."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from ecomm.api import errors, forecast, predictions, purchase, stream
from ecomm.api import schemas as S
from ecomm.api.model_store import ModelStore
from ecomm.api.observability import MODEL_LOADS, RequestMiddleware, render_metrics
from ecomm.api.scrape_metrics import ServedModels, WarehouseMetrics
from ecomm.api.security import require_api_key
from ecomm.api.warehouse import WarehouseReader
from ecomm.settings import Settings, get_settings
from ecomm.stream.fanout import Fanout
from ecomm.stream.ingest import warm_up
from ecomm.stream.producer import LiveProducer
from ecomm.stream.writer import StreamWriter

log = logging.getLogger("ecomm.api")

DESCRIPTION = """Serves the MLflow champions of `churn_model` and `recommender_model`, the segments
`segment_model`'s champion stored in `marts.customer_segments` and the lifetime values `clv_model`'s
champion stored in `marts.customer_value`, and the demand forecasts and reorder points
`demand_forecast_model`'s champion stored in `marts.demand_forecast` and `marts.product_stock`.
Every prediction names the model and version that made it. Errors are JSON
`{error, message, details, request_id}`."""


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def live_kpis(settings: Settings, producer: LiveProducer):
    """This process's producer on its own, or its part of the bus shared by several workers."""
    if not settings.live_bus_url:
        return producer.run()
    from ecomm.stream.bus import RedisBus  # redis is imported only where the bus is used

    return RedisBus(settings.live_bus_url, producer).run()


NOT_TRAINED_ON_IMPORTED = "no champion: not trained on the imported data (the bootstrap says why)"


def create_app(settings: Settings | None = None, *, store: ModelStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    store = store or ModelStore(
        settings, on_load=lambda name, version, outcome: MODEL_LOADS.labels(name, version, outcome).inc()
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await anyio.to_thread.run_sync(store.start, settings.api_model_poll_seconds)
        # what the first validation of events imports, imported now (not during the first request)
        await anyio.to_thread.run_sync(warm_up, settings.shop_timezone)
        # the libraries and models are millions of long-lived objects: keep them out of the
        # collector's full scans, which otherwise stall a request now and then by ~100 ms
        gc.freeze()
        app.state.stream_writer = StreamWriter(
            settings, capacity=settings.stream_queue_events, max_batch=settings.stream_batch_events
        )
        app.state.live = LiveProducer(settings, Fanout(), settings.stream_tick_seconds)
        tasks = [
            asyncio.create_task(app.state.stream_writer.run(), name="stream-writer"),
            asyncio.create_task(live_kpis(settings, app.state.live), name="live-kpis"),
        ]
        yield
        for task in tasks:
            task.cancel()
        await anyio.to_thread.run_sync(store.stop)
        app.state.warehouse.engine.dispose()

    # /docs: Swagger UI with its script, style and favicon served by this process, not a CDN, so it works
    # on a host without internet. No /redoc: ReDoc's sidebar always loads its logo from cdn.redoc.ly.
    app = FastAPIOffline(
        redoc_url=None,
        title="ecomm prediction API",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.models = store
    app.state.warehouse = WarehouseReader(settings)
    # read at scrape time, in this process: what it serves, what the warehouse says
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(ServedModels(store))
    scraped.register(
        WarehouseMetrics(
            app.state.warehouse.read_statements, settings.shop_timezone, settings.api_metrics_cache_seconds
        )
    )
    errors.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api_cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
    )
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.api_max_body_bytes)
    app.include_router(predictions.router)
    app.include_router(purchase.router)
    app.include_router(stream.router)
    app.include_router(forecast.router)

    @app.get("/health", response_model=S.Health, tags=["operations"])
    async def health() -> S.Health:
        """The process is alive (says nothing about models or the database: see /ready)."""
        return S.Health()

    @app.get("/ready", response_model=S.Ready, responses={503: {"model": S.Ready}}, tags=["operations"])
    def ready():
        """Ready = every model loaded and the warehouse reachable; 503 with the reasons otherwise. On
        imported data (ECOMM_SOURCE=imported) a model the data could not train (no champion: the
        bootstrap skipped it with its reason) does not hold readiness back, as long as one is served."""
        checks: dict[str, str] = {}
        skipped = {n for n in store.names if settings.imported and store.state[n].no_champion}
        for name in store.names:
            state = store.state[name]
            if state.served:
                checks[name] = f"v{state.served.version}"
            elif name in skipped:
                checks[name] = NOT_TRAINED_ON_IMPORTED
            else:
                checks[name] = f"not loaded: {state.last_error or 'pending'}"
        try:
            app.state.warehouse.ping()
            checks["warehouse"] = "ok"
        except Exception as exc:
            log.warning("warehouse unreachable: %s", exc)
            checks["warehouse"] = "unreachable"
        # the registry is reported, not required: loaded models keep serving while it is down
        checks["registry"] = "ok" if store.registry_error is None else f"unreachable: {store.registry_error}"
        served = [n for n in store.names if store.state[n].served]
        ok = checks["warehouse"] == "ok" and bool(served) and len(served) + len(skipped) == len(store.names)
        body = S.Ready(status="ready" if ok else "not ready", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get(
        "/models",
        response_model=S.ModelsResponse,
        dependencies=[Depends(require_api_key)],
        tags=["operations"],
    )
    def models() -> S.ModelsResponse:
        """What is loaded: versions, the registry's aliases, the training run's metrics."""
        out = []
        for name in store.names:
            state, served = store.state[name], store.state[name].served
            out.append(
                S.LoadedModelInfo(
                    name=name,
                    loaded=served is not None,
                    version=served.version if served else None,
                    run_id=served.run_id if served else None,
                    loaded_at=_iso(served.loaded_at) if served else None,
                    registry_aliases=state.aliases or {},
                    metrics=served.metrics if served else {},
                    metadata=served.metadata if served else {},
                    last_error=state.last_error,
                )
            )
        registry = "reachable" if store.registry_error is None else store.registry_error
        return S.ModelsResponse(registry=registry, last_poll=_iso(store.last_poll), models=out)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics: requests and latency by route, predictions by model version, model loads,
        served model versions, pipeline freshness and load failures, drift flags, stream lag."""
        body, content_type = render_metrics(scraped)
        return Response(body, media_type=content_type)

    return app
