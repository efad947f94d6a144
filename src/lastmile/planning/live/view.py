"""The live view: the data behind a :class:`~lastmile.planning.live.LivePlan`.

A :class:`LiveView` is the full plan, the states of the vehicles on the road,
the residual problem and plan, the relaxed promises, and what maps the
residual back onto the problem (:class:`~lastmile.planning.live.state.Track`
per vehicle, the depot map). Every operation of :mod:`lastmile.planning.live`
takes one and returns a new one; :class:`LivePlan` wraps it for callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lastmile.domain import Plan
from lastmile.planning.live.index import RouteIndex
from lastmile.planning.live.state import Relaxation, Track, VehicleState
from lastmile.planning.problem import PlanningProblem


@dataclass(frozen=True)
class LiveView:
    """A plan being driven: the full plan, the states, and the residual problem.

    ``plan`` is the full plan (the visits behind each vehicle followed by the
    forecast of the rest); ``residual`` and ``residual_plan`` are what is
    left, as an ordinary problem and a plan the validator accepts.
    ``unavailable`` vehicles take no new work.
    """

    problem: PlanningProblem
    plan: Plan
    now_s: int
    states: Mapping[str, VehicleState]
    residual: PlanningProblem
    residual_plan: Plan
    relaxations: tuple[Relaxation, ...]
    unavailable: frozenset[str]
    tracks: Mapping[str, Track] = field(repr=False)
    #: residual depot index -> depot index of ``problem``
    depot_map: tuple[int, ...] = field(repr=False)
    #: Insertion indexes of residual routes, built on demand (:meth:`route_index`).
    index: dict[str, RouteIndex] = field(default_factory=dict, repr=False, compare=False)

    def route_index(self, vehicle_id: str) -> RouteIndex | None:
        """The insertion index of ``vehicle_id``'s residual route (None without one),
        built once and kept with this view."""
        found = self.index.get(vehicle_id)
        if found is None:
            route = self.residual_plan.route_of(vehicle_id)
            if route is None:
                return None
            found = RouteIndex.build(
                self.residual, self.tracks[vehicle_id], route, self.plan.route_of(vehicle_id)
            )
            self.index[vehicle_id] = found
        return found
