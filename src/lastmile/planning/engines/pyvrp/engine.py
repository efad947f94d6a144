"""PyVRP (hybrid iterated local search) behind the engine protocol.

The model (what PyVRP is given, and how its solutions come back) is in
:mod:`~lastmile.planning.engines.pyvrp.model`; the search on several
processes working on one plan in :mod:`~lastmile.planning.engines.pyvrp.parallel`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from typing import ClassVar

import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime, MultipleCriteria, StoppingCriterion

from lastmile.domain import OrderKind, Plan
from lastmile.exceptions import UnsupportedConstraint
from lastmile.planning.construct import greedy_plan
from lastmile.planning.engines.base import BaseEngine
from lastmile.planning.engines.pyvrp import model
from lastmile.planning.engines.pyvrp import parallel as par
from lastmile.planning.problem import Feature, PlanningProblem

#: Seconds per matrix cell and routing profile to lower a problem, and per pair of
#: stops for PyVRP's neighbourhoods, both before its search starts (measured on a
#: generated 2,800-stop day on a 2-core machine: 2.7 s and 2.7 s; lowering then took
#: a third of that once durations were shared between profiles and the matrices made
#: in place: 3.6 s instead of 10.7 s on the same machine loaded five times over).
#: A busy machine is measured as the solve goes (see ``PyVRPEngine.solve``).
LOWER_S_PER_CELL = 2.6e-8
NEIGHBOURS_S_PER_PAIR = 3.5e-7
#: PyVRP's own first solution, an exhaustive local search from a random one, takes
#: about ``INITIAL_S * stops ** INITIAL_EXPONENT`` seconds (1.3 s at 2,800 stops, 1.7 s
#: at 1,400 on the loaded machine) and PyVRP does not count it against its time limit.
#: Beyond :data:`INITIAL_SHARE` of the time limit, the search starts from the greedy
#: construction instead.
INITIAL_S = 1.5e-6
INITIAL_EXPONENT = 1.8
INITIAL_SHARE = 0.2
#: The largest share of the time limit lowering and neighbourhoods may take.
FIRST_PLAN_SHARE = 0.8
#: PyVRP's cost of an infeasible solution.
_INT64_MAX = 2**63 - 1
#: The most a busy machine is taken to slow the steps PyVRP does not time.
MAX_SLOWNESS = 8.0
#: The shortest search worth starting from a plan already in hand, seconds.
MIN_SEARCH_S = 0.3


def initial_seconds(problem: PlanningProblem) -> float:
    """Estimated seconds of PyVRP's own first solution for ``problem``."""
    return float(INITIAL_S * problem.num_stops**INITIAL_EXPONENT)


class PyVRPEngine(BaseEngine):
    """PyVRP's iterated local search; the strongest engine on what it models."""

    name: ClassVar[str] = "pyvrp"
    capabilities: ClassVar[frozenset[Feature]] = frozenset(Feature) - {
        Feature.BREAKS,
        Feature.MAX_TRAVEL_TIME,
    }

    def __init__(
        self, *, prize_collecting: bool = True, feasible_within: float | None = None
    ) -> None:
        #: Orders optional with a prize larger than any route cost, so an
        #: over-full problem leaves out as little as possible instead of
        #: returning an infeasible plan. With False every order is required
        #: (slightly stronger when everything fits; priorities then cannot
        #: matter, so problems with priorities always collect prizes, and
        #: problems with reloads never do -- see ``model.lower``).
        self.prize_collecting = prize_collecting
        #: A search requiring every order that has found no plan serving them all
        #: within this share of its time stops there and returns its best plan
        #: (infeasible): the day is over-full, and the caller may spend the rest of
        #: the time letting orders out (see ``planning.solve``). None: never.
        self.feasible_within = feasible_within

    def check_supported(self, problem: PlanningProblem) -> None:
        """Raise :class:`UnsupportedConstraint` for anything PyVRP cannot honour here."""
        super().check_supported(problem)
        f = problem.features
        has_shipments = Feature.SHIPMENTS in f
        if Feature.MAX_TASKS in f and (has_shipments or Feature.RELOADS in f):
            raise UnsupportedConstraint(self.name, {"max_tasks with shipments or reloads"})
        for o in problem.orders:
            if o.kind is OrderKind.SHIPMENT and any(len(s.time_windows) > 1 for s in o.stops):
                raise UnsupportedConstraint(self.name, {"multiple_time_windows on shipments"})

    def lower(self, problem: PlanningProblem) -> model.Lowered:
        """Translate ``problem`` to PyVRP's ProblemData (see :mod:`.model`)."""
        self.check_supported(problem)
        return model.lower(problem, prize_collecting=self.prize_collecting)

    def solve(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        initial: Plan | None = None,
    ) -> Plan:
        began = time.perf_counter()
        if self.first_plan_seconds(problem) > FIRST_PLAN_SHARE * time_limit:
            # Lowering alone would eat the time: the greedy plan instead.
            plan = greedy_plan(problem, deadline=began + time_limit)
            return Plan(plan.routes, plan.unassigned, "greedy", time.perf_counter() - began)
        lowered = self.lower(problem)
        # How much slower than the estimates this machine is right now (busy with
        # other work), measured on the lowering just done: PyVRP's neighbourhoods
        # and its own first solution, which its time limit does not count, are
        # then taken off the search's time at that pace.
        slowness = min(
            MAX_SLOWNESS,
            max(1.0, (time.perf_counter() - began) / max(1e-3, self._lower_s(problem))),
        )
        if initial is None and slowness * initial_seconds(problem) > INITIAL_SHARE * time_limit:
            initial = greedy_plan(problem, deadline=began + time_limit / 2)
        init = model.initial_solution(problem, lowered, initial) if initial is not None else None
        untimed = NEIGHBOURS_S_PER_PAIR * problem.num_stops**2
        if init is None:
            untimed += initial_seconds(problem)
        remaining = time_limit - (time.perf_counter() - began) - slowness * untimed - 0.02
        if remaining < MIN_SEARCH_S and initial is not None:
            # No time left to search: the start plan is the answer.
            return Plan(
                initial.routes, initial.unassigned, initial.engine, time.perf_counter() - began
            )
        remaining = max(0.05, remaining)
        params = model.solve_params(lowered)
        with warnings.catch_warnings():
            # PyVRP warns when it struggles to find a feasible solution; the
            # planner's validator and repair step deal with that outcome.
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            stop: StoppingCriterion = MaxRuntime(remaining)
            if self.feasible_within is not None:
                stop = MultipleCriteria([stop, NoFeasibleWithin(self.feasible_within * remaining)])
            result = model.search(
                lowered.data, stop, seed=seed, params=params, initial_solution=init
            )
        plan = model.to_plan(problem, lowered, result.best)
        return Plan(plan.routes, plan.unassigned, self.name, time.perf_counter() - began)

    def first_plan_seconds(self, problem: PlanningProblem) -> float:
        """Estimated seconds to lower ``problem`` and compute PyVRP's neighbourhoods
        (its own first solution aside: see :data:`INITIAL_SHARE`)."""
        return self._lower_s(problem) + NEIGHBOURS_S_PER_PAIR * problem.num_stops**2

    @staticmethod
    def _lower_s(problem: PlanningProblem) -> float:
        """Estimated seconds to lower ``problem``."""
        profiles = {
            (v.type.profile, v.type.skills, v.type.cost_per_hour, v.type.cost_per_km)
            for v in problem.vehicles
        }
        return LOWER_S_PER_CELL * len(problem.locations) ** 2 * len(profiles)

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
        """Search on ``workers`` processes working together (see :mod:`.parallel`),
        or on ``workers`` tasks at a time of ``executor``.

        None, at once, when the problem cannot be split between workers (see
        :func:`.parallel.decomposable`), or when every worker failed.
        """
        unsplittable = {Feature.SHIPMENTS, Feature.MULTIPLE_TIME_WINDOWS, Feature.RELOADS}
        if len(problem.orders) < par.MIN_CLIENTS or problem.features & unsplittable:
            return None  # known before paying for the model
        began = time.perf_counter()
        lowered = self.lower(problem)
        if not par.decomposable(lowered.data):
            return None
        # PyVRP's neighbourhoods and its own first solution are not counted by its
        # time limit (see ``solve``): each search of the decomposition is given its
        # time less their estimate, at this machine's pace, and a day whose first
        # solution alone would eat the whole-problem phase starts from the greedy plan.
        slowness = min(
            MAX_SLOWNESS,
            max(1.0, (time.perf_counter() - began) / max(1e-3, self._lower_s(problem))),
        )
        start = None
        initial_s = slowness * initial_seconds(problem)
        if initial_s > INITIAL_SHARE * par.WHOLE_SHARE * time_limit:
            greedy = greedy_plan(problem, deadline=began + par.WHOLE_SHARE * time_limit / 2)
            init = model.initial_solution(problem, lowered, greedy)
            if init is not None:
                start, initial_s = par.routes_of(init), 0.0
        pair_s = slowness * NEIGHBOURS_S_PER_PAIR
        if pair_s * problem.num_stops**2 + initial_s > par.MAX_SETUP_SHARE * (
            par.WHOLE_SHARE * time_limit
        ):
            return None  # the whole-problem phase would be mostly set-up: seeds search better
        remaining = max(0.05, time_limit - (time.perf_counter() - began) - 0.02)
        routes = par.solve_parallel(
            lowered.data,
            max_penalty=model.max_penalty(lowered),
            time_limit=remaining,
            seed=seed,
            workers=workers,
            on_progress=on_progress,
            executor=executor,
            start=start,
            pair_s=pair_s,
            initial_s=initial_s,
        )
        if routes is None:
            return None
        solution = pyvrp.Solution(
            lowered.data, [pyvrp.Route(lowered.data, v, t) for t, v in routes]
        )
        plan = model.to_plan(problem, lowered, solution)
        return Plan(plan.routes, plan.unassigned, self.name, time.perf_counter() - began)


class NoFeasibleWithin:
    """A PyVRP stopping criterion: ``seconds`` have passed and no feasible solution
    was found (PyVRP passes the best solution's cost, int64's maximum while it is
    infeasible)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.began: float | None = None

    def __call__(self, best_cost: int) -> bool:
        if self.began is None:
            self.began = time.perf_counter()
        return best_cost >= _INT64_MAX and time.perf_counter() - self.began > self.seconds
