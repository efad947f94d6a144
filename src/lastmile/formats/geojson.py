"""Plans as GeoJSON (RFC 7946): routes as lines, visits and unassigned orders as points.

Geometry is straight segments between stop coordinates, not the road path.
Locations without geographic coordinates (matrix-only rows, planar benchmark
coordinates) cannot be placed on a map: they are left out, and the features
and the collection say how many were left out (``skipped_visits``, ``note``).
"""

from __future__ import annotations

from typing import Any

from lastmile.domain import Order, OrderKind, Plan, Route, Stop, Visit, VisitKind
from lastmile.planning.problem import PlanningProblem

__all__ = ["plan_to_geojson"]

_NO_COORDS = "some locations have no longitude/latitude and are not drawn"


def _position(problem: PlanningProblem, index: int) -> list[float] | None:
    loc = problem.locations[index]
    if not loc.is_geographic or loc.lon is None or loc.lat is None:
        return None
    return [loc.lon, loc.lat]


def _visit_stop(problem: PlanningProblem, visit: Visit) -> tuple[Order, Stop] | None:
    if visit.order_id is None:
        return None
    order = problem.order(visit.order_id)
    if visit.kind is VisitKind.PICKUP:
        stop = order.pickup
    elif visit.kind is VisitKind.DELIVERY:
        stop = order.delivery
    else:
        stop = order.single_stop
    return None if stop is None else (order, stop)


def _route_features(problem: PlanningProblem, route: Route) -> tuple[list[dict[str, Any]], int]:
    """The route's line and visit points, and how many visits could not be placed."""
    coords: list[list[float]] = []
    points: list[dict[str, Any]] = []
    skipped = 0
    for seq, visit in enumerate(route.visits):
        pos = _position(problem, visit.location)
        if pos is None:
            skipped += 1
            continue
        # A break happens where the vehicle already is: no new vertex.
        if visit.kind is not VisitKind.BREAK and (not coords or coords[-1] != pos):
            coords.append(pos)
        props: dict[str, Any] = {
            "vehicle": route.vehicle_id,
            "sequence": seq,
            "kind": str(visit.kind),
            "order_id": visit.order_id,
            "arrival": visit.arrival,
            "start": visit.start,
            "departure": visit.departure,
            "load": list(visit.load),
        }
        found = _visit_stop(problem, visit)
        if found is not None and found[1].ref:
            props["ref"] = found[1].ref
        if visit.break_id is not None:
            props["break_id"] = visit.break_id
        if visit.depot is not None:
            props["depot"] = problem.depots[visit.depot].id
        name = problem.locations[visit.location].name
        if name:
            props["name"] = name
        points.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": pos},
                "properties": props,
            }
        )
    line_props: dict[str, Any] = {
        "kind": "route",
        "vehicle": route.vehicle_id,
        "cost": route.cost,
        "distance": route.distance,
        "travel": route.travel,
        "duration": route.duration,
        "start": route.start_time,
        "end": route.end_time,
        "stops": len(route.tasks),
    }
    if skipped:
        line_props["skipped_visits"] = skipped
        line_props["note"] = _NO_COORDS
    geometry: dict[str, Any] | None = (
        {"type": "LineString", "coordinates": coords} if len(coords) >= 2 else None
    )
    line = {"type": "Feature", "geometry": geometry, "properties": line_props}
    return [line, *points], skipped


def plan_to_geojson(
    problem: PlanningProblem, plan: Plan, *, attribution: str | None = None
) -> dict[str, Any]:
    """A FeatureCollection of ``plan``: per route one LineString (straight
    segments between its stops; ``null`` geometry when fewer than two stops
    have coordinates) followed by one Point per visit, then one Point per stop
    of each unassigned order with its ``reason``.

    Times are seconds since the plan's epoch, distances metres. The optional
    ``attribution`` (e.g. map data credits) is added as a top-level member.
    """
    features: list[dict[str, Any]] = []
    skipped = 0
    for route in plan.routes:
        if not route.visits:
            continue
        route_features, missing = _route_features(problem, route)
        features.extend(route_features)
        skipped += missing
    for u in plan.unassigned:
        order = problem.order(u.order_id)
        for stop in order.stops:
            pos = _position(problem, stop.location)
            if pos is None:
                skipped += 1
                continue
            kind = (
                ("pickup" if stop is order.pickup else "delivery")
                if order.kind is OrderKind.SHIPMENT
                else "job"
            )
            props: dict[str, Any] = {
                "kind": "unassigned",
                "task": kind,
                "order_id": order.id,
                "reason": u.reason,
                "code": u.code,
            }
            if stop.ref:
                props["ref"] = stop.ref
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": pos},
                    "properties": props,
                }
            )
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    meta: dict[str, Any] = {"engine": plan.engine, "travel_note": problem.travel_note}
    if skipped:
        meta["skipped_visits"] = skipped
        meta["note"] = _NO_COORDS
    collection["lastmile"] = meta
    if attribution:
        collection["attribution"] = attribution
    return collection
