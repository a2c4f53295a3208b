"""Fan-out of one encoded message to every WebSocket client without waiting on any of them.

Like `websockets.broadcast()`: the frame is written straight into each connection's transport
(synchronously, no await per client), and a client whose transport still holds more than
`high_water` bytes unsent (a slow reader) skips the frame; it gets the next one when it has caught
up. So one tick costs one pass over the clients, and a slow client never delays the others.

This reaches under ASGI to uvicorn's default WebSocket protocol (websockets' sans-I/O `conn` and the
asyncio `transport`, the protocol object the ASGI `send` is a method of). Under another server or
protocol a client falls back to at most one ASGI send in flight, skipping frames while it is busy.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter, Gauge

log = logging.getLogger("ecomm.stream")

HIGH_WATER = 256 * 1024  # bytes unsent to one client beyond which it skips frames

FRAMES = Counter("ecomm_live_frames_total", "Live KPI frames per client: sent or skipped", ["outcome"])
CLIENTS = Gauge(
    "ecomm_live_clients",
    "Clients of WS /ws/live, by how frames reach them (direct: into the transport; asgi: a send task)",
    ["path"],
    multiprocess_mode="livesum",
)


class Client:
    def __init__(self, send) -> None:
        self.send = send
        protocol = getattr(send, "__self__", None)
        direct = all(hasattr(protocol, a) for a in ("conn", "transport", "writable"))
        self.protocol = protocol if direct else None
        self.path = "direct" if direct else "asgi"
        self.in_flight: asyncio.Task | None = None

    def offer(self, text: str, data: bytes, high_water: int) -> bool:
        """Write the frame now if the client keeps up (True), else skip it (False)."""
        if self.protocol is not None:
            transport = self.protocol.transport
            if transport.is_closing() or not self.protocol.writable.is_set():
                return self._skip()
            if transport.get_write_buffer_size() > high_water:
                return self._skip()
            self.protocol.conn.send_text(data)
            transport.write(b"".join(self.protocol.conn.data_to_send()))
            return True
        if self.in_flight is not None and not self.in_flight.done():
            return self._skip()
        self.in_flight = asyncio.create_task(self.send({"type": "websocket.send", "text": text}))
        return True

    def _skip(self) -> bool:
        return False


class Fanout:
    def __init__(self, high_water: int = HIGH_WATER) -> None:
        self.high_water = high_water
        self.clients: set[Client] = set()

    def add(self, send) -> Client:
        client = Client(send)
        self.clients.add(client)
        CLIENTS.labels(client.path).inc()
        return client

    def remove(self, client: Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            CLIENTS.labels(client.path).dec()

    def publish(self, text: str) -> None:
        data, sent, skipped = text.encode(), 0, 0
        for client in list(self.clients):
            try:
                ok = client.offer(text, data, self.high_water)
            except Exception as exc:  # a connection closing under us: it leaves on its own
                log.debug("fan-out to a client failed: %s", exc)
                ok = False
            sent, skipped = sent + ok, skipped + (not ok)
        FRAMES.labels("sent").inc(sent)
        FRAMES.labels("skipped").inc(skipped)
