"""The consoles and the user errors of every `ecomm` command (ecomm.cli, ecomm.ml.cli, ecomm.causal.cli
and ecomm.platform import them from here): an expected failure is one line on stderr and exit 1."""

from __future__ import annotations

import functools
import sys

import typer
from rich.console import Console

out = Console(soft_wrap=True)  # never break a path or a message in two
err = Console(stderr=True, soft_wrap=True)


class UserError(Exception):
    """A mistake or an unavailable resource the user can fix: one line, exit 1."""


# Expected failures as (module, class), looked up only once one is raised: a module that was never
# imported raised nothing, so no command imports pandas or mlflow just to be able to catch their errors.
OWN_ERRORS = (
    ("ecomm.db", "DatabaseError"),
    ("ecomm.warehouse.raw", "BatchError"),
    ("ecomm.warehouse.marts", "MartsError"),
    ("ecomm.stream.replay", "ApiUnreachable"),
    ("ecomm.stream.replay", "ApiRefused"),
)
CONNECTION_ERRORS = (("psycopg2", "OperationalError"), ("sqlalchemy.exc", "OperationalError"))
FOREIGN_ERRORS = (("mlflow.exceptions", "MlflowException"),)


def _loaded(names: tuple[tuple[str, str], ...]) -> tuple[type[BaseException], ...]:
    return tuple(getattr(sys.modules[module], name) for module, name in names if module in sys.modules)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_message(exc: BaseException) -> str | None:
    """What to tell the user about `exc`; None for a bug, which keeps its traceback."""
    if isinstance(exc, (UserError, *_loaded(OWN_ERRORS))):
        return str(exc)  # ours: written for the user (a health-check failure adds its log's tail)
    if isinstance(exc, _loaded(CONNECTION_ERRORS)):
        from ecomm.db import connection_error
        from ecomm.settings import get_settings

        return str(connection_error(get_settings(), exc))
    if isinstance(exc, _loaded((("pydantic", "ValidationError"),))):  # a bad setting in the env or .env
        return "; ".join(f"setting {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, (ValueError, FileNotFoundError, *_loaded(FOREIGN_ERRORS))):
        return _first_line(exc)
    return None


def user_errors(func):
    """Turn expected errors into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # typer.Exit passes through: error_message knows no such error
            message = error_message(exc)
            if message is None:
                raise
        err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)

    return wrapper
