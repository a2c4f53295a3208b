"""What the deployment tests share: docker-compose.yml loaded and interpolated as Compose does,
the documented variables of .env.example, and the Dockerfiles' final instructions."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
TOOLS = REPO / ".tools"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal $.
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def variables(text: str) -> dict[str, list[tuple[str, str]]]:
    """Every ${VAR} of a text with its (operator, argument) uses; `$$` escapes are skipped."""
    found: dict[str, list[tuple[str, str]]] = {}
    for match in _VARIABLE.finditer(text):
        if match.group("name"):
            found.setdefault(match.group("name"), []).append(
                (match.group("op") or "", match.group("arg") or "")
            )
    return found


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of a text with `env` (an unset required variable raises KeyError)."""

    def replace(match: re.Match) -> str:
        name, op, arg = match.group("name"), match.group("op") or "", match.group("arg") or ""
        if name is None:
            return "$"
        value = env.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is None:
            if op.endswith("?"):
                raise KeyError(f"{name}: {arg}")
            return arg if op.endswith("-") else ""
        return value

    return _VARIABLE.sub(replace, text)


def documented_variables() -> dict[str, str | None]:
    """Variables of .env.example: `NAME=value` lines and commented `# NAME=value` examples."""
    names: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        active = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        commented = re.match(r"^#\s?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if active:
            names[active.group(1)] = active.group(2)
        elif commented:
            names.setdefault(commented.group(1), None)
    return names


@cache
def compose_raw() -> dict:
    """docker-compose.yml as YAML (anchors and merge keys resolved), not interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_env() -> dict[str, str]:
    """.env.example's values plus a value for every required variable it leaves unset."""
    env = {name: value for name, value in documented_variables().items() if value}
    for name, uses in variables(COMPOSE_FILE.read_text()).items():
        if any(op.endswith("?") for op, _ in uses):
            env.setdefault(name, f"test-{name.lower()}")
    return env


@cache
def compose_config() -> dict:
    """docker-compose.yml interpolated as Compose does with compose_env()."""
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), compose_env()))


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            logical.append(current)
            current = ""
    return [
        (text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical
    ]


def final_stage(path: Path) -> list[tuple[str, str]]:
    instructions = dockerfile_instructions(path)
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    """A CMD/ENTRYPOINT's argv (JSON exec form, or shell form split like sh)."""
    import json

    text = arguments.strip()
    return json.loads(text) if text.startswith("[") else shlex.split(text)
