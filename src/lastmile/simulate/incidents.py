"""What happens to a simulated day besides the plan: drawn once, from the seed.

:func:`schedule_incidents` draws the day's breakdowns, road closures and
urgent orders from :class:`~lastmile.simulate.twin.TwinConfig`'s counts:

* a **breakdown** strikes a vehicle that has a route, somewhere between 10 %
  and 70 % of its planned duration (so it is on the road);
* a **road closure** starts at a random time in the incident window and lasts
  ``closure_s``; which road is decided when it starts (on the leg some vehicle
  on the road drives next);
* an **urgent order** arrives at a random time in the incident window, at an
  address already in the day (a neighbour of a customer, a shop handing over a
  parcel: the matrices have no other places): half are pickups (a customer's
  return), half shipments from one address to another; both are due within
  ``urgent_window_s`` of their arrival. Deliveries from the depot are not
  drawn: vehicles already out could not carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lastmile.domain import Order, OrderKind, Plan, Stop, TimeWindow
from lastmile.planning.problem import PlanningProblem

BREAKDOWN = "breakdown"
ROAD_CLOSED = "road_closed"
URGENT_ORDER = "urgent_order"


@dataclass(frozen=True, slots=True)
class Scheduled:
    """An incident due at ``t``: ``vehicle_id`` for a breakdown, ``order`` for an urgent order."""

    t: int
    kind: str
    vehicle_id: str | None = None
    order: Order | None = None


def schedule_incidents(
    problem: PlanningProblem,
    plan: Plan,
    *,
    breakdowns: int,
    road_closures: int,
    urgent_orders: int,
    window: tuple[int, int],
    urgent_window_s: int,
    urgent_service_s: int,
    rng: np.random.Generator,
) -> list[Scheduled]:
    """The day's incidents in time order (see the module docstring)."""
    out: list[Scheduled] = []
    routes = [r for r in plan.routes if r.tasks]
    if breakdowns and routes:
        picked = rng.choice(len(routes), size=min(breakdowns, len(routes)), replace=False)
        for i in sorted(int(k) for k in picked):
            route = routes[i]
            t = route.start_time + int(rng.uniform(0.1, 0.7) * route.duration)
            out.append(Scheduled(t, BREAKDOWN, vehicle_id=route.vehicle_id))
    start, end = window
    for _ in range(road_closures):
        out.append(Scheduled(int(rng.integers(start, end + 1)), ROAD_CLOSED))
    customers = sorted({s.location for o in problem.orders for s in o.stops})
    known = {o.id for o in problem.orders}
    for k in range(urgent_orders):
        t = int(rng.integers(start, end + 1))
        if not customers:
            break
        oid = f"urgent-{k + 1:03d}"
        while oid in known:
            oid += "+"
        like = problem.orders[int(rng.integers(len(problem.orders)))]
        amount = problem.amount(like)
        due = (TimeWindow(t, t + urgent_window_s),)
        here = int(customers[int(rng.integers(len(customers)))])
        if rng.uniform() < 0.5:
            order = Order(
                oid,
                OrderKind.PICKUP,
                pickup=Stop(here, service=urgent_service_s, time_windows=due, ref=oid),
                amount=amount,
            )
        else:
            there = int(customers[int(rng.integers(len(customers)))])
            order = Order(
                oid,
                OrderKind.SHIPMENT,
                pickup=Stop(here, service=urgent_service_s, time_windows=due, ref=f"{oid}-p"),
                delivery=Stop(there, service=urgent_service_s, time_windows=due, ref=f"{oid}-d"),
                amount=amount,
            )
        out.append(Scheduled(t, URGENT_ORDER, order=order))
    out.sort(key=lambda s: (s.t, s.kind, s.vehicle_id or "", s.order.id if s.order else ""))
    return out
