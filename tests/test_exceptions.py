"""Every error lastmile raises on purpose appears in the tree of lastmile.exceptions."""

from __future__ import annotations

import importlib
import pkgutil
import re

import lastmile
from lastmile import exceptions
from lastmile.exceptions import LastmileError


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


#: Modules that do something when imported: entry points and Alembic's migration scripts.
_SKIP = re.compile(r"(^|\.)__main__$|^lastmile\.service\.migrations\.")


def _import_every_module() -> None:
    for info in pkgutil.walk_packages(lastmile.__path__, prefix="lastmile."):
        if not _SKIP.search(info.name):
            importlib.import_module(info.name)


def _tree() -> dict[str, str | None]:
    """Name -> parent name of every class drawn in the docstring's tree."""
    doc = exceptions.__doc__ or ""
    out: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (column, name) of the branch above
    for line in doc.splitlines():
        m = re.match(r"^(\s*(?:[│ ]*[├└]── )?)([A-Z]\w*)(?:\s|$)", line)
        if not m or not ("──" in m.group(1) or m.group(2) == "LastmileError"):
            continue
        column, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= column:
            stack.pop()
        out[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return out


def test_every_lastmile_error_is_in_the_docstring_tree() -> None:
    _import_every_module()
    drawn = _tree()
    assert "LastmileError" in drawn
    missing = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _all_subclasses(LastmileError)
        if cls.__module__.startswith("lastmile.") and cls.__name__ not in drawn
    )
    assert not missing, f"add to the tree in lastmile/exceptions.py: {missing}"


def test_the_tree_shows_each_error_under_its_base() -> None:
    _import_every_module()
    drawn = _tree()
    assert drawn["LastmileError"] is None
    for cls in _all_subclasses(LastmileError):
        if cls.__name__ not in drawn:
            continue
        bases = {b.__name__ for b in cls.__bases__ if issubclass(b, LastmileError)}
        assert drawn[cls.__name__] in bases, (cls.__name__, drawn[cls.__name__], bases)


def test_the_tree_draws_only_real_errors() -> None:
    _import_every_module()
    names = {cls.__name__ for cls in _all_subclasses(LastmileError)} | {"LastmileError"}
    assert set(_tree()) <= names
