"""The stream's two health figures, for `ecomm status` and the dashboard's Overview: its lag (now
minus the newest event time streamed, both in shop time) and its events per second over the last
minute of wall clock (by `received_at`, when the events' micro-batch committed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

NEWEST = """SELECT max(t) FROM (SELECT max(order_ts) AS t FROM stream.order_items
                               UNION ALL SELECT max(event_ts) FROM stream.web_events) AS latest"""
LAST_MINUTE = """SELECT (SELECT count(*) FROM stream.order_items WHERE received_at > now() - interval '60 seconds')
                      + (SELECT count(*) FROM stream.web_events WHERE received_at > now() - interval '60 seconds')"""


@dataclass(frozen=True)
class StreamHealth:
    newest_event: datetime | None  # shop time; None: nothing streamed (or all pruned)
    lag: timedelta | None
    events_per_second: float

    def lag_text(self) -> str:
        if self.lag is None:
            return "no events"
        seconds = int(self.lag.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)  # a replay ahead of the clock
        return f"{sign}{seconds // 3600}h {seconds % 3600 // 60:02d}m {seconds % 60:02d}s"


def stream_health(cur, zone: str, now: datetime | None = None) -> StreamHealth:
    cur.execute(NEWEST)
    newest = cur.fetchone()[0]
    cur.execute(LAST_MINUTE)
    last_minute = cur.fetchone()[0]
    now = now or datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    return StreamHealth(newest, None if newest is None else now - newest, round(last_minute / 60, 2))
