"""`make compose-smoke`: the Docker Compose stack for real, then torn down.

1. base images: the official ones if Docker Hub answers, else docker/local-base/build.sh's stand-ins;
2. builds the ecomm base image and every service image;
3. `docker-compose up -d` with a throw-away env file (random passwords, free host ports, its own
   project name and volumes), then waits until every service is healthy and every one-shot job
   exited 0;
4. triggers `ecommerce_data_pipeline` through Airflow's REST API v2 and waits for that run;
5. asks the API for a churn prediction (the body of docs/architecture.md#rest-api) and 5 recommendations for customer 1;
6. `docker-compose down -v` (also on failure; `--keep` leaves the stack up).

`--scale` (`make compose-smoke SCALE=1`) runs the `scale` profile instead: CeleryExecutor, Redis and
two airflow-worker replicas, the API with two uvicorn workers. After step 4 it checks through
Airflow's REST API that the run's tasks ran on both workers (task instances' `hostname`, matched to
the worker containers' hostnames); in step 5 it sends concurrent requests and counts, from each
uvicorn worker's Prometheus file, how many of them that worker answered: both must have answered.

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
WORLD_SETTINGS = ("ECOMM_CUSTOMERS", "ECOMM_PRODUCTS", "ECOMM_HISTORY_DAYS", "ECOMM_SEED")
CHURN_BODY = {"users": [CHURN_EXAMPLE]}  # docs/architecture.md#rest-api's request body, verbatim
DATA_DAG = "ecommerce_data_pipeline"
SCALE_WORKERS = 2  # airflow-worker replicas
SCALE_API_WORKERS = 2  # uvicorn worker processes of fastapi
LIVE_BUS_URL = "redis://redis:6379/1"  # the scale profile's bus of the live KPIs between those workers
SCALE_API_REQUESTS = 40  # sent 8 at a time, so that a busy worker leaves connections to the other
# where `ecomm serve api` keeps the workers' metric files (ecomm.api.serve: ECOMM_HOME/run/prometheus-<port>)
API_METRICS_DIR = "/var/lib/ecomm/run/prometheus-8000"


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


OFFICIAL_IMAGES = {"PYTHON_IMAGE": "python:3.11-slim", "POSTGRES_IMAGE": "postgres:16", "REDIS_IMAGE": "redis:7-bookworm"}  # fmt: skip
LOCAL_IMAGES = {"PYTHON_IMAGE": "local/python:3.11", "POSTGRES_IMAGE": "local/postgres:16", "REDIS_IMAGE": "local/redis:7"}  # fmt: skip


def base_images() -> dict[str, str]:
    if os.environ.get("PYTHON_IMAGE") and os.environ.get("POSTGRES_IMAGE"):
        return {name: os.environ.get(name, OFFICIAL_IMAGES[name]) for name in OFFICIAL_IMAGES}
    if hub_reachable():
        return dict(OFFICIAL_IMAGES)
    say("Docker Hub unreachable: building local base images (docker/local-base/build.sh)")
    run("bash", str(REPO / "docker" / "local-base" / "build.sh"))
    return dict(LOCAL_IMAGES)


def scale_settings(scale: bool) -> dict[str, str]:
    """What the scale variant adds to the env file: Celery instead of the LocalExecutor, two API workers
    that share the live KPIs through Redis (database 1: Celery's broker uses 0)."""
    if not scale:
        return {}
    return {
        "AIRFLOW_EXECUTOR": "CeleryExecutor",
        "ECOMM_API_WORKERS": str(SCALE_API_WORKERS),
        "ECOMM_LIVE_BUS_URL": LIVE_BUS_URL,
    }


def up_args(scale: bool) -> list[str]:
    # --scale works in Compose v1 and v2 (v2's deploy.replicas is not read by v1)
    return ["up", "-d", *(["--scale", f"airflow-worker={SCALE_WORKERS}"] if scale else [])]


def write_env(path: Path, images: dict[str, str], scale: bool = False) -> dict[str, str]:
    env = {
        **images,
        **scale_settings(scale),
        "ECOMM_IMAGE_TAG": os.environ.get("ECOMM_IMAGE_TAG", "local"),
        # a smaller world than the default (bootstrap simulates and trains on it) when asked for
        **{name: os.environ[name] for name in WORLD_SETTINGS if name in os.environ},
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


def compose_base(env_file: Path, scale: bool) -> list[str]:
    # the profile on every call, so that ps, logs and down see redis and the workers too
    return [*compose_command(), "--project-name", PROJECT, "--env-file", str(env_file),
            "--file", str(REPO / "docker-compose.yml"), *(["--profile", "scale"] if scale else [])]  # fmt: skip


def replica_name(service: str, number: int) -> str:
    """`airflow-worker`, `airflow-worker#2`: one key per container, the first keeps the service's name."""
    return service if number == 1 else f"{service}#{number}"


class Stack:
    def __init__(self, env_file: Path, scale: bool = False) -> None:
        self.base = compose_base(env_file, scale)

    def __call__(self, *args: str, timeout: float = 3600, capture: bool = False) -> str:
        return run(*self.base, *args, timeout=timeout, capture=capture)

    def inspect(self) -> list[dict]:
        ids = self("ps", "-a", "-q", capture=True).split()
        return json.loads(run("docker", "inspect", *ids, capture=True)) if ids else []

    def containers(self) -> dict[str, dict]:
        return {
            replica_name(c["Config"]["Labels"]["com.docker.compose.service"],
                         int(c["Config"]["Labels"].get("com.docker.compose.container-number", "1"))): c["State"]
            for c in self.inspect()
        }  # fmt: skip

    def service_containers(self, service: str) -> list[dict]:
        return [c for c in self.inspect() if c["Config"]["Labels"]["com.docker.compose.service"] == service]

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
                    logs = self.logs(name.split("#")[0])
                    raise SmokeError(f"{name} stopped (exit {state['ExitCode']}):\n{logs}")
            if up_done and up.returncode != 0:
                raise SmokeError(f"`docker-compose up -d` failed (exit {up.returncode})")
            if up_done and states and set(states) == set(ready):
                return ready
            if time.time() - start > timeout:
                waiting = sorted(set(states) - set(ready)) or ["postgres"]
                raise SmokeError(
                    f"not healthy within {timeout:.0f}s: {', '.join(waiting)}\n"
                    f"{self.logs(waiting[0].split('#')[0])}"
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


def airflow_client(env: dict[str, str]) -> AirflowClient:
    settings = Settings(
        airflow_port=int(env["ECOMM_AIRFLOW_PORT"]),
        airflow_admin_password=env["ECOMM_AIRFLOW_ADMIN_PASSWORD"],
    )
    return AirflowClient(settings)


def run_data_dag(client: AirflowClient, timeout: float) -> dict:
    client.wait_for_dags()
    dag = DATA_DAG
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


def task_hosts(client: AirflowClient, run_id: str) -> dict[str, str]:
    """task id -> the hostname of the worker that ran it, for every task instance of the run."""
    url = f"{client.base}/api/v2/dags/{DATA_DAG}/dagRuns/{run_id}/taskInstances?limit=100"
    status, body = http("GET", url, token=client.token())
    if status != 200:
        raise SmokeError(f"task instances of {run_id}: HTTP {status} {body}")
    return {ti["task_id"]: ti.get("hostname") or "" for ti in body["task_instances"]}


def tasks_per_worker(hosts: dict[str, str], worker_hostnames: list[str]) -> dict[str, list[str]]:
    """Worker hostname -> the tasks it ran; SmokeError unless every task ran on one of the workers
    and every worker ran at least one. Airflow records socket.getfqdn(), which may add a domain."""
    ran: dict[str, list[str]] = {host: [] for host in worker_hostnames}
    for task, host in sorted(hosts.items()):
        worker = next((w for w in worker_hostnames if host == w or host.startswith(f"{w}.")), None)
        if worker is None:
            raise SmokeError(f"task {task} ran on {host!r}, not on a worker ({', '.join(worker_hostnames)})")
        ran[worker].append(task)
    idle = [worker for worker, tasks in ran.items() if not tasks]
    if len(worker_hostnames) < 2 or idle:
        raise SmokeError(f"the run's tasks did not use every worker: {ran}")
    return ran


# run inside the fastapi container: prometheus_client's per-process files, one per uvicorn worker
COUNT_ANSWERS = """
import glob, json, os, re, sys
from prometheus_client.mmap_dict import MmapedDict
counts = {}
for path in glob.glob(os.path.join(sys.argv[1], "counter_*.db")):
    pid = re.search(r"counter_(\\d+)[.]db", path).group(1)
    for item in MmapedDict.read_all_values_from_file(path):
        _, name, labels, _ = json.loads(item[0])
        if name == "ecomm_api_requests_total" and labels["route"].startswith(("/predict", "/recommendations")):
            counts[pid] = counts.get(pid, 0) + int(item[1])
print(json.dumps(counts))
"""


def api_answers_per_worker(stack: Stack) -> dict[str, int]:
    """uvicorn worker pid -> prediction and recommendation requests it answered (since start)."""
    (container,) = stack.service_containers("fastapi")
    out = run("docker", "exec", container["Id"], "python", "-c", COUNT_ANSWERS, API_METRICS_DIR, capture=True)
    return json.loads(out)


def ask_api_concurrently(api: str, requests: int) -> list[int]:
    from concurrent.futures import ThreadPoolExecutor

    def ask(i: int) -> int:
        if i % 2:
            return http("GET", f"{api}/recommendations/{1 + i % 50}?k=5")[0]
        return http("POST", f"{api}/predict/churn", CHURN_BODY)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(ask, range(requests)))


def check_scale(stack: Stack, client: AirflowClient, run_id: str, api: str) -> None:
    workers = sorted(c["Config"]["Hostname"] for c in stack.service_containers("airflow-worker"))
    say(f"airflow-worker containers' hostnames: {', '.join(workers)}")
    ran = tasks_per_worker(task_hosts(client, run_id), workers)
    for worker, tasks in ran.items():
        say(f"  worker {worker} ran {len(tasks)} task(s): {', '.join(tasks)}")
    statuses = ask_api_concurrently(api, SCALE_API_REQUESTS)
    say(f"{len(statuses)} concurrent API requests -> statuses {sorted(set(statuses))}")
    if set(statuses) != {200}:
        raise SmokeError(f"API answers under load: {statuses}")
    answered = api_answers_per_worker(stack)
    say(f"prediction/recommendation requests answered per uvicorn worker pid: {answered}")
    if len(answered) != SCALE_API_WORKERS or min(answered.values()) == 0:
        raise SmokeError(f"expected {SCALE_API_WORKERS} uvicorn workers answering, got {answered}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--skip-build", action="store_true", help="use the images already built")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds to wait for health")
    parser.add_argument(
        "--scale", action="store_true", help="the scale profile: Celery, 2 workers, 2 API workers"
    )
    args = parser.parse_args()

    timings: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="ecomm-smoke-"))
    env_file = workdir / "smoke.env"
    stack: Stack | None = None
    try:
        mark = time.time()
        images = base_images()
        env = write_env(env_file, images, args.scale)
        stack = Stack(env_file, args.scale)
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
        say(f"docker-compose {' '.join(stack.base[stack.base.index('--profile'):] if args.scale else [])}"
            f"{' ' if args.scale else ''}{' '.join(up_args(args.scale))}")  # fmt: skip
        up = stack.start(*up_args(args.scale))
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
        client = airflow_client(env)
        dag_run = run_data_dag(client, timeout=900)
        timings["data DAG run"] = time.time() - mark
        say(f"{DATA_DAG} {dag_run['dag_run_id']}: {dag_run['state']}")

        api = f"http://127.0.0.1:{env['ECOMM_API_PORT']}"
        status, churn = http("POST", f"{api}/predict/churn", CHURN_BODY)
        say(f"POST /predict/churn -> {status} {json.dumps(churn)}")
        if status != 200:
            raise SmokeError(f"churn prediction: HTTP {status}")
        status, recs = http("GET", f"{api}/recommendations/1?k=5")
        say(f"GET /recommendations/1?k=5 -> {status} {json.dumps(recs)}")
        if status != 200:
            raise SmokeError(f"recommendations: HTTP {status}")
        if args.scale:
            mark = time.time()
            check_scale(stack, client, dag_run["dag_run_id"], api)
            timings["scale checks"] = time.time() - mark
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
