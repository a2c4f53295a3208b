"""`ecomm COMMAND ...` run in the test's process: the CLI's own typer app through typer's CliRunner,
with the environment and working directory given, as a new process would see them.

A subprocess re-imports the package (seconds per call); tests that check what a command does (its
exit code, its output, the warehouse after it) run it here. Tests of the process itself (a kill -9,
a signal, the entry point) keep a real subprocess.
"""

from __future__ import annotations

import contextlib
import subprocess
import traceback
from pathlib import Path

from typer.testing import CliRunner

from ecomm.cli import app
from ecomm.settings import get_settings


def ecomm(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run `ecomm *args`; the result as subprocess.run(..., capture_output=True, text=True) gives it.
    `env` is added to this process's environment for the call. An exception the command lets through
    exits 1 with its traceback on stderr, as Python does."""
    get_settings.cache_clear()  # settings are read from `env`, as a new process reads them
    try:
        with contextlib.chdir(cwd or Path.cwd()):
            result = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["ecomm", *args], result.exit_code, result.stdout, stderr)
