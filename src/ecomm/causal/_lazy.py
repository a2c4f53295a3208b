"""Lazy imports of the heavy causal libraries (about a second each; only their callers pay).

DoWhy's sources hold regex strings with invalid escape sequences, so compiling them warns
("invalid escape sequence") on every import when bytecode is not cached - and EconML imports parts
of DoWhy. Those compile-time warnings are harmless and silenced here, nothing else.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType


def quiet_import(name: str) -> ModuleType:
    with warnings.catch_warnings():
        for category in (DeprecationWarning, SyntaxWarning):
            warnings.filterwarnings("ignore", message="invalid escape sequence", category=category)
        return importlib.import_module(name)
