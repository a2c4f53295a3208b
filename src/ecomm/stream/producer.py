"""The one producer of live KPIs in an API process: every tick it brings the KPIs up to date once
(`kpis.LiveKpis`: folds in the rows new since the last tick), encodes them once and hands the text to
the fan-out. A client joining gets the latest KPIs at once (a snapshot), then every tick's message;
`seq` orders them.

With several API workers and `ECOMM_LIVE_BUS_URL` set, `ecomm.stream.bus` runs instead of `run()`:
one worker's `compute()` makes each tick's KPIs and every worker `deliver()`s them to its clients."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime

import anyio
from prometheus_client import Counter

from ecomm import db
from ecomm.settings import Settings
from ecomm.stream import kpis
from ecomm.stream.fanout import Fanout

log = logging.getLogger("ecomm.stream")
# summed over the workers' files in multiprocess mode; with the bus, one worker's file grows
COMPUTED = Counter("ecomm_live_ticks_computed_total", "Live KPI ticks computed by this process")


class LiveProducer:
    def __init__(self, settings: Settings, fanout: Fanout, tick_seconds: float) -> None:
        self.settings, self.fanout, self.tick_seconds = settings, fanout, tick_seconds
        self.latest: dict | None = None
        self.ready = asyncio.Event()  # set once the first KPIs exist
        self.seq = 0
        self._conn = None
        self._kpis = kpis.LiveKpis()  # its totals outlive a lost connection (they follow snapshots)

    def _compute(self) -> dict:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = db.connect(self.settings)
            return self._kpis.compute(self._conn)
        except Exception:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            raise

    def snapshot(self) -> str:
        """The latest KPIs as a joining client's first message (`clients` counts it too)."""
        return json.dumps({**self.latest, "type": "snapshot", "clients": len(self.fanout.clients) + 1})

    async def compute(self) -> dict:
        """The next tick's KPIs (numbered by `seq`), not yet sent to anyone."""
        started = time.perf_counter()
        values = await anyio.to_thread.run_sync(self._compute)
        self.seq += 1
        COMPUTED.inc()
        return {
            "seq": self.seq,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "compute_ms": round((time.perf_counter() - started) * 1000, 1),
            **values,
        }

    def remember(self, latest: dict) -> None:
        """`latest` becomes what a joining client gets first."""
        self.latest = latest
        self.ready.set()

    def deliver(self, latest: dict) -> None:
        """Remember `latest` and send it to this process's clients as one tick."""
        self.remember(latest)
        self.fanout.publish(json.dumps({**latest, "type": "tick", "clients": len(self.fanout.clients)}))

    async def tick(self) -> None:
        self.deliver(await self.compute())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def run(self) -> None:
        try:
            while True:
                started = time.monotonic()
                try:
                    await self.tick()
                except Exception:
                    log.exception("live KPIs failed; trying again next tick")
                await asyncio.sleep(max(0.0, self.tick_seconds - (time.monotonic() - started)))
        finally:
            self.close()
