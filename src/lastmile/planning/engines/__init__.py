"""Solver engines behind one protocol, and the factory that picks them.

Engines are imported lazily: choosing one never pays for importing the others.
"""

from __future__ import annotations

import importlib

from lastmile.exceptions import UnknownEngine
from lastmile.planning.engines.base import Engine as Engine
from lastmile.planning.engines.base import check_supported as check_supported
from lastmile.planning.problem import Feature, PlanningProblem

#: Engine name -> "module:Class". Order is preference for ``engine="auto"``.
REGISTRY: dict[str, str] = {
    "pyvrp": "lastmile.planning.engines.pyvrp:PyVRPEngine",
    "vroom": "lastmile.planning.engines.vroom:VroomEngine",
    "ortools": "lastmile.planning.engines.ortools:ORToolsEngine",
}


def get_engine(name: str) -> Engine:
    """The engine registered as ``name``; unknown names fail loudly."""
    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownEngine(f"unknown engine {name!r}; choose one of: auto, {known}") from None
    module, cls = target.split(":")
    engine: Engine = getattr(importlib.import_module(module), cls)()
    return engine


def capable_engines(problem: PlanningProblem) -> list[str]:
    """Engine names that honour every feature ``problem`` uses, best first."""
    names = []
    for name in REGISTRY:
        caps: frozenset[Feature] = get_engine(name).capabilities
        if problem.features <= caps:
            names.append(name)
    return names


def capability_table() -> str:
    """The engine x feature table as Markdown (docs/engines.md embeds it)."""
    engines = [get_engine(name) for name in REGISTRY]
    lines = [
        "| feature | " + " | ".join(e.name for e in engines) + " |",
        "|---|" + "---|" * len(engines),
    ]
    for feature in Feature:
        marks = ["yes" if feature in e.capabilities else "no" for e in engines]
        lines.append(f"| {feature.value} | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"
