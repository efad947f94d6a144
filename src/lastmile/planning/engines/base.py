"""The one small protocol every solver engine implements, and its shared defaults."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import ClassVar, Protocol

from lastmile.domain import Plan
from lastmile.exceptions import UnsupportedConstraint
from lastmile.planning.problem import Feature, PlanningProblem


class NoFeasiblePlan(Exception):
    """A search requiring every order found no plan that serves them all: the day
    is over-full (often through its time windows alone). Nothing of the search is
    kept: a search that may leave orders out does better with the time left."""


class Engine(Protocol):
    """A solver adapter. One module (or package) per engine; none sees ORM rows or HTTP.

    Engines are made by :func:`~lastmile.planning.engines.get_engine` with their
    options as keyword arguments of the constructor.

    ``supports`` says why the engine cannot take a problem (None when it can):
    every feature outside ``capabilities``, and whatever else the engine cannot
    model. ``solve`` returns a plan whose routes were scheduled with
    :func:`lastmile.planning.schedule.build_route` (or with the engine's own
    times where it reports them), and lists every order it did not serve in
    ``Plan.unassigned`` (the reason is filled in later by the planner). It must
    return within ``time_limit`` seconds of wall time, and must raise
    :class:`UnsupportedConstraint` rather than ignore a feature it cannot honour.
    ``solve_parallel`` is a search on several processes working on one plan;
    None, at once, when the engine has none or the problem does not suit it;
    it raises :class:`NoFeasiblePlan` when, every order being required, its
    searches found no plan serving them all (the caller then searches again
    letting orders out).
    ``first_plan_seconds`` estimates how long the engine needs before it can
    return any plan of its own (building its model, its first construction):
    given less, ``solve`` returns a plan it did not search (``initial``, or the
    greedy construction's, named ``"greedy"``) rather than overrun.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Feature]]

    def supports(self, problem: PlanningProblem) -> str | None: ...

    def solve(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        initial: Plan | None = None,
    ) -> Plan: ...

    def solve_parallel(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        workers: int = 2,
        on_progress: Callable[[float, str], None] | None = None,
        executor: Executor | None = None,
    ) -> Plan | None: ...

    def first_plan_seconds(self, problem: PlanningProblem) -> float: ...


class BaseEngine:
    """Defaults for :class:`Engine`: support decided by the declared capabilities.

    An engine with further limits overrides :meth:`check_supported` (calling
    this one first); one without a cooperative parallel search keeps
    :meth:`solve_parallel`, which declines.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Feature]]

    def check_supported(self, problem: PlanningProblem) -> None:
        """Raise :class:`UnsupportedConstraint` for anything this engine cannot honour."""
        check_supported(self.name, self.capabilities, problem)

    def supports(self, problem: PlanningProblem) -> str | None:
        """Why this engine cannot take ``problem``, or None if it can."""
        try:
            self.check_supported(problem)
        except UnsupportedConstraint as exc:
            return str(exc)
        return None

    def solve_parallel(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        workers: int = 2,
        on_progress: Callable[[float, str], None] | None = None,
        executor: Executor | None = None,
    ) -> Plan | None:
        """No cooperative parallel search: declined at once."""
        del problem, time_limit, seed, workers, on_progress, executor
        return None

    def first_plan_seconds(self, problem: PlanningProblem) -> float:
        """Seconds before a plan of the engine's own: none to speak of, by default."""
        del problem
        return 0.0


def check_supported(
    engine: str, capabilities: frozenset[Feature], problem: PlanningProblem
) -> None:
    """Raise :class:`UnsupportedConstraint` naming every feature the engine lacks."""
    missing = problem.features - capabilities
    if missing:
        raise UnsupportedConstraint(engine, {str(f) for f in missing})
