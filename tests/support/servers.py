"""Real servers for end-to-end tests: a free port, the environment that points a child process at the
test's settings, and a process started, waited for (an HTTP URL answering 200) and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from ecomm.orchestration.config import child_env
from ecomm.platform.supervisor import free_port
from ecomm.settings import Settings


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a child process whose Settings equal `settings` (plus `extra`)."""
    return child_env(settings, **extra)


class ServerProcess:
    """`command` run with `env`, its output in `log`; `start()` waits until `ready_url` answers 200."""

    def __init__(self, command: list[str], env: dict[str, str], ready_url: str, log: Path) -> None:
        self.command, self.env, self.ready_url, self.log = command, env, ready_url, log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> ServerProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[:3]} exited {self.process.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"{self.ready_url} did not answer in {timeout:.0f}s: {self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


__all__ = ["ServerProcess", "free_port", "settings_env"]
