"""`make down` stops every service within one grace period, whatever each does with SIGTERM."""

from __future__ import annotations

import subprocess
import time

from ecomm.platform.supervisor import pid_alive, stop_groups

STUBBORN = ["bash", "-c", "trap '' TERM; sleep 60 & wait"]  # ignores SIGTERM, and so does its child


def test_stubborn_services_are_stopped_together_within_one_grace_period():
    services = [subprocess.Popen(STUBBORN, start_new_session=True) for _ in range(3)]
    quick = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stops at SIGTERM
    time.sleep(0.5)  # let bash install its trap
    start = time.perf_counter()
    stop_groups([p.pid for p in [*services, quick]], grace=1.5)
    elapsed = time.perf_counter() - start
    for process in [*services, quick]:
        assert process.wait(timeout=5) != 0
    assert elapsed < 3.0  # one grace period (1.5 s), not one per service (4.5 s)
    assert quick.returncode == -15 and all(p.returncode == -9 for p in services)


def test_a_group_already_gone_is_no_error():
    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    stop_groups([gone.pid], grace=0.5)
    assert not pid_alive(gone.pid)
