"""Re-optimising everything not yet done with :func:`~lastmile.planning.solve.solve`.

Vehicles on the road take part from where they are with what they carry;
the new plan replaces the current one only if it is better.
:func:`reoptimise_view` says why the current plan was kept, or that it was
replaced, as a :class:`ReoptimiseReason`.
"""

from __future__ import annotations

import dataclasses
import time
from enum import Enum

from lastmile.domain import Plan, Vehicle, VisitKind
from lastmile.planning.live.assemble import full_plan
from lastmile.planning.live.routes import check, readable, timed_route
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.solve import Progress, solve


class ReoptimiseReason(Enum):
    """Why re-optimising replaced the current plan, or kept it."""

    #: The new plan leaves fewer orders unassigned, or as many at a lower cost: applied.
    IMPROVED = "improved"
    #: The optimiser found nothing better than the current plan: kept.
    NOT_BETTER = "not_better"
    #: No vehicle is free to take work, or no order is left to plan: kept.
    NOTHING_TO_PLAN = "nothing_to_plan"
    #: The time limit ran out before the optimiser could run: kept.
    OUT_OF_TIME = "out_of_time"
    #: Twice the optimiser left out goods a vehicle on the road carries: kept.
    CARRIED_GOODS_LEFT_OUT = "carried_goods_left_out"

    @property
    def kept(self) -> bool:
        """Whether the current plan was kept."""
        return self is not ReoptimiseReason.IMPROVED


_RELOAD = VisitKind.RELOAD


def _day_over(problem: PlanningProblem, vehicle: Vehicle) -> bool:
    """Whether ``vehicle`` has no working time left: ready only after its shift ends,
    or after its start depot closes."""
    hours = problem.working_hours(vehicle)
    if hours is None:
        return True
    if vehicle.start_depot is None:
        return False
    return hours.start > problem.depots[vehicle.start_depot].time_window.end


def reoptimise_view(
    live: LiveView,
    *,
    time_limit: float,
    engine: str,
    seed: int,
    workers: int | None,
    keep_started: bool,
    on_progress: Progress | None,
) -> tuple[ReoptimiseReason, LiveView]:
    """Everything not yet done in ``live`` planned again, and why the result is what it is.

    With the reason :attr:`ReoptimiseReason.IMPROVED` the view holds the new
    plan; with any other, the current plan with ``(kept)`` added to its engine.
    """
    residual = live.residual
    frozen: set[str] = set()
    for vid, track in live.tracks.items():
        if not track.started or vid in live.unavailable:
            continue
        route = live.residual_plan.route_of(vid)
        # A vehicle back at a depot has set off on nothing yet: kept only for a reload.
        keep = keep_started and not track.at_depot
        if keep or (route is not None and any(v.kind is _RELOAD for v in route.visits)):
            frozen.add(vid)
    for vehicle in residual.vehicles:
        # A vehicle whose day is over (ready only after its shift ends: a route closed
        # late, a day re-planned after it) takes no new work and keeps what it has.
        if vehicle.id not in live.unavailable and _day_over(residual, vehicle):
            frozen.add(vehicle.id)
    label = live.plan.engine
    kept_as_is = dataclasses.replace(
        live, plan=dataclasses.replace(live.plan, engine=f"{label} (kept)")
    )
    deadline = time.monotonic() + time_limit
    # An engine may leave out goods a vehicle carries (they are only orders to it);
    # such vehicles keep their sequence and the rest is solved again, once.
    for attempt in range(2):
        out = frozen | live.unavailable
        kept = [r for r in live.residual_plan.routes if r.vehicle_id in frozen]
        on_kept = {v.order_id for r in kept for v in r.visits if v.order_id}
        vehicles = tuple(v for v in residual.vehicles if v.id not in out)
        orders = tuple(o for o in residual.orders if o.id not in on_kept)
        if not vehicles or not orders:
            return ReoptimiseReason.NOTHING_TO_PLAN, kept_as_is
        left = deadline - time.monotonic()
        budget = left * 0.6 if attempt == 0 else left
        if budget < 0.1:
            return ReoptimiseReason.OUT_OF_TIME, kept_as_is
        result = solve(
            dataclasses.replace(residual, vehicles=vehicles, orders=orders),
            engine=engine,
            time_limit=budget,
            seed=seed,
            workers=workers,
            on_progress=on_progress,
        )
        found = {r.vehicle_id: r for r in result.routes}
        for v in vehicles:
            # A vehicle on the road still drives home when it gets nothing new.
            if live.tracks[v.id].started and v.id not in found:
                found[v.id] = timed_route(residual, v.id, [], True)
        lost = set()
        for vid, track in live.tracks.items():
            if vid in out or not track.started:
                continue
            served = {v.order_id for v in found[vid].visits}
            carried = set(track.pinned) | (
                {track.dead_load_id} if track.dead_load_id is not None else set()
            )
            if not carried <= served:
                lost.add(vid)
        if not lost:
            break
        frozen |= lost
    else:
        return ReoptimiseReason.CARRIED_GOODS_LEFT_OUT, kept_as_is
    routes = tuple(found[v.id] for v in residual.vehicles if v.id in found) + tuple(kept)
    unassigned = tuple(readable(u) for u in result.unassigned)
    candidate_plan = Plan(routes, unassigned, f"{result.engine} (re-optimised)", result.runtime_s)
    check(residual, candidate_plan, "re-optimising")
    candidate = dataclasses.replace(live, residual_plan=candidate_plan, index={})
    full = full_plan(candidate, candidate_plan, candidate_plan.engine)
    if (len(full.unassigned), full.cost) < (len(live.plan.unassigned), live.plan.cost):
        return ReoptimiseReason.IMPROVED, dataclasses.replace(candidate, plan=full)
    return ReoptimiseReason.NOT_BETTER, kept_as_is
