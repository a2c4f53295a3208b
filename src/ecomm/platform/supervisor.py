"""A small process supervisor: starts the services, restarts any that die, stops them all on SIGTERM.

`make up` launches it detached (pid in ECOMM_HOME/run/supervisor.pid) and waits for every health
check; `make down` sends it SIGTERM. Each service runs in its own process group with its log in
ECOMM_HOME/logs/<name>.log; the pids it runs are kept in ECOMM_HOME/run/state.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ecomm.platform.services import Service, check_health, planned_services
from ecomm.settings import Settings

RESTART_BACKOFF_SECONDS = (2, 5, 15, 30, 60)
STOP_GRACE_SECONDS = 20


class PlatformError(RuntimeError):
    """Something the user must fix before the platform can run; the message says what."""


@dataclass
class Paths:
    run: Path
    logs: Path

    @classmethod
    def of(cls, settings: Settings) -> Paths:
        paths = cls(settings.home / "run", settings.home / "logs")
        paths.run.mkdir(parents=True, exist_ok=True)
        paths.logs.mkdir(parents=True, exist_ok=True)
        return paths

    @property
    def pidfile(self) -> Path:
        return self.run / "supervisor.pid"

    @property
    def state(self) -> Path:
        return self.run / "state.json"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def supervisor_pid(paths: Paths) -> int | None:
    try:
        pid = int(paths.pidfile.read_text())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def free_port() -> int:
    """A TCP port nobody listens on right now (tests and benchmarks run services on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_ports(services: list[Service]) -> None:
    """Fail clearly if a port we need is taken by something that is not ours."""
    for service in services:
        if service.port is not None and port_in_use(service.port):
            raise PlatformError(
                f"port {service.port} for {service.name} is already in use; stop what uses it or move "
                f"{service.name} with {service.port_setting}=<port> in .env"
            )


def preflight(settings: Settings) -> None:
    """Before a long bootstrap: a port taken by something that is not ours stops `up` at once."""
    if not supervisor_pid(Paths.of(settings)):
        check_ports(planned_services(settings))


def read_state(paths: Paths) -> dict:
    try:
        return json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(paths: Paths, state: dict) -> None:
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(paths.state)


def _start(service: Service, paths: Paths) -> subprocess.Popen:
    log = (paths.logs / f"{service.name}.log").open("ab")
    log.write(f"\n--- starting {service.name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    log.flush()
    return subprocess.Popen(
        service.command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=service.env,
        start_new_session=True,
    )


def stop_group(pid: int, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM a process group, then SIGKILL what is left after the grace period."""
    stop_groups([pid], grace)


def stop_groups(pids: list[int], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the services' process groups all at once, then SIGKILL what is left after one grace
    period: stopping them one by one could outlast `shutdown`'s wait and leave services running,
    and a service left running starts the embedded PostgreSQL again on its next query."""
    signalled = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            signalled.append(pid)
    deadline = time.time() + grace
    while time.time() < deadline and any(pid_alive(pid) for pid in signalled):
        time.sleep(0.2)
    for pid in signalled:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def supervise(settings: Settings) -> None:
    """Run the services until SIGTERM (the body of the detached supervisor process)."""
    paths = Paths.of(settings)
    paths.pidfile.write_text(str(os.getpid()))
    services = planned_services(settings)
    procs: dict[str, subprocess.Popen] = {}
    restarts: dict[str, int] = {s.name: 0 for s in services}
    next_try: dict[str, float] = {}
    stopping = False

    def on_term(_sig, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        for service in services:
            procs[service.name] = _start(service, paths)
        while not stopping:
            for service in services:
                proc = procs.get(service.name)
                if proc is not None and proc.poll() is None:
                    continue
                due = next_try.get(service.name)
                if due is None:
                    delay = RESTART_BACKOFF_SECONDS[
                        min(restarts[service.name], len(RESTART_BACKOFF_SECONDS) - 1)
                    ]
                    next_try[service.name] = time.time() + delay
                    print(
                        f"{service.name} exited ({proc.returncode if proc else '?'}); restart in {delay}s",
                        flush=True,
                    )
                elif time.time() >= due:
                    del next_try[service.name]
                    restarts[service.name] += 1
                    procs[service.name] = _start(service, paths)
            _write_state(
                paths, {name: {"pid": p.pid, "restarts": restarts[name]} for name, p in procs.items()}
            )
            time.sleep(1)
    finally:
        stop_groups([proc.pid for proc in procs.values()])
        for proc in procs.values():
            proc.wait()
        paths.state.unlink(missing_ok=True)
        paths.pidfile.unlink(missing_ok=True)


def launch(settings: Settings) -> int:
    """Start the supervisor detached, unless one already runs; returns its pid."""
    paths = Paths.of(settings)
    pid = supervisor_pid(paths)
    if pid:
        return pid
    check_ports(planned_services(settings))
    log = (paths.logs / "supervisor.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecomm.platform", "supervise"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 10
    while time.time() < deadline and supervisor_pid(paths) != proc.pid:
        if proc.poll() is not None:
            raise PlatformError(f"the supervisor exited at once; see {paths.logs / 'supervisor.log'}")
        time.sleep(0.1)
    return proc.pid


def wait_healthy(settings: Settings, on_ready=None) -> None:
    """Wait for every service's health check; a service that keeps dying fails with its log's tail."""
    paths = Paths.of(settings)
    pending = {s.name: s for s in planned_services(settings)}
    started = time.time()
    while pending:
        for name, service in list(pending.items()):
            if check_health(service):
                pending.pop(name)
                if on_ready:
                    on_ready(service)
            elif time.time() - started > service.startup_seconds:
                raise PlatformError(
                    f"{name} did not become healthy at {service.health_url} within "
                    f"{service.startup_seconds:.0f}s:\n{log_tail(paths, name)}"
                )
        if supervisor_pid(paths) is None:
            raise PlatformError(f"the supervisor stopped; see {paths.logs / 'supervisor.log'}")
        time.sleep(1)


def log_tail(paths: Paths, name: str, lines: int = 15) -> str:
    try:
        return "\n".join(paths.logs.joinpath(f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def shutdown(settings: Settings, timeout: float = 60) -> bool:
    """Stop the supervisor (and so every service); False if it was not running."""
    paths = Paths.of(settings)
    pid = supervisor_pid(paths)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and pid_alive(pid):
            time.sleep(0.2)
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    # a supervisor killed hard (here or before) leaves its services behind, in their own groups
    stop_groups([entry["pid"] for entry in read_state(paths).values() if pid_alive(entry.get("pid"))])
    paths.state.unlink(missing_ok=True)
    return pid is not None
