"""The one small protocol every solver engine implements."""

from __future__ import annotations

from typing import ClassVar, Protocol

from lastmile.domain import Plan
from lastmile.exceptions import UnsupportedConstraint
from lastmile.planning.problem import Feature, PlanningProblem


class Engine(Protocol):
    """A solver adapter. One module per engine; none sees ORM rows or HTTP.

    ``solve`` returns a plan whose routes were scheduled with
    :func:`lastmile.planning.schedule.build_route` (or with the engine's own
    times where it reports them), and lists every order it did not serve in
    ``Plan.unassigned`` (the reason is filled in later by the planner). It must
    return within ``time_limit`` seconds of wall time, and must raise
    :class:`UnsupportedConstraint` rather than ignore a feature it cannot honour.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Feature]]

    def solve(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        initial: Plan | None = None,
    ) -> Plan: ...


def check_supported(
    engine: str, capabilities: frozenset[Feature], problem: PlanningProblem
) -> None:
    """Raise :class:`UnsupportedConstraint` naming every feature the engine lacks."""
    missing = problem.features - capabilities
    if missing:
        raise UnsupportedConstraint(engine, {str(f) for f in missing})
