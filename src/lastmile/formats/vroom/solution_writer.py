"""Writing a :class:`Plan` in VROOM's solution format (JSON), plus a ``lastmile`` object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lastmile.domain import (
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    Visit,
    VisitKind,
)
from lastmile.formats.vroom.fields import json_id
from lastmile.planning.problem import PlanningProblem


def _scaler(problem: PlanningProblem) -> Callable[[int], int | float]:
    """Converts matrix time/distance/cost units to reported units (``/ time_scale``)."""
    scale = problem.time_scale

    def conv(x: int) -> int | float:
        return x if scale == 1 else x / scale

    return conv


def _visit_stop(problem: PlanningProblem, visit: Visit) -> tuple[Order, Stop]:
    order = problem.order(visit.order_id or "")
    if visit.kind is VisitKind.PICKUP:
        stop = order.pickup
    elif visit.kind is VisitKind.DELIVERY:
        stop = order.delivery
    else:
        stop = order.single_stop
    assert stop is not None
    return order, stop


def _drops(order: Order, kind: VisitKind) -> bool:
    """Whether serving ``order`` at a visit of ``kind`` unloads its amount."""
    return kind is VisitKind.DELIVERY or (
        kind is VisitKind.JOB and order.kind is OrderKind.DELIVERY
    )


def _stop_id(order: Order, stop: Stop) -> int | str:
    return json_id(stop.ref or order.id)


def _location_fields(problem: PlanningProblem, idx: int) -> dict[str, Any]:
    loc = problem.locations[idx]
    out: dict[str, Any] = {}
    if loc.is_geographic:
        out["location"] = [loc.lon, loc.lat]
    out["location_index"] = idx
    return out


@dataclass
class _Totals:
    """Per-route sums in matrix units, before scaling."""

    setup: int = 0
    service: int = 0
    wait: int = 0
    priority: int = 0
    delivery: list[int] = field(default_factory=list)
    pickup: list[int] = field(default_factory=list)


def _edge_step(
    kind: str, problem: PlanningProblem, visit: Visit, time: int, load: Sequence[int]
) -> dict[str, Any]:
    """A ``start``/``end`` step (synthesised at the first/last stop for open routes)."""
    conv = _scaler(problem)
    step: dict[str, Any] = {"type": kind}
    step.update(_location_fields(problem, visit.location))
    step.update(
        {
            "setup": 0,
            "service": 0,
            "waiting_time": 0,
            "arrival": conv(time),
            "duration": conv(visit.travel if kind == "end" else 0),
            "distance": conv(visit.distance if kind == "end" else 0),
            "load": list(load),
            "violations": [],
        }
    )
    return step


def _load_before(problem: PlanningProblem, route: Route) -> list[int]:
    """The load before the first task (an open route's implicit start)."""
    for v in route.visits:
        if v.is_task:
            order, _ = _visit_stop(problem, v)
            sign = 1 if _drops(order, v.kind) else -1
            return [x + sign * a for x, a in zip(v.load, problem.amount(order), strict=True)]
    return [0] * len(problem.dimensions)


def _route_json(problem: PlanningProblem, route: Route) -> tuple[dict[str, Any], _Totals]:
    conv = _scaler(problem)
    dims = len(problem.dimensions)
    totals = _Totals(delivery=[0] * dims, pickup=[0] * dims)
    steps: list[dict[str, Any]] = []
    visits = route.visits
    if visits[0].kind is not VisitKind.START:
        steps.append(
            _edge_step("start", problem, visits[0], visits[0].arrival, _load_before(problem, route))
        )
    for v in visits:
        if v.kind is VisitKind.START:
            steps.append(_edge_step("start", problem, v, v.departure, v.load))
            continue
        if v.kind is VisitKind.END:
            steps.append(_edge_step("end", problem, v, v.arrival, v.load))
            continue
        step: dict[str, Any] = {"type": str(v.kind)}
        setup, service = 0, v.departure - v.start
        if v.kind is VisitKind.BREAK:
            step["id"] = json_id(v.break_id or "")
        elif v.kind is VisitKind.RELOAD:
            step["depot"] = problem.depots[v.depot if v.depot is not None else 0].id
            step.update(_location_fields(problem, v.location))
        else:
            order, stop = _visit_stop(problem, v)
            step["id"] = _stop_id(order, stop)
            step.update(_location_fields(problem, v.location))
            if problem.locations[v.location].name:
                step["description"] = problem.locations[v.location].name
            setup, service = service - stop.service, stop.service
            totals.priority += order.priority
            target = totals.delivery if _drops(order, v.kind) else totals.pickup
            for i, a in enumerate(problem.amount(order)):
                target[i] += a
        totals.setup += setup
        totals.service += service
        totals.wait += v.wait
        step.update(
            {
                "setup": conv(setup),
                "service": conv(service),
                "waiting_time": conv(v.wait),
                "arrival": conv(v.arrival),
                "duration": conv(v.travel),
                "distance": conv(v.distance),
                "load": list(v.load),
                "violations": [],
            }
        )
        steps.append(step)
    if visits[-1].kind is not VisitKind.END:
        steps.append(_edge_step("end", problem, visits[-1], visits[-1].departure, visits[-1].load))
    out: dict[str, Any] = {
        "vehicle": json_id(route.vehicle_id),
        "cost": conv(route.cost),
        "setup": conv(totals.setup),
        "service": conv(totals.service),
        "duration": conv(route.travel),
        "waiting_time": conv(totals.wait),
        "priority": totals.priority,
        "distance": conv(route.distance),
    }
    if dims:
        out["delivery"] = totals.delivery
        out["pickup"] = totals.pickup
    out["steps"] = steps
    out["violations"] = []
    return out, totals


def write_solution(
    problem: PlanningProblem, plan: Plan, *, computing_time_s: float | None = None
) -> dict[str, Any]:
    """The plan in VROOM's solution format, plus a ``lastmile`` object.

    Only routes with tasks are written (as VROOM does); open routes get a
    ``start``/``end`` step at their first/last stop as in VROOM. Times, costs
    and distances are divided by ``problem.time_scale`` when it is not 1 (so a
    benchmark instance reports in its own units). Each unassigned task carries
    our ``reason`` and ``code``. ``computing_time_s`` defaults to
    ``plan.runtime_s``.
    """
    conv = _scaler(problem)
    used = [r for r in plan.routes if r.tasks]
    written = [_route_json(problem, r) for r in used]
    routes = [w[0] for w in written]
    totals = [w[1] for w in written]
    unassigned = []
    for u in plan.unassigned:
        order = problem.order(u.order_id)
        kinds = ["pickup", "delivery"] if order.kind is OrderKind.SHIPMENT else ["job"]
        for kind, stop in zip(kinds, order.stops, strict=True):
            entry: dict[str, Any] = {"id": _stop_id(order, stop), "type": kind}
            entry.update(_location_fields(problem, stop.location))
            if problem.locations[stop.location].name:
                entry["description"] = problem.locations[stop.location].name
            entry["reason"] = u.reason
            entry["code"] = u.code
            unassigned.append(entry)
    dims = len(problem.dimensions)
    seconds = plan.runtime_s if computing_time_s is None else computing_time_s
    summary: dict[str, Any] = {
        "cost": conv(sum(r.cost for r in used)),
        "routes": len(routes),
        "unassigned": len(unassigned),
        "setup": conv(sum(t.setup for t in totals)),
        "service": conv(sum(t.service for t in totals)),
        "duration": conv(sum(r.travel for r in used)),
        "waiting_time": conv(sum(t.wait for t in totals)),
        "priority": sum(t.priority for t in totals),
        "distance": conv(sum(r.distance for r in used)),
    }
    if dims:
        summary["delivery"] = [sum(t.delivery[i] for t in totals) for i in range(dims)]
        summary["pickup"] = [sum(t.pickup[i] for t in totals) for i in range(dims)]
    summary["violations"] = []
    summary["computing_times"] = {"loading": 0, "solving": round(seconds * 1000), "routing": 0}
    return {
        "code": 0,
        "summary": summary,
        "unassigned": unassigned,
        "routes": routes,
        "lastmile": {
            "engine": plan.engine,
            "travel_note": problem.travel_note,
            "time_scale": problem.time_scale,
            "runtime_s": plan.runtime_s,
        },
    }
