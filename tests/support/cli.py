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

from ecomm import console
from ecomm.cli import app
from ecomm.settings import get_settings


@contextlib.contextmanager
def _console_size(columns: str | None):
    """The CLI's consoles as wide as `columns` for the call, as a new process would build them from its
    environment. In-process they were built once, at import: in the full suite's workers a table printed
    here came out squeezed to 80 columns although the call's environment said 200 (cause not found)."""
    consoles = (console.out, console.err)
    before = [(c._width, c._height) for c in consoles]  # noqa: SLF001 (restored exactly)
    if columns is not None and columns.isdigit():
        for c in consoles:
            c.size = (int(columns), 25)
    try:
        yield
    finally:
        for c, (width, height) in zip(consoles, before, strict=True):
            c._width, c._height = width, height  # noqa: SLF001


def ecomm(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run `ecomm *args`; the result as subprocess.run(..., capture_output=True, text=True) gives it.
    `env` is added to this process's environment for the call. An exception the command lets through
    exits 1 with its traceback on stderr, as Python does."""
    get_settings.cache_clear()  # settings are read from `env`, as a new process reads them
    try:
        with contextlib.chdir(cwd or Path.cwd()), _console_size((env or {}).get("COLUMNS")):
            result = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["ecomm", *args], result.exit_code, result.stdout, stderr)
