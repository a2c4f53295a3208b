"""The live KPIs shared by several API workers through Redis (`ECOMM_LIVE_BUS_URL`).

Every worker runs two loops. `lead`: once a tick it tries to hold the producer lock (a key set with
`SET NX PX`, renewed each tick by its holder only); the holder computes the tick's KPIs, stores them
under `LATEST` (a worker that starts later reads its first snapshot there) and publishes them on
`CHANNEL`. `listen`: every worker, the producer too, subscribes to `CHANNEL` and hands each message
to its own fan-out (`LiveProducer.deliver`). So one process computes, whatever the number of workers,
and every client of every worker gets the same ticks. When the producer's process dies its lock
expires after `lock_ttl` and the next worker to try takes over, numbering on from the last `seq`.

Redis down: both loops log it once, keep retrying each tick, and resume when it is back; meanwhile
clients keep their connection and get no ticks, and a new client gets its worker's last KPIs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ecomm.stream.producer import LiveProducer

log = logging.getLogger("ecomm.stream")

LOCK = "ecomm:live:producer"
LATEST = "ecomm:live:latest"
CHANNEL = "ecomm:live:ticks"

# renew the lock only while we still hold it (another worker may hold it after ours expired)
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


def lock_ttl(tick_seconds: float) -> float:
    """How long a producer's lock outlives its last renewal: three ticks, at least 2 s (a slow tick
    must not hand over the lock while its holder still runs)."""
    return max(3 * tick_seconds, 2.0)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Outage:
    """Logs a lost Redis once (not every tick) and its return. Warnings: the API configures no
    logging of its own, so only warnings of `ecomm` loggers reach its log."""

    def __init__(self, what: str) -> None:
        self.what, self.down = what, False

    def failed(self, exc: Exception) -> None:
        if not self.down:
            log.warning("live bus: %s lost Redis (%s); retrying every tick", self.what, exc)
        self.down = True

    def ok(self) -> None:
        if self.down:
            log.warning("live bus: %s reached Redis again", self.what)
        self.down = False


class RedisBus:
    def __init__(self, url: str, producer: LiveProducer) -> None:
        self.producer, self.me = producer, worker_id()
        self.tick_seconds = producer.tick_seconds
        self.ttl_ms = int(lock_ttl(self.tick_seconds) * 1000)
        # no retries inside the client: a failure reaches our loops at once, which retry every tick
        self.redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=max(2, self.tick_seconds),
            retry=Retry(NoBackoff(), 0),
        )
        self.leading = False

    async def run(self) -> None:
        try:
            await asyncio.gather(self.lead(), self.listen())
        finally:
            self.producer.close()
            await self.redis.aclose()

    async def _hold_lock(self) -> bool:
        # renew first whatever `leading` says: a tick that took the lock and then failed must not
        # lock this worker out until its own lock expires
        if await self.redis.eval(RENEW, 1, LOCK, self.me, self.ttl_ms):
            return True
        return bool(await self.redis.set(LOCK, self.me, nx=True, px=self.ttl_ms))

    async def _become_producer(self) -> None:
        """Number on from the last tick published (stored, or seen here: a restarted Redis forgets)."""
        stored = await self.redis.get(LATEST)
        seen = (self.producer.latest or {}).get("seq", 0)
        self.producer.seq = max(json.loads(stored)["seq"] if stored else 0, seen)
        log.warning("live bus: this worker (%s) now computes the live KPIs", self.me)

    async def lead(self) -> None:
        outage = Outage("the producer lock")
        while True:
            started = time.monotonic()
            try:
                holds = await self._hold_lock()
                outage.ok()
                if holds and not self.leading:
                    await self._become_producer()
                self.leading = holds
            except Exception as exc:
                outage.failed(exc)
                self.leading = False
            if self.leading:
                await self._produce()
            await asyncio.sleep(max(0.0, self.tick_seconds - (time.monotonic() - started)))

    async def _produce(self) -> None:
        try:
            latest = await self.producer.compute()
        except Exception:
            log.exception("live KPIs failed; trying again next tick")
            return
        text = json.dumps(latest)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                await pipe.set(LATEST, text).publish(CHANNEL, text).execute()
        except Exception as exc:
            log.warning("live bus: publishing tick %d failed (%s)", latest["seq"], exc)

    async def listen(self) -> None:
        outage = Outage("the tick subscription")
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    # what was published before we (re)subscribed: a joining client's snapshot, and
                    # after an outage the newest tick at once
                    stored = await self.redis.get(LATEST)
                    if stored is not None:
                        self._deliver(stored)
                    outage.ok()
                    async for message in pubsub.listen():
                        self._deliver(message["data"])
            except Exception as exc:
                outage.failed(exc)
                await asyncio.sleep(self.tick_seconds)

    def _deliver(self, text: bytes) -> None:
        """A tick newer than this worker's latest goes to its clients; an older one (the stored tick
        also published while we subscribed, a producer that lost its lock) is dropped: `seq` only grows."""
        try:
            latest = json.loads(text)
            newer = latest["seq"] > (self.producer.latest or {}).get("seq", 0)
        except (ValueError, KeyError, TypeError) as exc:  # not a tick: dropped, the connection is fine
            log.warning("live bus: dropped a message that is not a tick (%s)", exc)
            return
        if newer:
            self.producer.deliver(latest)
