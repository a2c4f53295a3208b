"""docs/results/: the model report and the causal report of a fresh default world, as a new user gets
them (`make up`'s bootstrap, then `ecomm evaluate --report`), and world.json saying how they were
made. The README's models and causal figures are rendered from these files (`make figures`).

python -m benchmarks.docs_results [--home /tmp/docs-world]   # about 5 min at the default size

Everything runs in a fresh ECOMM_HOME with the settings' defaults (its own embedded PostgreSQL,
stopped at the end): `ecomm pipeline bootstrap` simulates and loads the default world, trains every
model and computes the causal report; `ecomm evaluate --report` writes the model report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import date
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings

DOCS_RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
COMMANDS = ("ecomm pipeline bootstrap", "ecomm evaluate --report", "ecomm causal report")


def ecomm(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOMM_", "DATABASE_URL"))}
    env["ECOMM_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "ecomm.cli", *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ecomm {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


class LoadWatch:
    """The highest 1-minute load average seen while the reports are made (sampled every 5 s): the
    training times in the report are only comparable on an otherwise quiet machine."""

    def __init__(self) -> None:
        self.peak = os.getloadavg()[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(5):
            self.peak = max(self.peak, os.getloadavg()[0])

    def __enter__(self) -> LoadWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def raw_rows(raw: Path) -> dict[str, int]:
    """Data rows per entity over every batch the bootstrap simulated (file lines minus headers)."""
    rows: dict[str, int] = {}
    for path in raw.glob("*/*.csv"):
        with path.open("rb") as handle:
            rows[path.stem] = rows.get(path.stem, 0) + sum(1 for _ in handle) - 1
    return dict(sorted(rows.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="ECOMM_HOME to use (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=DOCS_RESULTS)
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="docs-world-"))
    settings = Settings(_env_file=None, home=home)
    try:
        with LoadWatch() as load:
            print(ecomm(home, "pipeline", "bootstrap"))
            print(ecomm(home, "evaluate", "--report", "--out", str(home / "reports")))
    finally:
        db.stop_embedded(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / "reports" / "model_report.json", args.out / "model_report.json")
    shutil.copy(home / "reports" / "causal" / "causal_estimates.csv", args.out / "causal_estimates.csv")
    batches = sorted(p.name for p in (home / "raw").iterdir() if p.is_dir() and p.name[:1].isdigit())
    world = {
        "measured_on": date.today().isoformat(),
        "commands": list(COMMANDS),
        "settings": "defaults of ecomm.settings.Settings (ECOMM_HOME a fresh temp dir)",
        "world": {
            "seed": settings.seed,
            "as_of": batches[-1],
            "days": settings.history_days,
            "customers": settings.customers,
            "products": settings.products,
        },
        "first_date": batches[0],
        "last_date": batches[-1],
        "rows": raw_rows(home / "raw"),
        "machine": {"cpus": os.cpu_count(), "peak_load_average_1min": round(load.peak, 1)},
    }
    (args.out / "world.json").write_text(json.dumps(world, indent=2) + "\n")
    print(f"wrote {args.out}/model_report.json, causal_estimates.csv, world.json (world in {home})")


if __name__ == "__main__":
    main()
