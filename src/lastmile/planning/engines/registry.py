"""The registry of engines: names, the factory that builds them with their options,
and what the registered engines can do.

Engines are imported lazily: choosing one never pays for importing the others.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from lastmile.exceptions import UnknownEngine
from lastmile.planning.engines.base import Engine
from lastmile.planning.problem import Feature, PlanningProblem

#: Engine name -> "module:Class". Order is preference for ``engine="auto"``.
REGISTRY: dict[str, str] = {
    "pyvrp": "lastmile.planning.engines.pyvrp:PyVRPEngine",
    "vroom": "lastmile.planning.engines.vroom:VroomEngine",
    "ortools": "lastmile.planning.engines.ortools:ORToolsEngine",
}


def _engine_class(name: str) -> Any:
    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownEngine(f"unknown engine {name!r}; choose one of: auto, {known}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def engine_options(name: str) -> tuple[str, ...]:
    """The options (constructor keywords) of the engine registered as ``name``."""
    params = inspect.signature(_engine_class(name)).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def get_engine(name: str, **options: Any) -> Engine:
    """The engine registered as ``name``, built with ``options``.

    Unknown names raise :class:`UnknownEngine`; an option the engine does not
    have raises :class:`TypeError` naming the options it has.
    """
    cls = _engine_class(name)
    known = engine_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        has = f"its options are: {', '.join(known)}" if known else "it takes no options"
        raise TypeError(f"engine {name!r} has no option {', '.join(map(repr, unknown))}; {has}")
    engine: Engine = cls(**options)
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
