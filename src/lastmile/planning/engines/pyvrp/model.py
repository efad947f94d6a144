"""lastmile's problems as PyVRP data, and PyVRP's solutions back as plans.

How lastmile's model maps onto PyVRP 0.14:

- every lastmile vehicle becomes a member of a PyVRP vehicle type; vehicles
  with identical attributes share one type (``num_available``);
- several time windows on a stop: one optional client per window in a
  required, mutually exclusive client group, so exactly one window is used;
- skills: vehicles lacking a skill get a routing profile whose edges into the
  clients needing it cost a prohibitive amount, so PyVRP never uses them while
  any alternative exists (the planner's validator is the final check);
- open routes: a dummy depot with zero-cost, zero-time edges into it (open
  end) or out of it (open start);
- travel cost: the profile's "distance" matrix carries the full edge cost
  ``cost_per_hour*duration/3600 + cost_per_km*distance/1000`` (times 1000, in
  integers), so the objective is exactly lastmile's. When a problem also caps
  the distance while charging time, the cost matrix cannot double as a distance
  matrix: then durations are charged through PyVRP's ``unit_duration_cost`` on
  the whole route duration (waiting and service included), an approximation
  the capability table states;
- waiting costs (``PlanningProblem.cost_waiting``): the cost matrix carries only
  the distance cost and ``unit_duration_cost`` charges the whole route duration,
  which is exactly lastmile's objective then (PyVRP starts a route as late as
  its first stop allows, as the scheduler does);
- ``max_tasks``: an extra load dimension where each task weighs 1;
- setup times: added to the service time of every visit. lastmile spends
  setup only when arriving from another location, so when two stops share a
  place the plan PyVRP searched over is slightly pessimistic -- never
  infeasible: arriving earlier than PyVRP assumed only adds waiting;
- reloads (multi-trip): PyVRP's reload depots.

Not modelled (the engine's ``check_supported`` raises): breaks, max travel time, max_tasks
together with shipments or reloads, several time windows on a shipment stop.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyvrp
from pyvrp.search import (
    LocalSearch,
    NeighbourhoodParams,
    PerturbationManager,
    compute_neighbours,
)
from pyvrp.stop import StoppingCriterion

from lastmile.domain import HORIZON, Order, OrderKind, Plan, Stop, Unassigned, Vehicle, VisitKind
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.travel.matrix import IntMatrix

#: Cost units per lastmile cost unit when edge costs are not whole numbers.
FINE_COST_SCALE = 1000
_INF = np.iinfo(np.int64).max
_BIG_EDGE = 10**9


@dataclass
class Lowered:
    """A PlanningProblem lowered to PyVRP data, with the maps back."""

    data: pyvrp.ProblemData
    #: PyVRP client index -> (order id, step kind)
    clients: list[tuple[str, VisitKind]] = field(default_factory=list)
    #: PyVRP shipment index -> order id
    shipments: list[str] = field(default_factory=list)
    #: PyVRP vehicle type index -> lastmile vehicles of that type
    type_vehicles: list[list[Vehicle]] = field(default_factory=list)
    #: PyVRP depot index -> lastmile depot index (None for dummy depots)
    depots: list[int | None] = field(default_factory=list)
    #: PyVRP cost units per lastmile cost unit
    cost_scale: int = 1


def cost_scale(problem: PlanningProblem) -> int:
    """1 when every edge cost is a whole number, else a finer integer scale.

    PyVRP's penalties for excess load and lateness are bounded; keeping costs
    at their natural scale keeps those penalties strong enough to matter.
    """
    whole = all(
        v.type.cost_per_hour % 3600 == 0 and v.type.cost_per_km % 1000 == 0
        for v in problem.vehicles
    )
    return 1 if whole else FINE_COST_SCALE


def _window(stop: Stop) -> tuple[int, int]:
    if not stop.time_windows:
        return 0, _INF
    w = stop.time_windows[0]
    return w.start, (w.end if w.end < HORIZON else _INF)


def _vehicle_key(v: Vehicle) -> tuple[object, ...]:
    return (
        v.type,
        v.start_depot,
        v.end_depot,
        v.shift,
        v.max_duration,
        v.max_distance,
        v.max_tasks,
        v.reload_depots,
        v.max_reloads,
    )


def lower(problem: PlanningProblem, *, prize_collecting: bool) -> Lowered:
    """Translate ``problem`` to PyVRP's ProblemData (see the module docstring).

    ``prize_collecting``: orders are optional with a prize larger than any route
    cost (see :class:`~lastmile.planning.engines.pyvrp.PyVRPEngine`).
    """
    f = problem.features
    # Stops of orders needing a skill get a private copy of their location
    # (same matrix row and column), so that blocking them for vehicles
    # without the skill never blocks another order at the same place.
    src = list(range(len(problem.locations)))
    shared = Counter(s.location for o in problem.orders for s in o.stops)
    shared.update(d.location for d in problem.depots)
    place: dict[tuple[str, int], int] = {}
    for o in problem.orders:
        for k, stop in enumerate(o.stops):
            if o.skills and shared[stop.location] > 1:
                place[o.id, k] = len(src)
                src.append(stop.location)
            else:
                place[o.id, k] = stop.location
    n_loc = len(src)
    opens_start = any(v.start_depot is None for v in problem.vehicles)
    opens_end = any(v.end_depot is None for v in problem.vehicles)
    dummy_start = n_loc if opens_start else None
    dummy_end = n_loc + int(opens_start) if opens_end else None
    n_all = n_loc + int(opens_start) + int(opens_end)

    locations = [
        pyvrp.Location(
            x=float(problem.locations[i].lon or 0.0), y=float(problem.locations[i].lat or 0.0)
        )
        for i in src
    ] + [pyvrp.Location(x=0.0, y=0.0)] * (n_all - n_loc)

    count_tasks = Feature.MAX_TASKS in f
    ndim = len(problem.dimensions) + int(count_tasks)
    lowered = Lowered(data=None)  # type: ignore[arg-type]
    scale = lowered.cost_scale = cost_scale(problem)
    # Loads in the same scaled units as times and distances (as pyvrp.read
    # does for DIMACS-rounded instances), so PyVRP's load penalties keep the
    # proportion to travel costs its penalty manager is tuned for.
    load_scale = problem.time_scale

    # Depots: every lastmile depot, then the dummies.
    depots = [
        pyvrp.Depot(
            location=d.location,
            tw_early=d.time_window.start,
            tw_late=d.time_window.end if d.time_window.end < HORIZON else _INF,
            service_duration=d.reload_time,
            name=d.id,
        )
        for d in problem.depots
    ]
    lowered.depots = list(range(len(problem.depots)))
    dummy_start_depot = dummy_end_depot = None
    if dummy_start is not None:
        dummy_start_depot = len(depots)
        depots.append(pyvrp.Depot(location=dummy_start, name="open start"))
        lowered.depots.append(None)
    if dummy_end is not None:
        dummy_end_depot = len(depots)
        depots.append(pyvrp.Depot(location=dummy_end, name="open end"))
        lowered.depots.append(None)

    # Clients, groups and shipments.
    clients: list[pyvrp.Client] = []
    groups: list[pyvrp.ClientGroup] = []
    shipments: list[pyvrp.Shipment] = []
    # PyVRP's search finds reload trips only when excess load pushes it
    # there, which optional orders never do: multi-trip problems require
    # every order (the planner's repair step then handles over-full days).
    prize_collecting = (prize_collecting and Feature.RELOADS not in f) or Feature.PRIORITIES in f
    prize_unit = _prize_unit(problem, scale) if prize_collecting else 0
    for order in problem.orders:
        amount = [a * load_scale for a in problem.amount(order)] + ([1] if count_tasks else [])
        zero = [0] * ndim
        prize = (order.priority + 1) * prize_unit
        if order.kind is OrderKind.SHIPMENT:
            p, d = order.pickup, order.delivery
            assert p is not None and d is not None
            pe, pl = _window(p)
            de, dl = _window(d)
            shipments.append(
                pyvrp.Shipment(
                    pickup_location=place[order.id, 0],
                    delivery_location=place[order.id, 1],
                    pickup_tw_early=pe,
                    pickup_tw_late=pl,
                    pickup_service_duration=p.service + p.setup,
                    delivery_tw_early=de,
                    delivery_tw_late=dl,
                    delivery_service_duration=d.service + d.setup,
                    amount=amount,
                    prize=prize,
                    required=not prize_collecting,
                    name=order.id,
                )
            )
            lowered.shipments.append(order.id)
            continue
        stop = order.single_stop
        delivery = amount if order.kind is OrderKind.DELIVERY else zero
        pickup = amount if order.kind is OrderKind.PICKUP else zero
        if count_tasks and order.kind is OrderKind.PICKUP:
            # The task counter is a delivery-side dimension for every kind.
            pickup = [*amount[:-1], 0]
            delivery = [0] * (ndim - 1) + [1]
        windows = stop.time_windows or ()
        if len(windows) <= 1:
            early, late = _window(stop)
            clients.append(
                pyvrp.Client(
                    location=place[order.id, 0],
                    delivery=delivery,
                    pickup=pickup,
                    service_duration=stop.service + stop.setup,
                    tw_early=early,
                    tw_late=late,
                    prize=prize,
                    required=not prize_collecting,
                    name=order.id,
                )
            )
            lowered.clients.append((order.id, VisitKind.JOB))
            continue
        members = []
        for w in windows:
            members.append(len(clients))
            clients.append(
                pyvrp.Client(
                    location=place[order.id, 0],
                    delivery=delivery,
                    pickup=pickup,
                    service_duration=stop.service + stop.setup,
                    tw_early=w.start,
                    tw_late=w.end if w.end < HORIZON else _INF,
                    prize=prize,
                    required=False,
                    group=len(groups),
                    name=order.id,
                )
            )
            lowered.clients.append((order.id, VisitKind.JOB))
        groups.append(pyvrp.ClientGroup(members, required=not prize_collecting))

    # Vehicle types and the profiles they need.
    by_key: dict[tuple[object, ...], list[Vehicle]] = {}
    for v in problem.vehicles:
        by_key.setdefault(_vehicle_key(v), []).append(v)
    profile_index: dict[tuple[object, ...], int] = {}
    dist_mats: list[IntMatrix] = []
    dur_mats: list[IntMatrix] = []
    use_cost_matrix = Feature.MAX_DISTANCE not in f
    # Time charged on the route's duration (waiting included) rather than on its edges.
    per_duration = not use_cost_matrix or Feature.WAITING_COSTS in f
    vehicle_types: list[pyvrp.VehicleType] = []
    durations_of: dict[str, IntMatrix] = {}
    for vehicles in by_key.values():
        v = vehicles[0]
        t = v.type
        forbidden = tuple(
            sorted(
                place[o.id, k]
                for o in problem.orders
                if not o.skills <= t.skills
                for k in range(len(o.stops))
            )
        )
        edge_per_hour = 0 if per_duration else t.cost_per_hour
        pkey = (t.profile, edge_per_hour, t.cost_per_km, forbidden)
        if pkey not in profile_index:
            profile_index[pkey] = len(dist_mats)
            dist, dur = _profile_matrices(
                problem,
                np.asarray(src),
                t.profile,
                edge_per_hour,
                t.cost_per_km,
                forbidden,
                n_all,
                dummy_start,
                dummy_end,
                use_cost_matrix,
                scale,
                durations_of,
            )
            dist_mats.append(dist)
            dur_mats.append(dur)
        capacity = [c * load_scale for c in v.capacity] + (
            [v.max_tasks or 0] if count_tasks else []
        )
        if count_tasks and v.max_tasks is None:
            capacity[-1] = len(problem.orders)
        start = v.start_depot if v.start_depot is not None else dummy_start_depot
        end = v.end_depot if v.end_depot is not None else dummy_end_depot
        assert start is not None and end is not None
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(vehicles),
                capacity=capacity,
                start_depot=start,
                end_depot=end,
                fixed_cost=t.fixed_cost * scale,
                tw_early=v.shift.start,
                tw_late=v.shift.end if v.shift.end < HORIZON else _INF,
                shift_duration=v.max_duration if v.max_duration is not None else _INF,
                max_distance=v.max_distance if v.max_distance is not None else _INF,
                unit_distance_cost=1 if use_cost_matrix else t.cost_per_km * scale // 1000,
                unit_duration_cost=round(t.cost_per_hour * scale / 3600) if per_duration else 0,
                profile=profile_index[pkey],
                reload_depots=list(v.reload_depots),
                max_reloads=v.max_reloads if v.max_reloads is not None else _INF,
                name=v.id,
            )
        )
        lowered.type_vehicles.append(vehicles)

    lowered.data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=cast(Any, dist_mats),
        duration_matrices=cast(Any, dur_mats),
        groups=groups,
        shipments=shipments,
    )
    return lowered


def _prize_unit(problem: PlanningProblem, scale: int) -> int:
    """A prize larger than any single order's insertion cost."""
    worst = 0
    longest = {
        name: (int(m.durations.max()), int(m.distances.max()))
        for name, m in problem.matrices.items()
    }
    # Waiting costs: one more order may make a route wait, at most for its whole span.
    waiting_s = _longest_span(problem) if Feature.WAITING_COSTS in problem.features else 0
    for t in {v.type for v in problem.vehicles}:
        seconds, metres = longest[t.profile]
        edge = t.cost_per_hour * seconds / 3600 + t.cost_per_km * metres / 1000
        # Serving one more order costs at most a detour via a reload depot.
        worst = max(worst, int(4 * edge + t.fixed_cost + t.cost_per_hour * waiting_s / 3600) + 1)
    return worst * scale


def _longest_span(problem: PlanningProblem) -> int:
    """The longest a route can last: its shift, or up to the last window closing."""
    closing = [
        w.end for o in problem.orders for s in o.stops for w in s.time_windows if w.end < HORIZON
    ]
    last = max(closing, default=0)
    spans = []
    for v in problem.vehicles:
        end = v.shift.end if v.shift.end < HORIZON else last
        spans.append(max(0, end - v.shift.start))
    return max(spans, default=0)


def _profile_matrices(
    problem: PlanningProblem,
    src: npt.NDArray[np.intp],
    profile: str,
    per_hour: int,
    per_km: int,
    blocked: Sequence[int],
    n_all: int,
    dummy_start: int | None,
    dummy_end: int | None,
    use_cost_matrix: bool,
    scale: int,
    durations_of: dict[str, IntMatrix],
) -> tuple[IntMatrix, IntMatrix]:
    """The distance (or edge cost) and duration matrices of one vehicle profile.

    Durations depend on the road profile only: they are made once per profile
    (``durations_of``) and shared. Large days have millions of cells per
    matrix, so the arithmetic is done in place, on views where it can be.
    """
    m = problem.matrices[profile]
    n = len(src)
    whole = n == m.durations.shape[0] and bool(np.array_equal(src, np.arange(n)))

    def part(matrix: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return matrix if whole else matrix[np.ix_(src, src)]

    def padded(values: npt.NDArray[Any]) -> IntMatrix:
        out = np.zeros((n_all, n_all), dtype=np.int64)
        out[:n, :n] = values
        return out

    dur = durations_of.get(profile)
    if dur is None:
        dur = padded(part(m.durations))
        for dummy, into in ((dummy_start, False), (dummy_end, True)):
            if dummy is None:
                continue
            # Free to enter an open end / leave an open start; never the reverse.
            if into:
                dur[dummy, :] = _BIG_EDGE
            else:
                dur[:, dummy] = _BIG_EDGE
            dur[dummy, dummy] = 0
        durations_of[profile] = dur
    if use_cost_matrix:
        per_s, per_m = per_hour * scale / 3600, per_km * scale / 1000
        if per_s == int(per_s) and per_m == int(per_m):
            dist = padded(part(m.distances))
            view = dist[:n, :n]
            view *= int(per_m)
            if per_s:
                view += int(per_s) * part(m.durations)
        else:
            cost = part(m.durations).astype(np.float64)
            cost *= per_s
            cost += per_m * part(m.distances)
            np.rint(cost, out=cost)
            dist = padded(cost)
    else:
        dist = padded(part(m.distances))
    for dummy, into in ((dummy_start, False), (dummy_end, True)):
        if dummy is None:
            continue
        if into:
            dist[dummy, :] = _BIG_EDGE
        else:
            dist[:, dummy] = _BIG_EDGE
        dist[dummy, dummy] = 0
    if blocked:
        # Places private to orders this vehicle type may not serve.
        cols = list(blocked)
        dist[:, cols] = np.maximum(dist[:, cols], _BIG_EDGE)
        dist[cols, cols] = 0
    return dist, dur


# -- solving ----------------------------------------------------------------------


#: PyVRP's penalties start at this share of their bound (PyVRP's own start: half).
#: From half the bound (50,000 times a second's driving cost per second late)
#: they fall by 10 % per 500 solutions while most are feasible, so a search of a
#: few thousand iterations never sees an infeasible solution and stalls in its
#: start plan's neighbourhood (see docs/benchmarks.md, "Over-full days"). Starting
#: low, the bound left as it is, they climb by half per update again when
#: too few are feasible: a day over-full through its windows is still pressed
#: towards plans that keep their windows.
START_PENALTY_SHARE = 5e-4
#: The longest PyVRP's penalties go without an update, seconds. PyVRP updates them
#: every 500 solutions, about a second on a 200-order day on this machine; a search
#: on a day of several hundred orders with tight windows makes 20-60 solutions a
#: second (suburbs-600-s107: 99 and 165 in its two workers' 10 s searches), so its
#: penalties never moved from their low start, every solution stayed infeasible and
#: neither worker improved on its start plan. With this, a slow search updates them
#: as often as a fast one (docs/benchmarks.md, "lastmile's PyVRP engine against
#: PyVRP called directly").
PENALTY_UPDATE_S = 1.0


def max_penalty(lowered: Lowered) -> float:
    """The bound on PyVRP's penalties, in the lowered cost units."""
    return 100_000.0 * lowered.cost_scale


@dataclass
class StartedPenaltyParams(pyvrp.PenaltyParams):
    """PyVRP's penalty parameters, the penalties starting at ``start`` instead of
    midway between their bounds."""

    start: float = 50.0

    def midpoint_penalties(self, data: pyvrp.ProblemData) -> tuple[list[float], float, float]:
        start = min(max(self.start, self.min_penalty), self.max_penalty)
        return ([start] * data.num_load_dimensions, start, start)


class TimedPenaltyManager(pyvrp.PenaltyManager):
    """PyVRP's penalty manager, also updating a penalty once ``every_s`` seconds
    have passed since its last update, however few solutions were registered."""

    def __init__(
        self,
        initial_penalties: tuple[list[float], float, float],
        params: pyvrp.PenaltyParams,
        every_s: float = PENALTY_UPDATE_S,
    ) -> None:
        super().__init__(initial_penalties, params)
        self.every_s = every_s
        self._updated = [time.perf_counter()] * len(self._viol_lists)
        self.updates = 0

    def _register(self, idx: int, violation: int) -> None:
        viol_list = self._viol_lists[idx]
        now = time.perf_counter()
        if (
            len(viol_list) + 1 < self._params.solutions_between_updates
            and now - self._updated[idx] < self.every_s
        ):
            viol_list.append(violation)
            return
        viol_list.append(violation)
        self._updated[idx] = now
        self.updates += 1
        feasible = sum(v == 0 for v in viol_list) / len(viol_list)
        self._prev_avg_violations[idx] = sum(viol_list) / len(viol_list)
        viol_list.clear()
        self._penalties[idx] = self._compute(self._penalties[idx], feasible)


def search(
    data: pyvrp.ProblemData,
    stop: StoppingCriterion,
    *,
    seed: int,
    params: pyvrp.SolveParams,
    initial_solution: pyvrp.Solution | None = None,
    update_s: float = PENALTY_UPDATE_S,
) -> pyvrp.Result:
    """``pyvrp.solve`` (PyVRP 0.14's, step for step, without statistics), its
    penalties managed by :class:`TimedPenaltyManager` (updated at least every
    ``update_s`` seconds)."""
    rng = pyvrp.RandomNumberGenerator(seed=seed)
    neighbours = compute_neighbours(data, scaled_neighbourhood(data, params.neighbourhood))
    ls = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    pm = TimedPenaltyManager(params.penalty.midpoint_penalties(data), params.penalty, update_s)
    init = initial_solution
    if init is None:
        random = pyvrp.Solution.make_random(data, rng)
        init = ls(random, pm.max_cost_evaluator(), exhaustive=True)
    algo = pyvrp.IteratedLocalSearch(data, pm, ls, init, params.ils)
    return algo.run(stop, collect_stats=False, display=False)


#: Rows of the matrices sampled to measure a problem's cost of a second's driving.
_RATE_ROWS = 64


def cost_per_second(data: pyvrp.ProblemData) -> float:
    """What a second of driving costs in ``data``'s cost units: the median over
    vehicle types of the median edge cost per second of its duration, on a sample
    of rows (blocked and zero-length edges aside); 1.0 when nothing can be measured.
    """
    n = data.num_locations
    rows = np.unique(np.linspace(0, n - 1, num=min(n, _RATE_ROWS)).astype(np.int64))
    rates: list[float] = []
    for vt in data.vehicle_types():
        dist = np.asarray(data.distance_matrix(vt.profile))[rows]
        dur = np.asarray(data.duration_matrix(vt.profile))[rows]
        usable = (dur > 0) & (dist < _BIG_EDGE)
        if not usable.any():
            continue
        cost = vt.unit_distance_cost * dist[usable] + vt.unit_duration_cost * dur[usable]
        rates.append(float(np.median(cost / dur[usable])))
    rate = float(np.median(rates)) if rates else 1.0
    return rate if rate > 0 else 1.0


def scaled_neighbourhood(
    data: pyvrp.ProblemData, params: NeighbourhoodParams | None = None
) -> NeighbourhoodParams:
    """``params`` with the weight of waiting in cost units of ``data``.

    PyVRP ranks a client's neighbours by edge cost plus ``weight_wait_time`` times
    the least waiting between them, in seconds: its default weight (0.2) is meant for
    instances where a unit of cost is a unit of time. Here a second's driving may cost
    1,000 units (fine cost scale) or more: with the default weight the neighbourhoods
    ignore time windows. On compact-1000-s110 (tight windows, 10 s) a search with the
    weight scaled found 21 routes for 567,405 where the default found 27 for 669,058.
    """
    params = params if params is not None else NeighbourhoodParams()
    return NeighbourhoodParams(
        weight_wait_time=params.weight_wait_time * cost_per_second(data),
        num_neighbours=params.num_neighbours,
        symmetric_proximity=params.symmetric_proximity,
    )


def penalty_params(max_penalty: float) -> pyvrp.PenaltyParams:
    """PyVRP's penalty parameters bounded by ``max_penalty``, starting at
    :data:`START_PENALTY_SHARE` of it."""
    return StartedPenaltyParams(max_penalty=max_penalty, start=START_PENALTY_SHARE * max_penalty)


def solve_params(lowered: Lowered) -> pyvrp.SolveParams:
    """PyVRP's search parameters for ``lowered``."""
    return pyvrp.SolveParams(penalty=penalty_params(max_penalty(lowered)))


def to_plan(problem: PlanningProblem, lowered: Lowered, solution: pyvrp.Solution) -> Plan:
    """Map a PyVRP solution back to a lastmile plan."""
    next_vehicle = [0] * len(lowered.type_vehicles)
    served: set[str] = set()
    routes = []
    for route in solution.routes():
        vt = route.vehicle_type()
        vehicle = lowered.type_vehicles[vt][next_vehicle[vt]]
        next_vehicle[vt] += 1
        steps: list[Step] = []
        activities = list(route)
        for k, act in enumerate(activities):
            if act.is_depot():
                if 0 < k < len(activities) - 1:
                    depot = lowered.depots[act.idx]
                    steps.append(Step(VisitKind.RELOAD, depot=depot))
                continue
            if act.is_client():
                oid, kind = lowered.clients[act.idx]
                steps.append(Step(kind, order_id=oid))
            else:
                oid = lowered.shipments[act.idx]
                kind = VisitKind.PICKUP if act.is_pickup() else VisitKind.DELIVERY
                steps.append(Step(kind, order_id=oid))
            served.add(oid)
        routes.append(build_route(problem, vehicle, steps))
    unassigned = tuple(
        Unassigned(o.id, "not planned by pyvrp", "engine")
        for o in problem.orders
        if o.id not in served
    )
    return Plan(tuple(routes), unassigned, "pyvrp")


def initial_solution(
    problem: PlanningProblem, lowered: Lowered, plan: Plan
) -> pyvrp.Solution | None:
    """A PyVRP solution equal to ``plan``, or None if it cannot be expressed."""
    client_of: dict[str, list[int]] = {}
    for i, (oid, _) in enumerate(lowered.clients):
        client_of.setdefault(oid, []).append(i)
    shipment_of = {oid: i for i, oid in enumerate(lowered.shipments)}
    type_of = {v.id: t for t, vehicles in enumerate(lowered.type_vehicles) for v in vehicles}
    routes = []
    for route in plan.routes:
        acts = []
        for visit in route.visits:
            if visit.order_id is None:
                if visit.kind is VisitKind.RELOAD and visit.depot is not None:
                    acts.append(pyvrp.Activity(pyvrp.ActivityType.DEPOT, visit.depot))
                continue
            order = problem.order(visit.order_id)
            if visit.kind is VisitKind.JOB:
                idx = _client_for_visit(order, visit.start, client_of[order.id], lowered)
                acts.append(pyvrp.Activity(pyvrp.ActivityType.CLIENT, idx))
            else:
                kind = (
                    pyvrp.ActivityType.PICKUP
                    if visit.kind is VisitKind.PICKUP
                    else pyvrp.ActivityType.DELIVERY
                )
                acts.append(pyvrp.Activity(kind, shipment_of[order.id]))
        if acts:
            try:  # PyVRP refuses e.g. a delivery before its pickup
                routes.append(pyvrp.Route(lowered.data, acts, type_of[route.vehicle_id]))
            except (RuntimeError, ValueError):
                return None
    try:
        return pyvrp.Solution(lowered.data, routes)
    except (RuntimeError, ValueError):
        return None


def _client_for_visit(order: Order, start: int, candidates: list[int], lowered: Lowered) -> int:
    if len(candidates) == 1:
        return candidates[0]
    for idx in candidates:
        c = lowered.data.clients()[idx]
        if c.tw_early <= start <= c.tw_late:
            return idx
    return candidates[0]
