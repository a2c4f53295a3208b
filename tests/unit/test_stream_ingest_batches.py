"""Several posted batches validated together (`check_batches`): each batch gets exactly what it alone
would get from `check_events`, its rejected events named by their index in that batch, also when a key
is shared across batches (the one check that looks beyond a row)."""

from __future__ import annotations

from ecomm.stream.ingest import Checked, check_batches, check_events

from support.stream import order_line, web_event


def _events(batch: list[dict]) -> list[tuple[str, str, dict]]:
    return [(e["event_id"], e["entity"], e["data"]) for e in batch]


def _same(got: Checked, alone: Checked) -> None:
    assert got.rejected == alone.rejected
    assert got.rows.keys() == alone.rows.keys()
    for name, frame in alone.rows.items():
        assert got.rows[name].equals(frame)


BAD_ONES = [
    order_line(1),
    order_line(2, revenue=25.0),
    web_event(5001, event_type="buy", event_ts="yesterday"),
    {"event_id": "o-4-1", "entity": "order_items", "data": {**order_line(4)["data"], "colour": "red"}},
    order_line(1),  # the same event_id again within the batch
    order_line(6, quantity=None),
    web_event(5002, event_ts="2026-03-03 00:00:01"),  # another day than the others
]


def test_each_batch_gets_what_it_alone_would_get_named_by_its_own_indexes():
    batches = [
        [web_event(n) for n in range(1, 40)],
        BAD_ONES,
        [order_line(n) for n in range(10, 20)] + [web_event(n) for n in range(100, 110)],
        [web_event(200, event_type="buy")],
    ]
    together = check_batches([_events(b) for b in batches])
    assert len(together) == len(batches)
    for got, batch in zip(together, batches, strict=True):
        _same(got, check_events(_events(batch)))
    assert [(r.index, r.event_id) for r in together[1].rejected] == [
        (1, "o-2-1"),
        (2, "w-5001"),
        (3, "o-4-1"),
        (4, "o-1-1"),
        (5, "o-6-1"),
    ]
    assert [(r.index, r.reason) for r in together[3].rejected] == [
        (0, "event_type: must be one of view, add_to_cart, purchase (got 'buy')")
    ]
    assert together[2].accepted == 20 and set(together[2].rows) == {"order_items", "web_events"}


def test_a_key_shared_across_batches_rejects_neither_and_one_shared_within_a_batch_still_both():
    """A retry racing its original (same events), and another client's line with the same order key:
    validated alone they are valid, so together too. Two lines of one order key in one batch are
    rejected, as in one file, whatever else was merged with them."""
    first = [order_line(1), order_line(2), web_event(7)]
    retry = [order_line(1), web_event(7)]
    other_id = [{**order_line(2), "event_id": "elsewhere-2"}]
    twice = [order_line(3), {**order_line(3), "event_id": "o-3-again"}, web_event(8)]
    batches = [first, retry, other_id, twice]
    together = check_batches([_events(b) for b in batches])
    for got, batch in zip(together, batches, strict=True):
        _same(got, check_events(_events(batch)))
    assert [c.accepted for c in together] == [3, 2, 1, 1]
    assert [(r.index, r.reason) for r in together[3].rejected] == [
        (0, "duplicate key (order_id, line_no) within the file"),
        (1, "duplicate key (order_id, line_no) within the file"),
    ]
