"""A test process's environment made to give `settings` (what a child process of ours would read)."""

from __future__ import annotations

from ecomm.orchestration.config import settings_env


def use_settings_env(monkeypatch, settings) -> None:
    for name, value in settings_env(settings).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
