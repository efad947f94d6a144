"""The shape of :mod:`lastmile.planning.live`: modules in layers, none too long.

Every module of the package imports only modules below it: no circle, not
even through a lazy or type-checking import, and only the package itself
imports :mod:`lastmile.planning.live.plan`, the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lastmile.planning.live as package

ROOT = Path(package.__file__).parent
PREFIX = "lastmile.planning.live"


def _imports(path: Path) -> set[str]:
    """Every module of the package (or the package itself) ``path`` imports, anywhere
    in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == PREFIX or m.startswith(PREFIX + ".")}


def _graph() -> dict[str, set[str]]:
    return {
        f"{PREFIX}.{path.stem}": _imports(path)
        for path in sorted(ROOT.glob("*.py"))
        if path.name != "__init__.py"
    }


def test_no_module_imports_itself_back() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for other in graph.get(module, ()):
            visit(other, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_only_the_package_imports_the_live_plan() -> None:
    graph = _graph()
    assert {m for m, imported in graph.items() if f"{PREFIX}.plan" in imported} == set()
    # The package itself imports the live plan: no module of it imports the package.
    assert {m for m, imported in graph.items() if PREFIX in imported} == set()


def test_no_module_is_too_long() -> None:
    lengths = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in ROOT.glob("*.py")}
    assert max(lengths.values()) < 800, lengths
