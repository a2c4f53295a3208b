"""`ecomm stream`: the live shop. Replays the business date the next daily run will load, as events
POSTed to the API's /events, in (optionally accelerated) wall-clock time.

Which date: the day after the newest batch loaded into the warehouse (the date the nightly run loads
next), or, in a warehouse with no batch yet, the day after the simulated world's last one. Its batch
comes from `ecomm.pipeline.ensure_batch`, the very call the daily run's `generate` task makes: the
world is continued in place (ECOMM_HOME/raw) and tomorrow's run finds the batch there and reuses it,
so what streams today is exactly what the batch loads tomorrow (same files, same rows).

What streams: the date's web events and order lines (the entities the `stream` schema holds), each
row an event whose id names its date, entity and row (`2026-03-02:order_items:17`), so a replay run
twice stores every event once. An event is sent when the replay's clock (the date's first event time
+ the elapsed wall time × speed) passes its time.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

from ecomm.stream.tables import STREAM_ENTITIES, event_time_column
from ecomm.warehouse.load import batch_directories

MAX_BATCH = 1000  # POST /events takes at most this many events
SEND_EVERY_SECONDS = 0.5  # what is due is sent in one batch per half second (at most MAX_BATCH)
RETRY_SECONDS = 5.0  # a server error or a lost connection: wait, then send the same batch again
STILL_WANTED_EVERY_SECONDS = 10.0  # how often a replay asks whether its date's batch has loaded


class ApiUnreachable(Exception):
    """The API does not answer (not started, wrong URL)."""


class ApiRefused(Exception):
    """The API answered a batch with an error that retrying cannot fix (4xx other than 429)."""


@dataclass(frozen=True)
class Event:
    at: datetime  # the event's time in the shop's day
    body: dict  # {event_id, entity, data} as POST /events takes it


def next_stream_date(conn, raw_dir: Path) -> date:
    """The business date the next daily run will load: the day after the newest loaded batch, or
    after the world's last day when the warehouse has none."""
    with conn.cursor() as cur:
        cur.execute("SELECT max(batch_date) FROM audit.load_runs WHERE status = 'loaded'")
        newest = cur.fetchone()[0]
    if newest is None:
        newest = batch_directories(raw_dir)[-1][0]
    return newest + timedelta(days=1)


def _cell(text: str) -> str | None:
    return None if text == "" else text  # an empty CSV cell is a missing value


def batch_events(batch_dir: Path, day: date) -> list[Event]:
    """The date's events in time order (ties in file order, web events first)."""
    events = []
    for name, entity in STREAM_ENTITIES.items():
        time_column = event_time_column(entity).name
        with open(batch_dir / entity.file_name, newline="", encoding="utf-8") as f:
            for row_no, row in enumerate(csv.DictReader(f), start=1):
                data = {k: _cell(v) for k, v in row.items()}
                at = datetime.fromisoformat(row[time_column])
                body = {"event_id": f"{day}:{name}:{row_no}", "entity": name, "data": data}
                events.append(Event(at, body))
    return sorted(events, key=lambda e: e.at)  # stable: file order within a second


def due_batches(
    events: list[Event], speed: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[list[dict]]:
    """Batches of events as the replay's clock passes their times; sleeps between them. The clock
    starts at the date's first event (a replay started at its midnight would show a quiet night)."""
    if not events:
        return
    start, started, i = events[0].at, clock(), 0
    while i < len(events):
        now = start + timedelta(seconds=(clock() - started) * speed)
        j = i
        while j < len(events) and j - i < MAX_BATCH and events[j].at <= now:
            j += 1
        full = j - i == MAX_BATCH
        if j > i:
            yield [e.body for e in events[i:j]]
            i = j
        if full or i == len(events):
            continue  # more may be due already
        # wait for the next event, but gather at least SEND_EVERY_SECONDS of events per batch
        wait = (events[i].at - now).total_seconds() / speed
        time.sleep(min(max(wait, SEND_EVERY_SECONDS), 5.0))


def post_batch(
    client: httpx.Client, events: list[dict], say: Callable[[str], None], *, first: bool = False
) -> dict:
    """POST one batch until it is acknowledged: a 429 waits its Retry-After, a 5xx or a dropped
    connection waits RETRY_SECONDS (a retry is idempotent by event_id). The response body. `first`:
    an API that cannot be reached at all is an error (ApiUnreachable), not something to wait for."""
    while True:
        try:
            response = client.post("/events", json={"events": events})
        except httpx.TransportError as exc:
            if first and isinstance(exc, httpx.ConnectError):
                raise ApiUnreachable(f"cannot reach the API at {client.base_url} ({exc})") from None
            say(f"connection lost ({exc}); retrying in {RETRY_SECONDS:.0f}s")
            time.sleep(RETRY_SECONDS)
            continue
        if response.status_code in (200, 202):
            return response.json()
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code >= 500:
            say(f"the API answered {response.status_code}; retrying in {RETRY_SECONDS:.0f}s")
            time.sleep(RETRY_SECONDS)
            continue
        raise ApiRefused(f"the API refused the events ({response.status_code}): {response.text[:300]}")


@dataclass
class ReplayResult:
    day: date
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    overtaken: bool = False  # stopped: the date's batch loaded before every event was sent


def record_started(conn, day: date, events: int) -> None:
    """A replay of `day` begins: until it finishes, a batch of the date loaded meanwhile is not
    compared with the stream (it holds events not sent yet)."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO stream.replays (business_date, events) VALUES (%s, %s) ON CONFLICT (business_date) "
            "DO UPDATE SET events = EXCLUDED.events, started_at = now(), finished_at = NULL",
            (day, events),
        )
    conn.commit()


def record_finished(conn, day: date) -> None:
    """The replay of `day` sent every event: the nightly reconciliation compares the date exactly."""
    with conn.cursor() as cur:
        cur.execute("UPDATE stream.replays SET finished_at = now() WHERE business_date = %s", (day,))
    conn.commit()


def replay(
    client: httpx.Client,
    events: list[Event],
    day: date,
    speed: float,
    progress: Callable[[int], None] | None = None,
    say: Callable[[str], None] = print,
    still_wanted: Callable[[], bool] | None = None,
) -> ReplayResult:
    """Sends the events as they fall due. `still_wanted` (asked every STILL_WANTED_EVERY_SECONDS):
    False once the date's batch has loaded, so the rest of the date is left to the batch."""
    result = ReplayResult(day)
    asked = time.monotonic()
    for batch in due_batches(events, speed):
        if still_wanted and time.monotonic() - asked >= STILL_WANTED_EVERY_SECONDS:
            asked = time.monotonic()
            if not still_wanted():
                result.overtaken = True
                return result
        body = post_batch(client, batch, say, first=result.sent == 0)
        result.sent += len(batch)
        result.stored += body["stored"]
        result.duplicates += body["duplicates"]
        result.rejected += body["rejected"]
        for bad in body["rejected_events"][:3]:  # the batch files passed the contract: worth a word
            say(f"rejected {bad['event_id']}: {bad['reason']}")
        if progress:
            progress(len(batch))
    return result


def check_api(client: httpx.Client) -> None:
    """ApiUnreachable unless GET /health answers (before anything is generated or sent)."""
    try:
        client.get("/health").raise_for_status()
    except httpx.HTTPError as exc:
        raise ApiUnreachable(f"cannot reach the API at {client.base_url} ({exc})") from None


def wait_for_api(client: httpx.Client, poll_seconds: float = 2.0) -> None:
    """Until GET /health answers (the service mode: `make up` starts the API beside us)."""
    while True:
        try:
            check_api(client)
            return
        except ApiUnreachable:
            time.sleep(poll_seconds)


def api_client(base_url: str, api_keys: list[str], timeout: float = 60.0) -> httpx.Client:
    headers = {"X-API-Key": api_keys[0]} if api_keys else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
