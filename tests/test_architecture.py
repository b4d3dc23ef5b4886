"""The import rules of docs' architecture (../shared/reference/architecture.md), checked.

Data flows one way and each package is one room with one job; a reviewer checks these on
every change, and so does this test, by reading every module's imports (not running them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = (
    "sensors",
    "collectors",
    "rules",
    "alerts",
    "inspections",
    "console",
    "dashboards",
    "lantai",
)
# Which of our packages each package may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "sensors": frozenset(),
    "collectors": frozenset({"sensors"}),
    "rules": frozenset({"sensors"}),
    "alerts": frozenset({"sensors"}),
    "inspections": frozenset({"sensors", "alerts"}),
    # The faces read everything below them; nothing but lantai/ imports them.
    "console": frozenset({"sensors", "collectors", "rules", "alerts", "inspections"}),
    "dashboards": frozenset({"sensors", "collectors"}),
    "lantai": frozenset(OURS) - {"lantai"},
}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", OURS)
def test_a_package_imports_only_what_the_architecture_allows(package: str) -> None:
    modules = _modules(package)
    assert modules, f"{package}/ has no modules"
    breaches = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules
        for name in sorted(_imports(path) & set(OURS))
        if name != package and name not in ALLOWED[package]
    ]
    assert breaches == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a rules module importing alerts is caught.
    module = tmp_path / "bad.py"
    module.write_text("from alerts.service import AlarmService\nimport rules.engine\n")
    assert _imports(module) == {"alerts", "rules"}
