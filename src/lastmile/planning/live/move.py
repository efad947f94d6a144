"""A dispatcher moves one order: to another position of its route, or to another route.

:func:`move` takes the order off the route it is on (or out of the unassigned
orders), puts it on the vehicle asked for, at the position asked for or, without
one, at the cheapest position the validator accepts, and checks the residual
plan with :func:`~lastmile.planning.validate.validate`: the routes the move
changed with their orders, every other route being as it was in a residual plan
the validator accepted. The answer, a :class:`Move`, holds the full plan the
move gives and the validator's violations, so a move can be looked at before it
is made; only a move without violations has a new live view.

Without a position, the cheapest one is found by the insertion index
(:mod:`~lastmile.planning.live.insertion`, every other vehicle set aside); goods
on board are tried at every position one by one. For an order no position
suits, the few positions that add the least driving are tried, and the least
bad (fewest violations, then cheapest) is answered.

Positions count the route's stops (visits that serve an order) from its first,
the stops already done included: position 0 is the first stop of the day. A
stop can only go after the stops already done. Between two stops, a break or a
reload may stand: the order is put on whichever side the validator accepts, and
the cheaper one.

What cannot move at all is refused with :class:`~lastmile.exceptions.InputError`
naming the field (``order_id``, ``vehicle_id``, ``position``): an order already
served or failed, goods on board one vehicle asked onto another, a vehicle that
takes no new work, a position among the stops already done or past the end.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lastmile.domain import Order, OrderKind, Plan, Route, Unassigned, VisitKind
from lastmile.exceptions import InputError
from lastmile.planning.live.assemble import full_plan
from lastmile.planning.live.insertion import insert
from lastmile.planning.live.routes import step_of, stop_attr, timed_route, with_orders
from lastmile.planning.live.state import Track
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step
from lastmile.planning.validate import Violation, validate, validate_route

_START, _END = VisitKind.START, VisitKind.END
_JOB, _PICKUP, _DELIVERY = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


@dataclass(frozen=True)
class Move:
    """One order moved, as the validator sees it.

    ``plan`` is the full plan after the move (the current plan when no position
    could even be tried, see ``violations``); ``violations`` are the validator's,
    empty when the move is feasible, and ``view`` is then the live view after it.
    ``changed`` lists the vehicles whose routes the move changes.
    """

    order_id: str
    vehicle_id: str
    #: the vehicle the order was on (None: it was unassigned)
    from_vehicle: str | None
    #: the order's position among the stops of ``vehicle_id``'s route after the move
    position: int | None
    plan: Plan
    violations: tuple[Violation, ...]
    changed: tuple[str, ...]
    view: LiveView | None = None

    @property
    def ok(self) -> bool:
        """Whether the validator accepts the move."""
        return not self.violations


def _pseudo(track: Track, step: Step) -> bool:
    """Whether ``step`` stands for goods on board (picked up where the vehicle is)."""
    oid = step.order_id
    if oid is None:
        return False
    return oid == track.dead_load_id or (step.kind is _PICKUP and oid in track.pinned)


def _steps(route: Route | None) -> list[Step]:
    if route is None:
        return []
    return [step_of(v) for v in route.visits if v.kind not in (_START, _END)]


def _own_steps(order: Order, track: Track | None) -> list[Step]:
    """The steps of the residual ``order`` that move (goods on board stay picked up)."""
    if order.kind is not OrderKind.SHIPMENT:
        return [Step(_JOB, order_id=order.id)]
    if track is not None and order.id in track.pinned:
        return [Step(_DELIVERY, order_id=order.id)]
    return [Step(_PICKUP, order_id=order.id), Step(_DELIVERY, order_id=order.id)]


def _done_stops(track: Track) -> int:
    return sum(1 for v in track.done if v.is_task)


def _slots(track: Track, steps: list[Step], position: int | None) -> range:
    """Where among ``steps`` the moved stop may go (every place after the stops done;
    with ``position``, every place between the stops it falls between)."""
    lo = 0
    while lo < len(steps) and _pseudo(track, steps[lo]):
        lo += 1
    if position is None:
        return range(lo, len(steps) + 1)
    stops = [i for i in range(lo, len(steps)) if steps[i].order_id is not None]
    done = _done_stops(track)
    q = position - done
    if not 0 <= q <= len(stops):
        why = (
            f"the first {done} stop(s) of the route are done"
            if q < 0
            else f"the route has {done + len(stops)} stop(s) without the order"
        )
        raise InputError(
            f"{position} cannot be used: {why}; give {done} to {done + len(stops)}",
            where="position",
        )
    first = stops[q - 1] + 1 if q > 0 else lo
    last = stops[q] if q < len(stops) else len(steps)
    return range(first, last + 1)


def _position(track: Track, route: Route, order_id: str) -> int:
    """The position of ``order_id``'s (last) stop among the stops of the full route."""
    ahead = [
        v
        for v in route.visits
        if v.is_task and v.order_id is not None and not _pseudo(track, step_of(v))
    ]
    at = max(i for i, v in enumerate(ahead) if v.order_id == order_id)
    return _done_stops(track) + at


def _where(live: LiveView, order_id: str) -> tuple[str | None, str | None]:
    """The vehicle whose remaining route serves ``order_id`` and the one carrying it."""
    src = next(
        (
            r.vehicle_id
            for r in live.residual_plan.routes
            for v in r.visits
            if v.order_id == order_id
        ),
        None,
    )
    carrier = next((vid for vid, t in live.tracks.items() if order_id in t.pinned), None)
    return src, carrier


def _check_request(live: LiveView, order_id: str, vehicle_id: str) -> None:
    if vehicle_id not in {v.id for v in live.problem.vehicles}:
        raise InputError(f"vehicle {vehicle_id!r} is not one of the plan's", where="vehicle_id")
    if vehicle_id in live.unavailable:
        raise InputError(f"vehicle {vehicle_id!r} takes no new work", where="vehicle_id")
    pseudo = {t.dead_load_id for t in live.tracks.values()}
    if order_id in pseudo or order_id not in {o.id for o in live.problem.orders}:
        raise InputError(f"order {order_id!r} is not in the plan", where="order_id")
    if order_id not in {o.id for o in live.residual.orders}:
        raise InputError(
            f"order {order_id!r} is already served or failed: it cannot move", where="order_id"
        )


def move(live: LiveView, order_id: str, vehicle_id: str, position: int | None = None) -> Move:
    """``order_id`` moved to ``vehicle_id``'s route at ``position`` (None: the cheapest
    position the validator accepts), checked by the validator; see :mod:`this
    module <lastmile.planning.live.move>`."""
    _check_request(live, order_id, vehicle_id)
    src, carrier = _where(live, order_id)
    if carrier is not None and carrier != vehicle_id:
        raise InputError(
            f"order {order_id!r} is on board vehicle {carrier!r}: it cannot move to "
            "another vehicle without a transfer",
            where="vehicle_id",
        )
    residual = live.residual
    order = residual.order(order_id)
    track = live.tracks[vehicle_id]
    own = _own_steps(order, live.tracks.get(src) if src is not None else None)
    old = live.residual_plan
    routes = {r.vehicle_id: r for r in old.routes}
    if src is not None:
        kept = [s for s in _steps(routes[src]) if not (s.order_id == order_id and s in own)]
        started = live.tracks[src].started
        if started or any(s.order_id is not None for s in kept):
            routes[src] = timed_route(residual, src, kept, started)
        else:
            del routes[src]
    steps = _steps(routes.get(vehicle_id))
    changed = tuple(dict.fromkeys(v for v in (src, vehicle_id) if v is not None))
    unassigned = tuple(u for u in old.unassigned if u.order_id != order_id)

    if len(own) == 2 and position is not None:
        raise InputError(
            "a shipment has two stops (pickup and delivery): leave the position out, "
            "the cheapest feasible pair of positions is chosen",
            where="position",
        )
    slots: list[int] = list(_slots(track, steps, position))
    if position is None and len(own) == len(order.stops):
        # Not on board: the insertion index finds the cheapest position in O(stops).
        # Only when it finds none are positions tried one by one, for the
        # violations of the least bad: the few nearest ones.
        cheapest = _cheapest(live, order, vehicle_id, src, routes, old, changed)
        if cheapest.ok or len(own) == 2:
            return cheapest
        stop = getattr(order, stop_attr(order, own[0].kind))
        slots = _nearest(residual, routes.get(vehicle_id), slots, stop.location)

    # Cheapest first: the first route the validator accepts is the answer; when it
    # accepts none, the one with the fewest violations.
    at = {
        slot: timed_route(residual, vehicle_id, [*steps[:slot], *own, *steps[slot:]], track.started)
        for slot in slots
    }
    best: tuple[int, Route] | None = None
    for slot in sorted(slots, key=lambda slot: (at[slot].cost, slot)):
        route = at[slot]
        found = len(validate_route(_one_route(residual, route), route))
        if best is None or found < best[0]:
            best = (found, route)
        if not found:
            break
    assert best is not None
    routes[vehicle_id] = best[1]
    plan = Plan(tuple(routes.values()), unassigned, old.engine, old.runtime_s)
    violations = _checked(residual, plan, changed)
    new = _view(live, plan, changed)
    return Move(
        order_id,
        vehicle_id,
        src,
        _position(track, best[1], order_id),
        new.plan,
        violations,
        changed,
        new if not violations else None,
    )


def _checked(
    problem: PlanningProblem, plan: Plan, changed: tuple[str, ...]
) -> tuple[Violation, ...]:
    """The validator's violations of ``plan``, whose routes of ``changed`` vehicles are
    all that differ from a residual plan the validator accepted: those routes with
    the orders they serve are validated as a plan (every rule of a route, and the
    order-level ones for the orders on them: served once, both halves of a
    shipment on one vehicle); nothing else can have broken a rule."""
    routes = tuple(r for r in plan.routes if r.vehicle_id in changed)
    ids = sorted({v.order_id for r in routes for v in r.visits if v.order_id is not None})
    part = with_orders(problem, tuple(problem.order(oid) for oid in ids))
    return validate(part, Plan(routes)).violations


#: Positions tried for the verdict on an order no position suits.
_TRIED = 12


def _nearest(
    problem: PlanningProblem, route: Route | None, slots: list[int], location: int
) -> list[int]:
    """The :data:`_TRIED` of ``slots`` (places among the steps of ``route``) where
    calling at ``location`` adds the least driving."""
    if route is None or len(slots) <= _TRIED:
        return slots
    durations = problem.matrix_for(problem.vehicle(route.vehicle_id)).durations
    inner = [v.location for v in route.visits if v.kind not in (_START, _END)]
    first = route.visits[0].location if route.visits[0].kind is _START else None
    last = route.visits[-1].location if route.visits[-1].kind is _END else None

    def detour(slot: int) -> int:
        a = inner[slot - 1] if slot > 0 else first
        b = inner[slot] if slot < len(inner) else last
        added = 0 if a is None else int(durations[a, location])
        added += 0 if b is None else int(durations[location, b])
        return added - (int(durations[a, b]) if a is not None and b is not None else 0)

    return sorted(slots, key=lambda slot: (detour(slot), slot))[:_TRIED]


def _one_route(problem: PlanningProblem, route: Route) -> PlanningProblem:
    """``problem`` with the orders ``route`` serves only (to check it on its own)."""
    ids = sorted({v.order_id for v in route.visits if v.order_id is not None})
    return with_orders(problem, tuple(problem.order(oid) for oid in ids))


def _view(live: LiveView, plan: Plan, changed: tuple[str, ...]) -> LiveView:
    """``live`` with the residual plan ``plan`` in which only the routes of ``changed``
    vehicles differ (their indexes are dropped, their full routes redone)."""
    new = dataclasses.replace(
        live,
        residual_plan=plan,
        index={k: v for k, v in live.index.items() if k not in changed},
    )
    for vid in changed:
        new = dataclasses.replace(new, plan=full_plan(new, plan, plan.engine, only=vid))
    return new


def _cheapest(
    live: LiveView,
    order: Order,
    vehicle_id: str,
    src: str | None,
    routes: dict[str, Route],
    old: Plan,
    changed: tuple[str, ...],
) -> Move:
    """``order`` (not on board) at its cheapest position, or pair of positions, on
    ``vehicle_id``: the insertion of :mod:`~lastmile.planning.live.insertion` with
    every other vehicle set aside; ``routes`` are the residual routes without it."""
    others = {v.id for v in live.problem.vehicles if v.id != vehicle_id}
    waiting = (*(u for u in old.unassigned if u.order_id != order.id), Unassigned(order.id, "", ""))
    stripped = Plan(tuple(routes.values()), waiting, old.engine, old.runtime_s)
    off = dataclasses.replace(
        live,
        residual_plan=stripped,
        unavailable=live.unavailable | others,
        # The route it came off changed; the one it goes onto has not yet.
        index={k: v for k, v in live.index.items() if k != src},
    )
    # The problem's own order (the residual one may carry the reserved depot skill,
    # which insertion adds again where it applies).
    own = dataclasses.replace(order, skills=live.problem.order(order.id).skills)
    result = insert(off, own, known=True)
    if not isinstance(result, LiveView):
        violation = Violation(
            result.code or "no_position",
            f"order {order.id!r} fits nowhere on vehicle {vehicle_id!r}: {result.reason}",
            vehicle_id,
            order.id,
        )
        return Move(order.id, vehicle_id, src, None, live.plan, (violation,), changed)
    plan = result.residual_plan
    violations = _checked(result.residual, plan, changed)
    new = dataclasses.replace(_view(result, plan, changed), unavailable=live.unavailable)
    route = plan.route_of(vehicle_id)
    assert route is not None
    return Move(
        order.id,
        vehicle_id,
        src,
        _position(live.tracks[vehicle_id], route, order.id),
        new.plan,
        violations,
        changed,
        new if not violations else None,
    )
