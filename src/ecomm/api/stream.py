"""The real-time routes. `POST /events`: batches of events validated with the raw contract and landed
in the `stream` schema. `WS /ws/live`: the live KPIs (a snapshot on connect, then one message per
tick from the one producer). `GET /live`: the page that shows them.

202 when the batch was processed and something new was stored (or nothing was valid), 200 when every
valid event had been stored before (a retry); either way the answer comes after the write committed.
"""

from __future__ import annotations

import json
import logging
from importlib.resources import files
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import Counter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

from ecomm.api.errors import error_response
from ecomm.api.observability import SERVER_SEND
from ecomm.api.security import require_api_key
from ecomm.stream.tables import ID_COLUMN, MAX_EVENT_ID_LENGTH, STREAM_ENTITIES
from ecomm.stream.writer import Busy, StoreFailed

log = logging.getLogger("ecomm.api")
MAX_EVENTS = 1000
EVENT_ID_PATTERN = rf"^[!-~]{{1,{MAX_EVENT_ID_LENGTH}}}$"
EntityName = Literal[tuple(STREAM_ENTITIES)]  # type: ignore[valid-type]

EXAMPLE = {
    "event_id": "web-0001",
    "entity": "web_events",
    "data": {
        "event_id": 1,
        "session_id": 10,
        "customer_id": 42,
        "product_id": 7,
        "event_type": "view",
        "event_ts": "2026-01-05 10:00:00",
    },
}


# A cell keeps the JSON type it was sent as (the lax union chooses the same); strict members are
# checked without trying a conversion each, half the parsing time of a batch.
Cell = StrictStr | StrictInt | StrictFloat | StrictBool | None


# The envelope as TypedDicts: each event a dict (a model instance per event cost more than validating it).
class Event(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})  # type: ignore[misc]

    event_id: Annotated[
        str,
        Field(
            pattern=EVENT_ID_PATTERN,
            description="Your id (1-64 printable ASCII characters, no space): a retried event is stored once.",
        ),
    ]
    entity: Annotated[EntityName, Field(description="Which raw entity `data` is a row of.")]
    data: Annotated[
        dict[str, Cell],
        Field(description="One row of the entity, as its raw file would hold it (cells as JSON scalars)."),
    ]


class EventBatch(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [EXAMPLE]}]})  # type: ignore[misc]

    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS)]


EVENT_BATCH = TypeAdapter(EventBatch)


class RejectedEvent(BaseModel):
    index: int
    event_id: str
    reason: str


class EventsAccepted(BaseModel):
    accepted: int = Field(description="Valid events, all committed to the stream tables.")
    stored: int = Field(description="Of those, new ones (the others were stored by an earlier request).")
    duplicates: int
    rejected: int
    rejected_events: list[RejectedEvent]


router = APIRouter(tags=["real time"])
EVENTS = Counter("ecomm_stream_events_total", "Events posted to POST /events, by outcome", ["outcome"])


def _inlined(schema: dict) -> dict:
    """A model's JSON schema with its `$defs` written in place (an OpenAPI request body cannot
    point into a `$defs` of its own)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"$ref"}:
                return walk(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)


BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(EVENT_BATCH.json_schema())}},
    }
}


async def event_batch(request: Request) -> EventBatch:
    """The body validated straight from its bytes (pydantic's JSON parser, in Rust): FastAPI's own
    body parameter would parse the JSON into Python objects first, then validate those. Errors are
    the same 400 (not JSON) and 422 (naming the field) as any other body's. pydantic's parser refuses
    a lone surrogate escape (`\\ud800`) that JSON allows: such a body takes Python's parser, and the
    event is rejected by name (no text column can hold it)."""
    with request.app.state.stream_writer.arrival():
        body = await request.body()
        try:
            return EVENT_BATCH.validate_json(body)
        except ValidationError as exc:
            errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            error = {"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {}}
            raise RequestValidationError([{**error, "ctx": {"error": str(exc)}}]) from None
        try:
            return EVENT_BATCH.validate_python(parsed)
        except ValidationError as exc:
            errors = exc.errors()
    raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


@router.post(
    "/events",
    response_model=EventsAccepted,
    status_code=202,
    responses={200: {"model": EventsAccepted, "description": "every valid event was already stored"}},
    dependencies=[Depends(require_api_key)],
    openapi_extra=BODY_SCHEMA,
)
async def post_events(request: Request, batch: Annotated[EventBatch, Depends(event_batch)]):
    """Validate each event with the raw files' contract; store the valid ones once (by event_id)."""
    events = [(e["event_id"], e["entity"], e["data"]) for e in batch["events"]]
    try:
        checked, stored = await request.app.state.stream_writer.submit(events)
    except Busy as busy:
        EVENTS.labels("refused").inc(len(events))
        return error_response(
            request, 429, "too_many_requests", str(busy), headers={"Retry-After": str(busy.retry_after)}
        )
    except StoreFailed:  # the write failed (database down?): nothing of this batch was acknowledged
        log.exception("storing %d events failed", len(events))
        return error_response(
            request,
            503,
            "stream_unavailable",
            "the events could not be stored now; nothing of this batch was acknowledged: retry it",
            headers={"Retry-After": "5"},
        )
    new = sum(int(i in stored) for rows in checked.rows.values() for i in rows.column(ID_COLUMN).to_pylist())
    body = EventsAccepted(
        accepted=checked.accepted,
        stored=new,
        duplicates=checked.accepted - new,
        rejected=len(checked.rejected),
        rejected_events=[
            RejectedEvent(index=r.index, event_id=r.event_id, reason=r.reason) for r in checked.rejected
        ],
    )
    for outcome, n in (("stored", new), ("duplicate", body.duplicates), ("rejected", body.rejected)):
        EVENTS.labels(outcome).inc(n)
    retry = checked.accepted > 0 and new == 0
    return JSONResponse(body.model_dump(), status_code=200 if retry else 202)


@router.websocket("/ws/live")
async def live(websocket: WebSocket):
    """The live KPIs: the latest at once (type "snapshot"), then one message per tick (type "tick")."""
    producer = websocket.app.state.live
    await websocket.accept()
    await producer.ready.wait()
    await websocket.send_text(producer.snapshot())
    # registered after the snapshot went out, so no tick can overtake it
    client = producer.fanout.add(websocket.scope.get(SERVER_SEND, websocket.send))
    try:
        while True:  # the client says nothing we need; reading notices when it leaves
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        producer.fanout.remove(client)


@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
def live_page() -> HTMLResponse:
    """The live view: KPI tiles, a rolling chart and the last events, from WS /ws/live (inline, no
    asset from another host)."""
    return HTMLResponse(files("ecomm.stream").joinpath("live.html").read_text())
