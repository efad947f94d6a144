"""Imports go one way: the layer table of docs/architecture.md, checked on the code.

The service's features have their own order, checked in
``tests/service/test_feature_layering.py``; the circle check here covers them too.

Every ``import`` counts, including the ones inside functions and under
``if TYPE_CHECKING:``: a lazy import hides a dependency from the reader, not from
the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import lastmile

ROOT = Path(lastmile.__file__).parent

#: The library and its users, bottom to top. A package may import its own modules
#: and the packages of lower rows, never a package of its own row or of a higher
#: one. ``lastmile`` itself (the version) and ``exceptions`` sit below everything.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("lastmile", "exceptions"),
    ("domain",),
    ("travel", "geocode"),
    ("planning",),
    ("formats", "operations", "analytics"),
    ("simulate", "plan_output"),
    ("service",),
    ("demo",),
    ("demo_service",),
    ("cli",),
    ("__main__",),
)


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str) -> str | None:
    """The module ``name`` lives in: itself, or the nearest enclosing module."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path | None = None) -> set[str]:
    """The lastmile modules ``module`` imports, wherever in the file the import is."""
    path = path or modules()[module]
    is_package = path.name == "__init__.py"
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_owner(a.name) for a in node.names if a.name.startswith("lastmile"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            if source.split(".")[0] != "lastmile":
                continue
            for alias in node.names:
                found.add(_owner(f"{source}.{alias.name}"))
    found.discard(None)
    found.discard(module)
    return {name for name in found if name is not None}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lastmile"


def _row(package: str) -> int:
    for row, names in enumerate(LAYERS):
        if package in names:
            return row
    raise AssertionError(f"package {package!r} is in no row of LAYERS: add it to the table")


def _edges() -> Iterator[tuple[str, str]]:
    for module in modules():
        for target in imports_of(module):
            yield module, target


def test_every_package_has_a_row() -> None:
    for module in modules():
        _row(_package(module))


def test_imports_go_down_the_layer_table() -> None:
    upward = []
    for module, target in _edges():
        a, b = _package(module), _package(target)
        if a != b and _row(b) >= _row(a):
            upward.append(f"{module} imports {target} ({a} may not import {b})")
    assert upward == []


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {m: imports_of(m) for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert circles == []


def test_the_library_never_imports_web_or_database_code() -> None:
    library = {"domain", "travel", "geocode", "planning", "formats", "operations", "simulate"}
    offenders = []
    for module in modules():
        if _package(module) not in library:
            continue
        path = modules()[module]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [
                f"{module} imports {n}"
                for n in names
                if n.split(".")[0] in ("fastapi", "sqlalchemy", "starlette", "alembic")
            ]
    assert offenders == []


def test_the_checks_see_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lastmile.domain import Plan\n"
        "def f():\n    from lastmile.planning import solve\n"
        "    from ..formats import vrplib\n",
        encoding="utf-8",
    )
    found = imports_of("lastmile.travel.probe", probe)
    assert {"lastmile.domain", "lastmile.planning.solve", "lastmile.formats.vrplib"} <= found
