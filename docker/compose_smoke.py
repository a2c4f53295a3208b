"""`make compose-smoke`: the Docker Compose stack for real, then torn down.

1. base images: the official ones if Docker Hub answers, else docker/local-base/build.sh's stand-ins;
2. builds the ecomm base image and every service image;
3. `docker-compose up -d` with a throw-away env file (random passwords, free host ports, its own
   project name and volumes), then waits until every service is healthy and every one-shot job
   exited 0;
4. triggers `ecommerce_data_pipeline` through Airflow's REST API v2 and waits for that run;
5. asks the API for a churn prediction (the body of docs/architecture.md#rest-api) and 5 recommendations for customer 1;
6. `docker-compose down -v` (also on failure; `--keep` leaves the stack up).

Prints each step with its duration; exit 1 with the reason (and the failing service's last log
lines) when a step fails. Needs a running Docker engine and docker-compose (README, Deployment).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from ecomm.api.schemas import CHURN_EXAMPLE
from ecomm.orchestration.rest import AirflowClient
from ecomm.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PROJECT = "ecomm-smoke"
ONE_SHOT = ("db-migrate", "bootstrap", "airflow-init")
PORT_SETTINGS = ("ECOMM_POSTGRES_PORT", "ECOMM_AIRFLOW_PORT", "ECOMM_MLFLOW_PORT", "ECOMM_API_PORT",
                 "ECOMM_STREAMLIT_PORT", "ECOMM_JUPYTER_PORT")  # fmt: skip
CHURN_BODY = {"users": [CHURN_EXAMPLE]}  # docs/architecture.md#rest-api's request body, verbatim


class SmokeError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def run(*argv: str, timeout: float = 3600, capture: bool = False) -> str:
    done = subprocess.run(argv, cwd=REPO, text=True, timeout=timeout, capture_output=capture, check=False)
    if done.returncode != 0:
        tail = "\n".join(((done.stdout or "") + (done.stderr or "")).strip().splitlines()[-30:])
        raise SmokeError(f"`{' '.join(argv)}` failed (exit {done.returncode})\n{tail}")
    return done.stdout or ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hub_reachable() -> bool:
    try:
        subprocess.run(["docker", "pull", "python:3.11-slim"], capture_output=True, timeout=90, check=True)
        subprocess.run(["docker", "pull", "postgres:16"], capture_output=True, timeout=90, check=True)
        return True
    except (subprocess.SubprocessError, OSError):
        return False


def base_images() -> dict[str, str]:
    if os.environ.get("PYTHON_IMAGE") and os.environ.get("POSTGRES_IMAGE"):
        return {"PYTHON_IMAGE": os.environ["PYTHON_IMAGE"], "POSTGRES_IMAGE": os.environ["POSTGRES_IMAGE"]}
    if hub_reachable():
        return {"PYTHON_IMAGE": "python:3.11-slim", "POSTGRES_IMAGE": "postgres:16"}
    say("Docker Hub unreachable: building local base images (docker/local-base/build.sh)")
    run("bash", str(REPO / "docker" / "local-base" / "build.sh"))
    return {"PYTHON_IMAGE": "local/python:3.11", "POSTGRES_IMAGE": "local/postgres:16"}


def write_env(path: Path, images: dict[str, str]) -> dict[str, str]:
    env = {
        **images,
        "ECOMM_IMAGE_TAG": os.environ.get("ECOMM_IMAGE_TAG", "local"),
        **{
            name: secrets.token_urlsafe(18)
            for name in (
                "POSTGRES_PASSWORD",
                "ECOMM_DB_PASSWORD",
                "AIRFLOW_DB_PASSWORD",
                "MLFLOW_DB_PASSWORD",
                "ECOMM_AIRFLOW_ADMIN_PASSWORD",
                "ECOMM_JUPYTER_TOKEN",
            )
        },  # fmt: skip
        **{name: str(free_port()) for name in PORT_SETTINGS},
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return env


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


class Stack:
    def __init__(self, env_file: Path) -> None:
        self.base = [*compose_command(), "--project-name", PROJECT, "--env-file", str(env_file),
                     "--file", str(REPO / "docker-compose.yml")]  # fmt: skip

    def __call__(self, *args: str, timeout: float = 3600, capture: bool = False) -> str:
        return run(*self.base, *args, timeout=timeout, capture=capture)

    def containers(self) -> dict[str, dict]:
        ids = self("ps", "-a", "-q", capture=True).split()
        if not ids:
            return {}
        states = json.loads(run("docker", "inspect", *ids, capture=True))
        return {s["Config"]["Labels"]["com.docker.compose.service"]: s["State"] for s in states}

    def logs(self, service: str, lines: int = 40) -> str:
        try:
            return self("logs", "--no-color", "--tail", str(lines), service, capture=True, timeout=60)
        except SmokeError as exc:
            return str(exc)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*self.base, *args], cwd=REPO, text=True)

    def wait_healthy(self, timeout: float, up: subprocess.Popen) -> dict[str, float]:
        """Until `up` (`up -d`) has exited 0, every service is healthy and every one-shot job exited 0;
        seconds from the start to each one's success. Polls while `up` runs: Compose v1's `up -d`
        itself waits for each dependency's health or completion before starting what needs it."""
        start, ready = time.time(), {}
        while True:
            up_done = up.poll() is not None
            states = self.containers()
            for name, state in states.items():
                if name in ready:
                    continue
                if name in ONE_SHOT:
                    if state["Status"] == "exited":
                        if state["ExitCode"] != 0:
                            raise SmokeError(f"{name} exited {state['ExitCode']}:\n{self.logs(name)}")
                        ready[name] = time.time() - start
                elif state.get("Health", {}).get("Status") == "healthy":
                    ready[name] = time.time() - start
                elif state["Status"] in ("exited", "dead"):
                    raise SmokeError(f"{name} stopped (exit {state['ExitCode']}):\n{self.logs(name)}")
            if up_done and up.returncode != 0:
                raise SmokeError(f"`docker-compose up -d` failed (exit {up.returncode})")
            if up_done and states and set(states) == set(ready):
                return ready
            if time.time() - start > timeout:
                waiting = sorted(set(states) - set(ready)) or ["postgres"]
                raise SmokeError(
                    f"not healthy within {timeout:.0f}s: {', '.join(waiting)}\n{self.logs(waiting[0])}"
                )
            time.sleep(5)


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def run_data_dag(env: dict[str, str], timeout: float) -> dict:
    settings = Settings(
        airflow_port=int(env["ECOMM_AIRFLOW_PORT"]),
        airflow_admin_password=env["ECOMM_AIRFLOW_ADMIN_PASSWORD"],
    )
    client = AirflowClient(settings)
    client.wait_for_dags()
    dag = "ecommerce_data_pipeline"
    logical = datetime.now(UTC).replace(microsecond=0).isoformat()
    status, run_ = http(
        "POST", f"{client.base}/api/v2/dags/{dag}/dagRuns", {"logical_date": logical}, client.token()
    )
    if status != 200:
        raise SmokeError(f"triggering {dag}: HTTP {status} {run_}")
    run_id, deadline = run_["dag_run_id"], time.time() + timeout
    say(f"triggered {dag} run {run_id}")
    while time.time() < deadline:
        _, run_ = http("GET", f"{client.base}/api/v2/dags/{dag}/dagRuns/{run_id}", token=client.token())
        if run_.get("state") == "success":
            return run_
        if run_.get("state") == "failed":
            raise SmokeError(f"{dag} run {run_id} failed")
        time.sleep(5)
    raise SmokeError(f"{dag} run {run_id} did not finish within {timeout:.0f}s (state {run_.get('state')})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--skip-build", action="store_true", help="use the images already built")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds to wait for health")
    args = parser.parse_args()

    timings: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="ecomm-smoke-"))
    env_file = workdir / "smoke.env"
    stack: Stack | None = None
    try:
        mark = time.time()
        images = base_images()
        env = write_env(env_file, images)
        stack = Stack(env_file)
        timings["base images"] = time.time() - mark
        if not args.skip_build:
            mark = time.time()
            say(f"building ecomm:{env['ECOMM_IMAGE_TAG']} on {images['PYTHON_IMAGE']}")
            run("docker", "build", "--quiet", "-t", f"ecomm:{env['ECOMM_IMAGE_TAG']}",
                "--build-arg", f"PYTHON_IMAGE={images['PYTHON_IMAGE']}", ".")  # fmt: skip
            say("building the service images")
            stack("build", "--quiet")
            timings["build"] = time.time() - mark
        mark = time.time()
        say("docker-compose up -d")
        up = stack.start("up", "-d")
        try:
            ready = stack.wait_healthy(args.timeout, up)
        finally:
            if up.poll() is None:  # a failure or the timeout while `up` still waits: stop it
                up.terminate()
                up.wait(timeout=60)
        timings["up until all healthy"] = time.time() - mark
        for name, seconds in sorted(ready.items(), key=lambda item: item[1]):
            say(f"  {name:<24} {'done' if name in ONE_SHOT else 'healthy'} after {seconds:5.0f} s")

        mark = time.time()
        dag_run = run_data_dag(env, timeout=900)
        timings["data DAG run"] = time.time() - mark
        say(f"ecommerce_data_pipeline {dag_run['dag_run_id']}: {dag_run['state']}")

        api = f"http://127.0.0.1:{env['ECOMM_API_PORT']}"
        status, churn = http("POST", f"{api}/predict/churn", CHURN_BODY)
        say(f"POST /predict/churn -> {status} {json.dumps(churn)}")
        if status != 200:
            raise SmokeError(f"churn prediction: HTTP {status}")
        status, recs = http("GET", f"{api}/recommendations/1?k=5")
        say(f"GET /recommendations/1?k=5 -> {status} {json.dumps(recs)}")
        if status != 200:
            raise SmokeError(f"recommendations: HTTP {status}")
        say("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
        say("compose smoke: OK")
        return 0
    except SmokeError as exc:
        say(f"compose smoke FAILED: {exc}")
        return 1
    finally:
        if stack is not None and not args.keep:
            say("docker-compose down -v")
            try:
                stack("down", "-v", "--remove-orphans", timeout=600)
            except SmokeError as exc:
                say(str(exc))
        if args.keep:
            say(f"stack left running; its env file: {env_file}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
