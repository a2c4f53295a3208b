"""Prometheus metrics and the ASGI middleware every request passes: request id, body limit, timing.

Pure ASGI (not BaseHTTPMiddleware) because it sits on the hot path of every prediction.
With several uvicorn workers, `ecomm serve api` sets PROMETHEUS_MULTIPROC_DIR and `/metrics` sums
the workers' files (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import itertools
import json
import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("ecomm_api_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "ecomm_api_request_seconds",
    "Request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PREDICTIONS = Counter("ecomm_api_predictions_total", "Rows scored, by model version", ["model", "version"])
MODEL_LOADS = Counter("ecomm_api_model_loads_total", "Model load attempts", ["model", "version", "outcome"])

REQUEST_ID_HEADER = "x-request-id"
# a new request's id: this process's random prefix and a counter (32 hex digits, as a UUID's hex):
# unique across processes without a random read per request (uuid4 was ~2% of a request's CPU)
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


SERVER_SEND = "ecomm.server_send"


def render_metrics(scraped: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The counters and histograms (summed over the workers' files in multiprocess mode), then the
    figures `scraped` reads at scrape time (served versions, warehouse: ecomm.api.scrape_metrics)."""
    extra = generate_latest(scraped) if scraped is not None else b""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return generate_latest(reg) + extra, CONTENT_TYPE_LATEST
    return generate_latest() + extra, CONTENT_TYPE_LATEST


def error_body(error: str, message: str, request_id: str, details: list | None = None) -> bytes:
    return json.dumps(
        {"error": error, "message": message, "details": details or [], "request_id": request_id}
    ).encode()


class RequestMiddleware:
    """Gives each request an id (the caller's X-Request-ID or a new one), refuses bodies over
    `max_body_bytes` with 413 before the app reads them, and records count and latency by route."""

    def __init__(self, app, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                # the server's own send, before the framework wraps it: the live fan-out writes
                # frames through the connection it belongs to (ecomm.stream.fanout)
                scope[SERVER_SEND] = send
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = request_id[:64] if request_id else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            too_big, receive = await self._limit_body(scope, receive)
            if too_big:
                body = error_body(
                    "payload_too_large",
                    f"the request body is over the limit of {self.max_body_bytes} bytes",
                    request_id,
                )
                await _respond(send_with_id, 413, body)
                return
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            count, latency = _children(scope["method"], path, status["code"])
            count.inc()
            latency.observe(time.perf_counter() - started)

    async def _limit_body(self, scope, receive):
        """(too big?, the receive to pass on). A declared Content-Length is checked at once; a body
        without one (chunked) is read here up to the limit and replayed to the app."""
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                return int(declared) > self.max_body_bytes, receive
            except ValueError:
                return False, receive  # the server rejects a malformed length itself
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return False, receive
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return True, receive
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return False, replay


_CHILDREN: dict[tuple[str, str, int], tuple] = {}


def _children(method: str, path: str, status: int) -> tuple:
    """The request counter and latency histogram of (method, route, status), looked up once: labels()
    takes a lock and builds its key on every call. Routes are the app's, so the cache stays small."""
    key = (method, path, status)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = (REQUESTS.labels(method, path, str(status)), LATENCY.labels(method, path))
    return found


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _respond(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
