"""Stops a test session's embedded PostgreSQL when the session's process is gone, however it went.

The server runs with pgserver's cleanup_mode=None (ecomm.db): nothing stops it but the session
fixture's teardown, which never runs when the process is killed (a crashed xdist worker, a CI
timeout, os._exit). The fixture starts this script with a pipe on its stdin and closes the pipe
after its own stop; a dead process closes it too. At the pipe's end the script stops the server
if it still runs.

    python tests/support/pg_watchdog.py HOME   (HOME: the session's ECOMM_HOME)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def start(home: Path) -> subprocess.Popen:
    """The watchdog of the embedded server under `home`, in a session of its own (a signal to the
    test's process group does not reach it)."""
    return subprocess.Popen(
        [sys.executable, __file__, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(watchdog: subprocess.Popen) -> None:
    """The session stopped its server: close the pipe, and the watchdog ends with nothing to do."""
    watchdog.stdin.close()
    watchdog.wait(timeout=120)


if __name__ == "__main__":
    sys.stdin.buffer.read()  # returns at the pipe's end
    home = Path(sys.argv[1])
    if (home / "pgdata" / "postmaster.pid").exists():  # a stopped server has none: no imports then
        from ecomm import db
        from ecomm.settings import Settings

        db.stop_embedded(Settings(_env_file=None, home=home, database_url=None))
