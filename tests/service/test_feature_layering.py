"""Layering, read from the source (AST):

* the library never imports the service, and operations logic does no I/O;
* the service's features call each other's services only downwards:
  (orgs, auth) < (depots, fleet) < (orders) < (plans) < (replan, tracking, maps,
  learning, automation) < (pod) < (notifications) < (reports) < (web: the pages); any feature may
  read another's models, schemas and settings;
* routers authorise, make a service call and shape the answer: no queries,
  no commits;
* services know nothing of HTTP: only routers (and the runtimes that hang
  background work on the app's lifespan) import FastAPI or Starlette, and the
  caller's identity comes from the auth feature, not from ``service/deps.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import lastmile

ROOT = Path(lastmile.__file__).parent
SERVICE = ROOT / "service"

#: Feature rank: a feature may call the services of features of its rank or below.
RANK = {
    "orgs": 0,
    "auth": 0,
    "depots": 1,
    "fleet": 1,
    "orders": 2,
    "plans": 3,
    "replan": 4,
    "tracking": 4,
    "maps": 4,
    "learning": 4,
    "automation": 4,
    "pod": 5,
    "notifications": 6,
    "reports": 7,
    "web": 8,
}
#: Modules of a feature any other feature may import (data, not behaviour).
SHARED = {"models", "schemas", "settings", "__init__"}
#: Modules of a feature that face the web.
WEB_FACING = {"router", "runtime"}
#: Features that are wholly presentation (pages for browsers): no services of their own.
PAGES = {"web"}
#: What a router may not do to a database session.
SESSION_WORK = {
    "execute",
    "scalar",
    "scalars",
    "query",
    "get",
    "add",
    "add_all",
    "delete",
    "merge",
    "flush",
    "refresh",
    "commit",
}


def imported_modules(path: Path, *, with_names: bool = False) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports too); ``with_names``
    adds each name imported from a module (``from lastmile.service.x import service``
    imports a module too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if with_names:
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def feature_modules() -> Iterator[tuple[str, Path]]:
    for feature in sorted(RANK):
        for path in sorted((SERVICE / feature).glob("*.py")):
            yield feature, path


def test_every_feature_has_a_rank() -> None:
    packages = {p.parent.name for p in SERVICE.glob("*/__init__.py")} - {"migrations"}
    assert packages == set(RANK)


def test_the_library_does_not_import_the_service() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        part = path.relative_to(ROOT).parts[0]
        # The command line and the demo played through a private service sit above
        # the service (tests/test_layering.py, LAYERS): they start it, as a user would.
        if part in ("service", "web", "cli.py", "demo_service.py"):
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
        "urllib.parse",  # string quoting only (navigation links)
    }
    for path in (ROOT / "operations").rglob("*.py"):
        for name in imported_modules(path):
            assert name in stdlib or name.startswith(allowed), f"{path.name} imports {name}"


def test_the_planning_worker_imports_no_web_or_database_code() -> None:
    names = imported_modules(SERVICE / "plans" / "worker.py")
    assert not any(n.startswith(("fastapi", "sqlalchemy", "lastmile.service")) for n in names)


def test_features_call_services_only_downwards() -> None:
    offenders = []
    for feature, path in feature_modules():
        for name in imported_modules(path, with_names=True):
            parts = name.split(".")
            if parts[:2] != ["lastmile", "service"] or len(parts) < 4:
                continue
            other, module = parts[2], parts[3]
            if other not in RANK or other == feature or module in SHARED:
                continue
            if RANK[other] > RANK[feature]:
                offenders.append(f"{feature}/{path.name} imports {name}")
    assert offenders == []


def test_services_know_nothing_of_http() -> None:
    offenders = []
    for feature, path in feature_modules():
        if path.stem in WEB_FACING or feature in PAGES:
            continue
        source = path.read_text(encoding="utf-8")
        for name in imported_modules(path):
            if name.split(".")[0] in ("fastapi", "starlette"):
                offenders.append(f"{feature}/{path.name} imports {name}")
        if "HTTPException" in source:
            offenders.append(f"{feature}/{path.name} raises HTTPException")
    assert offenders == []


def test_services_take_the_caller_from_the_auth_feature() -> None:
    """Who is calling comes from ``auth`` (``Principal``, ``authenticate``), never from
    the routers' dependency module."""
    offenders = []
    for feature, path in feature_modules():
        if path.stem in WEB_FACING or feature in PAGES:
            continue
        if "lastmile.service.deps" in imported_modules(path):
            offenders.append(f"{feature}/{path.name}")
    assert offenders == []


def _session_work(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_WORK
            and isinstance(node.func.value, ast.Name)
            and "session" in node.func.value.id
        ):
            yield node.lineno, f"{node.func.value.id}.{node.func.attr}()"


def test_routers_do_no_queries_and_no_commits() -> None:
    offenders = []
    for feature, path in feature_modules():
        if path.stem != "router":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, call in _session_work(tree):
            offenders.append(f"{feature}/router.py:{line} calls {call}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                names = {a.name for a in node.names}
                if node.module != "sqlalchemy.orm" or names - {"Session"}:
                    offenders.append(f"{feature}/router.py imports {sorted(names)} from sqlalchemy")
    assert offenders == []


def test_the_checks_see_a_query_in_a_router() -> None:
    tree = ast.parse("def f(session):\n    session.scalars(select(X))\n    session.commit()\n")
    assert [call for _, call in _session_work(tree)] == ["session.scalars()", "session.commit()"]
