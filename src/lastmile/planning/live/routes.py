"""Small operations on residual problems and routes shared by the live modules.

Timing a route from steps (:func:`timed_route`), checking a plan or one route
with the validator (:func:`check`, :func:`route_ok`), cheap copies of checked
problems and frozen dataclasses (:func:`with_orders`, :func:`clone`), and the
reasons of orders no route serves (:func:`unassigned_orders`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from typing import TypeVar

from lastmile.domain import Order, OrderKind, Plan, Route, TimeWindow, Unassigned, Visit, VisitKind
from lastmile.planning.live.state import LOADED_AT_DEPOT, LiveChangeRejected, StopKey
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.unassigned import explain_unassigned
from lastmile.planning.validate import validate

_JOB, _PICKUP = VisitKind.JOB, VisitKind.PICKUP


_T = TypeVar("_T")


def stop_key(v: Visit) -> StopKey:
    """The ``(order id, kind)`` a vehicle state names the stop of ``v`` by."""
    return (v.order_id or "", v.kind)


def step_of(v: Visit) -> Step:
    """The step that visits what ``v`` visits."""
    return Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)


def plus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """``a + b`` in every dimension."""
    return tuple(x + y for x, y in zip(a, b, strict=True))


def exactly(t: int) -> tuple[TimeWindow, ...]:
    """The window of the one instant ``t``."""
    return (TimeWindow(t, t),)


_FIELDS: dict[type, tuple[str, ...]] = {}


def clone(obj: _T, **changes: object) -> _T:
    """A copy of the frozen dataclass ``obj`` with ``changes``, not checked again
    (the caller keeps it valid)."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    out = object.__new__(cls)
    for name in names:
        object.__setattr__(out, name, changes[name] if name in changes else getattr(obj, name))
    return out


def with_orders(problem: PlanningProblem, orders: tuple[Order, ...]) -> PlanningProblem:
    """``problem`` with ``orders`` instead of its own, which the caller has checked
    (unique ids, rows and amounts in range). :class:`PlanningProblem` checks every
    order again on construction, which would cost more than an insertion itself."""
    new = copy.copy(problem)
    object.__setattr__(new, "orders", orders)
    object.__setattr__(new, "_by_id", {o.id: o for o in orders})
    new.__dict__.pop("features", None)
    return new


def with_depot_skill(order: Order) -> Order:
    """``order`` needing :data:`LOADED_AT_DEPOT` when its goods wait at a depot."""
    if order.kind is not OrderKind.DELIVERY or LOADED_AT_DEPOT in order.skills:
        return order
    return dataclasses.replace(order, skills=order.skills | {LOADED_AT_DEPOT})


def timed_route(
    problem: PlanningProblem, vehicle_id: str, steps: Sequence[Step], started: bool
) -> Route:
    """The timed route; a started vehicle leaves where it is exactly when it is ready."""
    vehicle = problem.vehicle(vehicle_id)
    return build_route(problem, vehicle, steps, start_time=vehicle.shift.start if started else None)


def route_ok(problem: PlanningProblem, route: Route) -> bool:
    """Whether the validator accepts ``route`` on its own."""
    ids = {v.order_id for v in route.visits if v.order_id is not None}
    sub = with_orders(problem, tuple(problem.order(oid) for oid in sorted(ids)))
    return validate(sub, Plan((route,))).ok


def check(problem: PlanningProblem, plan: Plan, what: str) -> None:
    """Raise :class:`LiveChangeRejected` unless the validator accepts ``plan``."""
    report = validate(problem, plan)
    if not report.ok:
        raise LiveChangeRejected(what, report.violations)


def stop_attr(order: Order, kind: VisitKind) -> str:
    """The attribute of ``order`` (``"pickup"``/``"delivery"``) a visit of ``kind`` serves."""
    if kind is _PICKUP or (kind is _JOB and order.kind is OrderKind.PICKUP):
        return "pickup"
    return "delivery"


def readable(u: Unassigned) -> Unassigned:
    """``u`` with the reserved skill explained in plain words."""
    if LOADED_AT_DEPOT in u.reason:
        return Unassigned(
            u.order_id,
            "its goods wait at a depot and every vehicle able to take it has left its depot",
            "started",
        )
    return u


def unassigned_orders(
    problem: PlanningProblem, routes: tuple[Route, ...], known: Iterable[Unassigned]
) -> tuple[Unassigned, ...]:
    """Every order of ``problem`` no route serves, with the reason it already had or a new one."""

    on = {v.order_id for r in routes for v in r.visits if v.order_id is not None}
    missing = [o.id for o in problem.orders if o.id not in on]
    if not missing:
        return ()
    reasons = {u.order_id: u for u in known if u.reason}
    if any(oid not in reasons for oid in missing):
        asked = Plan(routes, tuple(Unassigned(oid, "", "") for oid in missing))
        for u in explain_unassigned(problem, asked):
            reasons.setdefault(u.order_id, u)
    return tuple(readable(reasons[oid]) for oid in missing)
