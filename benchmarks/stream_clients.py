"""The load generators of the real-time benchmark, run in their own processes (never in the server's).

python -m benchmarks.stream_clients post URL --batches FILE --clients 4
    POSTs every pre-built body of FILE (one JSON batch a line) over `clients` keep-alive connections
    and prints {"seconds", "statuses", "events"} (the clock starts when every body is built).
python -m benchmarks.stream_clients listen URL --clients 2000 --seconds 10
    opens `clients` WebSocket connections, waits until every one is open, then for `seconds` records
    each frame's delay (receive time minus the frame's `at`, the producer's tick) and `seq` gaps;
    prints {"delays_ms", "frames", "skipped", "dropped", "connected"}.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import time
from collections import Counter
from datetime import datetime

import httpx

AT = re.compile(r'"at": ?"([^"]+)"')
SEQ = re.compile(r'"seq": ?(\d+)')


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
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "statuses": {str(k): v for k, v in statuses.items()}}


def _delay_ms(text: str, received: float) -> float | None:
    found = AT.search(text)
    if found is None:
        return None
    return (received - datetime.fromisoformat(found.group(1)).timestamp()) * 1000


async def _listen(url: str, clients: int, seconds: float) -> dict:
    import websockets

    delays: list[float] = []
    frames = skipped = dropped = 0
    window = asyncio.Event()
    connected = 0

    async def one() -> None:
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

    tasks = [asyncio.create_task(one()) for _ in range(clients)]
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
    }


def main(argv: list[str]) -> None:
    mode, url, *rest = argv
    options = dict(zip(rest[0::2], rest[1::2], strict=True))
    if mode == "post":
        with open(options["--batches"], "rb") as lines:
            bodies = [line.rstrip(b"\n") for line in lines]
        headers = json.loads(options.get("--headers", "{}"))
        result = post(url, bodies, int(options["--clients"]), headers)
    else:
        result = asyncio.run(_listen(url, int(options["--clients"]), float(options["--seconds"])))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
