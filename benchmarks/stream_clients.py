"""The load generators of the real-time benchmark, run in their own processes (never in the server's).

python -m benchmarks.stream_clients post URL --batches FILE --clients 4
    POSTs every pre-built body of FILE (one JSON batch a line) over `clients` keep-alive connections
    and prints {"seconds", "cpu_seconds", "statuses"} (the clock starts when every body is built;
    cpu_seconds: the client process's own CPU meanwhile).
python -m benchmarks.stream_clients listen URL --clients 2000 --seconds 10
    opens `clients` WebSocket connections, waits until every one is open, then for `seconds` records
    each frame's delay (receive time minus the frame's `at`, the producer's tick) and `seq` gaps;
    prints {"delays_ms", "frames", "skipped", "dropped", "connected", "compute_ms"} (compute_ms: the
    producer's time per tick, as one client of the process saw it in the frames).
python -m benchmarks.stream_clients visible URL --post URL --batches FILE --period SECONDS
    one WebSocket client: for each body of FILE (one JSON batch a line, events of the day shown), waits
    a random part of `period`, POSTs it and times from its 202 to the first frame whose day counts its
    events; prints {"visible_ms", "post_ms", "compute_ms"}. One post at a time, so each is timed alone.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from datetime import datetime

import httpx

AT = re.compile(r'"at": ?"([^"]+)"')
SEQ = re.compile(r'"seq": ?(\d+)')
COMPUTE = re.compile(r'"compute_ms": ?([0-9.]+)')


def post(url: str, bodies: list[bytes], clients: int, headers: dict[str, str]) -> dict:
    """Each client thread takes the next body until none is left; every answer's status is counted."""
    statuses: Counter[int] = Counter()
    lock, pending = threading.Lock(), list(reversed(bodies))

    def work() -> None:
        with httpx.Client(timeout=120, headers={"Content-Type": "application/json", **headers}) as client:
            while True:
                with lock:
                    if not pending:
                        return
                    body = pending.pop()
                while True:  # 429: the writer is behind; wait as told and send the same body again
                    answer = client.post(url, content=body)
                    if answer.status_code != 429:
                        break
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                with lock:
                    statuses[answer.status_code] += 1

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,  # this process's, all threads: is the client the limit?
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def _delay_ms(text: str, received: float) -> float | None:
    found = AT.search(text)
    if found is None:
        return None
    return (received - datetime.fromisoformat(found.group(1)).timestamp()) * 1000


async def _listen(url: str, clients: int, seconds: float) -> dict:
    import websockets

    delays: list[float] = []
    compute: list[float] = []
    frames = skipped = dropped = 0
    window = asyncio.Event()
    connected = 0

    async def one(index: int) -> None:
        nonlocal frames, skipped, dropped, connected
        try:
            async with websockets.connect(url, max_size=None, open_timeout=60, ping_interval=None) as ws:
                connected += 1
                last = None
                async for text in ws:
                    received = time.time()
                    if not window.is_set():
                        continue  # before the window: connecting clients, snapshots
                    seq = SEQ.search(text)
                    if seq is not None:
                        n = int(seq.group(1))
                        if last is not None and n > last + 1:
                            skipped += n - last - 1
                        last = n
                    if index == 0 and (cost := COMPUTE.search(text)) is not None:
                        compute.append(float(cost.group(1)))
                    delay = _delay_ms(text, received)
                    if delay is not None:
                        delays.append(delay)
                        frames += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            dropped += 1
            return
        dropped += 1  # the server closed it

    tasks = [asyncio.create_task(one(i)) for i in range(clients)]
    deadline = time.monotonic() + 120
    while connected + dropped < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # every client has its snapshot and the first tick behind it
    window.set()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    window.clear()
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "seconds": elapsed,
        "connected": connected,
        "dropped": dropped,
        "frames": frames,
        "skipped": skipped,
        "delays_ms": delays,
        "compute_ms": compute,
    }


async def _visible(url: str, post_url: str, bodies: list[bytes], period: float) -> dict:
    """202 -> first frame that counts the posted events, per body (bodies of the day the KPIs show)."""
    import websockets

    frames: list[tuple[float, dict]] = []  # (receive time, message), in order
    arrived = asyncio.Event()
    visible, posted, compute = [], [], []

    async def read(ws) -> None:
        async for text in ws:
            message = json.loads(text)
            frames.append((time.perf_counter(), message))
            if message["type"] == "tick":
                compute.append(message["compute_ms"])
            arrived.set()

    async def counted(events: int, after: int) -> float:
        """The receive time of the first frame from index `after` on whose day has `events` events."""
        while True:
            for at, message in frames[after:]:
                if message["today"]["events"] >= events:
                    return at
            after = len(frames)
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), timeout=30)

    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        reader = asyncio.create_task(read(ws))
        async with httpx.AsyncClient(timeout=60, headers={"Content-Type": "application/json"}) as client:
            while not frames:
                await asyncio.sleep(0.05)
            for body in bodies:
                await asyncio.sleep(random.uniform(0, period))  # any phase of the tick
                expected = frames[-1][1]["today"]["events"] + len(json.loads(body)["events"])
                after, started = len(frames), time.perf_counter()
                answer = await client.post(post_url, content=body)
                accepted = time.perf_counter()
                if answer.status_code != 202:
                    raise RuntimeError(f"POST answered {answer.status_code}: {answer.text[:200]}")
                seen = await counted(expected, after)  # a frame received before the 202 counts too
                posted.append((accepted - started) * 1000)
                visible.append(max(0.0, seen - accepted) * 1000)
        reader.cancel()
    return {"visible_ms": visible, "post_ms": posted, "compute_ms": compute}


def main(argv: list[str]) -> None:
    mode, url, *rest = argv
    options = dict(zip(rest[0::2], rest[1::2], strict=True))
    if mode == "post":
        with open(options["--batches"], "rb") as lines:
            bodies = [line.rstrip(b"\n") for line in lines]
        headers = json.loads(options.get("--headers", "{}"))
        result = post(url, bodies, int(options["--clients"]), headers)
    elif mode == "visible":
        with open(options["--batches"], "rb") as lines:
            bodies = [line.rstrip(b"\n") for line in lines]
        result = asyncio.run(_visible(url, options["--post"], bodies, float(options["--period"])))
    else:
        result = asyncio.run(_listen(url, int(options["--clients"]), float(options["--seconds"])))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
