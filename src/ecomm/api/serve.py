"""`ecomm serve api`: the prediction API under uvicorn (factory `ecomm.api.app:create_app`)."""

from __future__ import annotations

import os
import shutil
import socket

from ecomm.settings import Settings


class ServeError(ValueError):
    """The server cannot start; the message says why and what to change."""


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise ServeError(
                f"port {port} is already in use; stop what uses it or choose another with --port "
                "(or ECOMM_API_PORT in .env)"
            ) from None


def serve_api(settings: Settings, *, host: str, port: int, workers: int, access_log: bool) -> None:
    import uvicorn

    check_port(host, port)
    if workers > 1:
        # each worker process writes its metrics here; /metrics adds them up
        metrics_dir = settings.home / "run" / f"prometheus-{port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    uvicorn.run(
        "ecomm.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )
