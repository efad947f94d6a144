"""The library never imports the service; operations logic does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import lastmile

ROOT = Path(lastmile.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_does_not_import_the_service() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        part = path.relative_to(ROOT).parts[0]
        if part in ("service", "web", "cli.py"):
            continue
        for name in imported_modules(path):
            if name.startswith(("lastmile.service", "lastmile.web", "fastapi", "sqlalchemy")):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_operations_is_pure() -> None:
    allowed = ("lastmile.domain", "lastmile.exceptions", "lastmile.operations", "lastmile.planning")
    stdlib = {
        "__future__",
        "collections",
        "collections.abc",
        "dataclasses",
        "enum",
        "typing",
        "datetime",
        "itertools",
        "math",
        "functools",
    }
    for path in (ROOT / "operations").rglob("*.py"):
        for name in imported_modules(path):
            assert name in stdlib or name.startswith(allowed), f"{path.name} imports {name}"


def test_the_planning_worker_imports_no_web_or_database_code() -> None:
    names = imported_modules(ROOT / "service" / "plans" / "worker.py")
    assert not any(n.startswith(("fastapi", "sqlalchemy", "lastmile.service")) for n in names)
