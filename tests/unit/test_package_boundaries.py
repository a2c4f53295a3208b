"""What the product package may import: no test tooling (Playwright drives the browser tests only) and
no private name of another module (a name a module needs from another is public there)."""

from __future__ import annotations

import ast
from pathlib import Path

import ecomm

PACKAGE = Path(ecomm.__file__).resolve().parent
TEST_ONLY = ("playwright", "pytest")


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) of each import in the file; name None for `import module`."""
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.module, alias.name) for alias in node.names]
    return out


def product_files() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50  # the package, not an empty directory
    return files


def test_the_package_imports_no_test_tooling():
    found = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in product_files()
        for module, _ in imports(path)
        if module.split(".")[0] in TEST_ONLY
    ]
    assert found == []


def test_the_package_imports_no_private_name_of_another_module():
    found = [
        f"{path.relative_to(PACKAGE)}: from {module} import {name}"
        for path in product_files()
        for module, name in imports(path)
        if module.startswith("ecomm") and name and name.startswith("_") and not name.startswith("__")
    ]
    assert found == []
