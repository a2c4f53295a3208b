"""`ecomm stream`'s pacing: events go out in time order, at most 1,000 per POST, when the replay's
clock (the first event's time + elapsed wall time × speed) has passed them."""

from __future__ import annotations

from datetime import datetime, timedelta

from ecomm.stream.replay import MAX_BATCH, Event, due_batches

DAWN = datetime(2026, 3, 2, 6, 0, 0)


def events(offsets_seconds: list[float]) -> list[Event]:
    return [Event(DAWN + timedelta(seconds=s), {"event_id": f"e{n}"}) for n, s in enumerate(offsets_seconds)]


def test_a_burst_goes_out_in_batches_of_at_most_1000_in_order():
    sent = list(due_batches(events([0.0] * 2500), speed=1.0))
    assert [len(b) for b in sent] == [MAX_BATCH, MAX_BATCH, 500]
    assert [e["event_id"] for b in sent for e in b] == [f"e{n}" for n in range(2500)]


def test_events_wait_for_the_replay_clock():
    """At 3,600x six minutes of the shop take 0.1 s of wall clock: the event six minutes after the
    first two goes out only once the clock has passed it (at the third look, not the second)."""
    ticks = iter([0.0, 0.0, 0.06, 0.12])  # the wall clock (seconds) at the start and at each look
    sent = list(due_batches(events([0.0, 0.0, 360.0]), speed=3600.0, clock=lambda: next(ticks)))
    assert [[e["event_id"] for e in b] for b in sent] == [["e0", "e1"], ["e2"]]
