"""Full plans from residual plans: the visits behind each vehicle, then the rest.

A residual route is in the terms of the residual problem (private "now"
rows, depots where vehicles stand, goods on board as pickups);
:func:`full_route` maps it back onto the live view's problem after the
vehicle's history, and :func:`full_plan` does so for a whole plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from lastmile.domain import OrderKind, Plan, Route, Vehicle, Visit, VisitKind
from lastmile.planning.live.state import Track
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import route_cost

_START = VisitKind.START
_JOB, _PICKUP, _DELIVERY = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


def full_route(
    vehicle: Vehicle,
    track: Track,
    depot_map: Sequence[int],
    residual: Route | None,
    *,
    cost_waiting: bool = False,
) -> Route | None:
    """``track``'s history followed by the ``residual`` route, in the terms of the
    problem ``vehicle`` belongs to (``depot_map``: residual depot -> its depot;
    ``cost_waiting``: that problem's, see :func:`route_cost`)."""
    vehicle_id = vehicle.id
    visits = list(track.done)
    toff, doff = track.travel_s, track.distance_m
    for v in residual.visits if residual is not None else ():
        oid = v.order_id
        if track.started and v.kind is _START:
            continue
        if oid is not None and (
            oid == track.dead_load_id or (v.kind is _PICKUP and oid in track.pinned)
        ):
            continue
        kind = v.kind
        if kind is _DELIVERY and track.pinned.get(oid or "") is OrderKind.DELIVERY:
            kind = _JOB
        location = (
            track.here if v.location == track.now_row and track.here is not None else v.location
        )
        visits.append(
            Visit(
                kind,
                location,
                v.arrival,
                v.start,
                v.departure,
                v.load,
                v.distance + doff,
                v.travel + toff,
                order_id=oid,
                break_id=v.break_id,
                depot=depot_map[v.depot] if v.depot is not None else None,
            )
        )
    if not visits:
        return None
    last = visits[-1]
    has_tasks = any(v.is_task for v in visits)
    duration = last.departure - visits[0].departure if cost_waiting else None
    cost = route_cost(vehicle, last.travel, last.distance, duration_s=duration) if has_tasks else 0
    return Route(vehicle_id, tuple(visits), cost)


def full_plan(live: LiveView, residual_plan: Plan, engine: str, *, only: str | None = None) -> Plan:
    """The full plan of ``residual_plan``; with ``only``, just that vehicle's route is redone."""
    routes: list[Route] = []
    for vehicle in live.problem.vehicles:
        vid = vehicle.id
        if only is not None and vid != only:
            found = live.plan.route_of(vid)
        else:
            found = full_route(
                vehicle,
                live.tracks[vid],
                live.depot_map,
                residual_plan.route_of(vid),
                cost_waiting=live.problem.cost_waiting,
            )
        if found is not None and (found.tasks or live.tracks[vid].started):
            routes.append(found)
    pseudo = {t.dead_load_id for t in live.tracks.values()}
    unassigned = tuple(u for u in residual_plan.unassigned if u.order_id not in pseudo)
    return Plan(tuple(routes), unassigned, engine, residual_plan.runtime_s)
