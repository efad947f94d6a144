# OR-Tools' SWIG stubs declare no types; every call into them is untyped.
# mypy: disable-error-code="no-untyped-call"
"""OR-Tools routing (constraint programming + guided local search) behind the engine protocol.

How lastmile's model maps onto ``ortools.constraint_solver`` (OR-Tools 9.15):

- nodes: one per order stop (a shipment has two), one per depot used as a
  start or an end, one dummy node with zero travel to and from it standing
  for the open end (or open start) of open routes, and the reload nodes (see
  reloads below);
- time: a ``time`` dimension whose cumul at a stop is the moment its setup is
  done (service start + setup actually spent). The transit of arc i->j is
  ``service(i) + duration(i, j) + setup(j)`` where ``setup(j)`` counts only when
  i and j are at different locations -- exactly the shared semantics, arc by
  arc. Slack is waiting. A stop's windows constrain service start = cumul -
  setup spent: when no other node shares the stop's location the setup is always
  spent and the windows (shifted by setup) are the cumul's domain, with the gaps
  between windows removed; otherwise a small constraint on the stop's
  predecessor (``NextVar`` of its co-located nodes) decides whether setup is
  spent, and the service start variable carries the windows;
- shifts and depots: the start cumul is the departure (>= shift start and the
  start depot's opening), the end cumul the arrival at the end depot (or the last
  departure of an open route), <= shift end and the end depot's closing;
  ``max_duration`` is the span upper bound;
- capacities: one dimension per capacity dimension with deliveries as negative
  and pickups as positive demand and a free start cumul (the load on leaving
  the depot). When delivery and pickup jobs are mixed, a second dimension sums
  the route's deliveries and the start load is tied to it, so the vehicle
  really leaves with everything it delivers;
- shipments: ``AddPickupAndDelivery`` (OR-Tools then keeps the pickup before
  the delivery on the path) plus same vehicle and both or neither performed;
- skills: the stop's ``VehicleVar`` restricted to capable vehicles; orders no
  vehicle can serve are not modelled and come back unassigned;
- unassigned orders: every order is optional (``AddDisjunction``) with a
  penalty above the cost of any solution, so serving an order always wins when
  feasible; with priorities the penalty grows with the priority so that the
  total priority served comes first, then the number of orders, then the cost;
- breaks: optional interval variables, performed iff the vehicle is used, whose
  start variable carries every window of the break (several windows are
  modelled exactly: gaps removed from the domain), given to OR-Tools' vehicle
  break constraint. Its model is the shared one: a break is taken on the way to
  the next stop (it may cut the drive), never during service, and its time comes
  out of the slack. Added: a used vehicle's breaks lie within its route, and a
  break never overlaps a stop's setup (see :func:`_add_breaks`);
- reloads (multi-trip): each vehicle with reload depots gets, per reload
  depot, optional reload nodes of its own (``max_reloads`` of them, or as many
  as its capacity could ever need, see :func:`_reload_count`) at the depot's
  location, with the depot's ``reload_time`` as service and its opening hours
  as window. On a load dimension a reload node's transit is minus the
  vehicle's capacity and its slack (zero everywhere else) is free, so the load
  after a reload is chosen afresh; at every node the load is at least the
  trip's deliveries still to make (a ``trips_<k>`` dimension that only delivery
  jobs decrease and that restarts alike) plus the shipments on board (a
  ``shipments_<k>`` dimension), so pickup jobs are unloaded and shipments stay
  on board, as the validator counts them. Breaks combine with reloads: the reload's time is
  visit time the break cannot overlap;
- ``max_travel_time``, ``max_distance`` and ``max_tasks``: one dimension each
  (driving time, metres, stops) with the limit as the vehicle's capacity;
- costs: the arc cost of vehicle v is ``cost_per_hour*duration*1000 +
  cost_per_km*distance*3600`` (divided by a common factor), an exact integer
  multiple of the objective; fixed costs scaled alike. With waiting costs
  (``PlanningProblem.cost_waiting``) the arcs carry only the distance term and
  the time dimension's span cost coefficient charges ``cost_per_hour*1000`` (same
  factor) per second of route duration. Reported costs come from
  :func:`~lastmile.planning.problem.route_cost` on the final routes.

Every feature of :class:`~lastmile.planning.problem.Feature` is modelled.

Search: PARALLEL_CHEAPEST_INSERTION for the first solution (the most reliable
here: path-building strategies stall on the cross-dimension load constraint),
then guided local search until the time limit, which counts model building and
keeps a margin for writing the plan. OR-Tools' LP/MIP cumul schedulers are
switched off: they place breaks by their own rule, which the extra break
constraints then reject, and the finalizer crawls through values. The times
OR-Tools settles on are only a proof of feasibility: each route is rescheduled
with :func:`~lastmile.planning.schedule.build_route` from the departure that
finishes earliest, then leaves latest (bisection over departures, see
:func:`_best_schedule`). OR-Tools routing has no random seed: with the same
problem it follows the same path, so ``seed`` is accepted and ignored; only
where the time limit cuts the search differs between runs. An ``initial`` plan
(from another engine) is read with ``ReadAssignmentFromRoutes`` and improved;
if the model rejects it, the search starts from scratch.

Scale: model building is linear in the stops per vehicle class and quadratic in
nodes for the matrices; the first solution takes seconds from a few hundred
stops on rich problems (city_day with 400 orders: about 15 s), so for large
problems start OR-Tools from another engine's plan.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from lastmile.domain import (
    HORIZON,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VisitKind,
)
from lastmile.exceptions import SolveError
from lastmile.planning.construct import greedy_plan
from lastmile.planning.engines.base import BaseEngine
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.travel.matrix import IntMatrix

#: Seconds kept aside from the time limit for turning the solution into a plan:
#: a fixed part and a part per stop (scheduling each route), at most a quarter.
_MARGIN_S = 0.05
_MARGIN_PER_STOP_S = 0.001
#: The arc cost scale: cost_per_hour * s / 3600 + cost_per_km * m / 1000, times this.
_COST_SCALE = 3_600_000
#: Penalties summed over all orders stay below this (the objective is an int64).
_PENALTY_CEILING = 2**61
_UNASSIGNED_REASON = "not served in the OR-Tools solution found within the time limit"


@dataclass(frozen=True, slots=True)
class _StopNode:
    """One order stop as an OR-Tools node."""

    order: Order
    kind: VisitKind
    stop: Stop


@dataclass
class _Model:
    """A PlanningProblem lowered to an OR-Tools routing model, with the maps back."""

    manager: Any
    routing: Any
    time_dim: Any
    #: stop nodes first (node id = position), then depot nodes, the dummy node, reload nodes
    stops: list[_StopNode]
    #: lastmile vehicles in the model, by OR-Tools vehicle index
    vehicles: list[Vehicle]
    #: (order id, step kind) -> node id
    node_of: dict[tuple[str, VisitKind], int]
    #: service time per node (0 for depots and the dummy)
    service: list[int]
    #: OR-Tools vehicle index -> [(break id, interval var)]
    breaks: dict[int, list[tuple[str, Any]]] = field(default_factory=dict)
    #: orders left out of the model (no vehicle can serve them), with the reason
    excluded: dict[str, str] = field(default_factory=dict)
    #: reload node -> depot index
    reload_depot: dict[int, int] = field(default_factory=dict)
    #: (OR-Tools vehicle index, depot index) -> that vehicle's reload nodes there
    reload_nodes: dict[tuple[int, int], list[int]] = field(default_factory=dict)


class ORToolsEngine(BaseEngine):
    """OR-Tools' routing solver: exact on every feature, breaks with reloads included."""

    name: ClassVar[str] = "ortools"
    capabilities: ClassVar[frozenset[Feature]] = frozenset(Feature)

    #: Local search metaheuristics by name (OR-Tools' ``LocalSearchMetaheuristic``).
    METAHEURISTICS: ClassVar[tuple[str, ...]] = (
        "GUIDED_LOCAL_SEARCH",
        "SIMULATED_ANNEALING",
        "TABU_SEARCH",
    )

    def __init__(self, *, metaheuristic: str = "GUIDED_LOCAL_SEARCH") -> None:
        if metaheuristic not in self.METAHEURISTICS:
            known = ", ".join(self.METAHEURISTICS)
            raise ValueError(f"unknown metaheuristic {metaheuristic!r}; choose one of {known}")
        self.metaheuristic = metaheuristic

    def solve(
        self,
        problem: PlanningProblem,
        *,
        time_limit: float,
        seed: int = 0,
        initial: Plan | None = None,
    ) -> Plan:
        """Plan ``problem`` within ``time_limit`` seconds (model building included).

        ``seed`` is accepted for the protocol; OR-Tools routing is deterministic
        (see the module docstring). ``initial`` is a plan to improve. Large
        problems start from the greedy construction rather than OR-Tools' own
        first solution (see :data:`GREEDY_START_STOPS`); when even building the
        model would not fit in the time (:func:`build_seconds`), the plan at hand
        (``initial``, or the greedy one) comes back as it is, named after the
        engine that made it.
        """
        began = time.perf_counter()
        deadline = began + time_limit
        self.check_supported(problem)
        if self.first_plan_seconds(problem) > BUILD_SHARE * time_limit:
            return _at_hand(problem, initial, deadline, began)
        model = _build(problem)
        if not model.vehicles:
            unassigned = tuple(
                Unassigned(o.id, "no vehicle can leave its depot within its shift", "engine")
                for o in problem.orders
            )
            return Plan((), unassigned, self.name, time.perf_counter() - began)
        if initial is None and len(model.stops) >= GREEDY_START_STOPS:
            initial = greedy_plan(problem, deadline=began + time_limit / 2)
        routing = model.routing
        solution = None
        if initial is not None:
            routing.CloseModelWithParameters(
                _search_parameters(model, deadline - time.perf_counter(), self.metaheuristic)
            )
            start = _read_initial(model, initial)
            if start is not None:
                params = _search_parameters(
                    model, deadline - time.perf_counter(), self.metaheuristic
                )
                solution = routing.SolveFromAssignmentWithParameters(start, params) or start
        if solution is None and deadline - time.perf_counter() > _MARGIN_S:
            params = _search_parameters(model, deadline - time.perf_counter(), self.metaheuristic)
            solution = routing.SolveWithParameters(params)
        if solution is None:
            if initial is not None or len(model.stops) >= GREEDY_START_STOPS:
                return _at_hand(problem, initial, deadline, began)
            raise SolveError(
                f"OR-Tools found no solution for {problem.name or 'the problem'} "
                f"(status {routing.status()})"
            )
        plan = _to_plan(problem, model, solution)
        return Plan(plan.routes, plan.unassigned, self.name, time.perf_counter() - began)

    def first_plan_seconds(self, problem: PlanningProblem) -> float:
        """Estimated seconds to build the model (:func:`build_seconds`)."""
        return build_seconds(problem)


#: Stops from which OR-Tools starts from the greedy construction: its own first
#: solution (parallel cheapest insertion) takes seconds from a few hundred stops.
GREEDY_START_STOPS = 150
#: The largest share of the time limit building the model may take.
BUILD_SHARE = 0.5
#: Seconds to build the model per node pair per transit matrix, and per pair of a
#: vehicle with breaks and a stop with setup time (measured on generated city days).
BUILD_S_PER_CELL = 1.5e-7
BUILD_S_PER_BREAK_STOP = 3e-5


def build_seconds(problem: PlanningProblem) -> float:
    """Estimated seconds to build the OR-Tools model of ``problem``."""
    nodes = problem.num_stops + len(problem.depots) + 1
    profiles = {v.type.profile for v in problem.vehicles}
    classes = {(v.type.profile, v.type.cost_per_hour, v.type.cost_per_km) for v in problem.vehicles}
    matrices = len(profiles) + len(classes)
    if any(v.max_distance is not None for v in problem.vehicles):
        matrices += len(profiles)
    if any(v.max_travel_time is not None for v in problem.vehicles):
        matrices += len(profiles)
    with_breaks = sum(1 for v in problem.vehicles if v.breaks)
    with_setup = sum(1 for o in problem.orders for s in o.stops if s.setup > 0)
    return (
        BUILD_S_PER_CELL * nodes * nodes * matrices
        + BUILD_S_PER_BREAK_STOP * with_breaks * with_setup
    )


def _at_hand(problem: PlanningProblem, initial: Plan | None, deadline: float, began: float) -> Plan:
    """``initial``, or the greedy plan: what there is when OR-Tools has no time to search."""
    plan = initial if initial is not None else greedy_plan(problem, deadline=deadline)
    return Plan(plan.routes, plan.unassigned, plan.engine or "greedy", time.perf_counter() - began)


# -- building the model -------------------------------------------------------------------


def _search_parameters(
    model: _Model, seconds: float, metaheuristic: str = "GUIDED_LOCAL_SEARCH"
) -> Any:
    params = pywrapcp.DefaultRoutingSearchParameters()
    strategy = routing_enums_pb2.FirstSolutionStrategy
    params.first_solution_strategy = strategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic
    )
    params.log_search = False
    # OR-Tools' LP/MIP schedulers place breaks by its own rule (a break may cut
    # a drive); their targets then clash with ours and the finalizer crawls.
    params.disable_scheduling_beware_this_may_degrade_performance = True
    margin = min(_MARGIN_S + _MARGIN_PER_STOP_S * len(model.stops), seconds / 4)
    ms = max(10, int((seconds - margin) * 1000))
    params.time_limit.FromMilliseconds(ms)
    return params


_Domain = tuple[int, int, list[tuple[int, int]]]


def _ranges(windows: Sequence[TimeWindow], offset: int, horizon: int) -> _Domain:
    """Domain of ``windows`` shifted by ``offset`` and clipped at ``horizon``.

    Returns (min, max, gaps) with gaps as inclusive (lo, hi) pairs to remove.
    """
    lo = windows[0].start + offset
    hi = min(windows[-1].end + offset, horizon)
    gaps = []
    for a, b in itertools.pairwise(windows):
        g_lo, g_hi = a.end + offset + 1, min(b.start + offset - 1, horizon)
        if g_lo <= g_hi:
            gaps.append((g_lo, g_hi))
    return lo, hi, gaps


def _restrict(var: Any, lo: int, hi: int, gaps: list[tuple[int, int]]) -> None:
    var.SetRange(lo, hi)
    for g_lo, g_hi in gaps:
        var.RemoveInterval(g_lo, g_hi)


def _usable(problem: PlanningProblem, v: Vehicle) -> tuple[int, int, int] | None:
    """(earliest departure, latest departure, latest end) of ``v``, or None if unusable."""
    hours = problem.working_hours(v)
    if hours is None:
        return None
    return hours.start, v.shift.end, hours.end


def _build(problem: PlanningProblem) -> _Model:
    dims = len(problem.dimensions)
    limits: dict[str, tuple[int, int, int]] = {}
    for v in problem.vehicles:
        usable = _usable(problem, v)
        if usable is not None:
            limits[v.id] = usable
    vehicles = [v for v in problem.vehicles if v.id in limits]

    # -- nodes
    excluded: dict[str, str] = {}
    allowed: dict[str, list[int]] = {}
    stops: list[_StopNode] = []
    for order in problem.orders:
        ok = [k for k, v in enumerate(vehicles) if order.skills <= v.skills]
        if not ok:
            excluded[order.id] = "no vehicle has the skills it needs"
            continue
        if len(ok) < len(vehicles):
            allowed[order.id] = ok
        if order.kind is OrderKind.SHIPMENT:
            assert order.pickup is not None and order.delivery is not None
            stops.append(_StopNode(order, VisitKind.PICKUP, order.pickup))
            stops.append(_StopNode(order, VisitKind.DELIVERY, order.delivery))
        else:
            stops.append(_StopNode(order, VisitKind.JOB, order.single_stop))
    n_stops = len(stops)
    used_depots = sorted(
        {d for v in vehicles for d in (v.start_depot, v.end_depot) if d is not None}
    )
    depot_node = {d: n_stops + k for k, d in enumerate(used_depots)}
    has_dummy = any(v.start_depot is None or v.end_depot is None for v in vehicles)
    dummy = n_stops + len(used_depots)
    n_base = dummy + int(has_dummy)  # stops, depots and the dummy
    reload_depot: dict[int, int] = {}
    reload_owner: dict[int, int] = {}
    reload_nodes: dict[tuple[int, int], list[int]] = {}
    for k, v in enumerate(vehicles):
        count = _reload_count(problem, v, stops)
        for d in v.reload_depots:
            for _ in range(count):
                node = n_base + len(reload_depot)
                reload_depot[node], reload_owner[node] = d, k
                reload_nodes.setdefault((k, d), []).append(node)
    n_nodes = n_base + len(reload_depot)

    loc = np.full(n_nodes, -1, dtype=np.int64)
    service = np.zeros(n_nodes, dtype=np.int64)
    setup = np.zeros(n_nodes, dtype=np.int64)
    for i, s in enumerate(stops):
        loc[i], service[i], setup[i] = s.stop.location, s.stop.service, s.stop.setup
    for d, node in depot_node.items():
        loc[node] = problem.depots[d].location
    for node, d in reload_depot.items():
        loc[node], service[node] = problem.depots[d].location, problem.depots[d].reload_time
    node_of = {(s.order.id, s.kind): i for i, s in enumerate(stops)}

    starts = [depot_node[v.start_depot] if v.start_depot is not None else dummy for v in vehicles]
    ends = [depot_node[v.end_depot] if v.end_depot is not None else dummy for v in vehicles]
    if not vehicles:
        return _Model(None, None, None, stops, [], node_of, service.tolist(), excluded=excluded)
    manager = pywrapcp.RoutingIndexManager(n_nodes, len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    index = [manager.NodeToIndex(i) for i in range(n_stops)]

    # -- per-profile node matrices (the dummy row/column is all zeros)
    real = loc >= 0
    ix = np.ix_(real, real)

    def node_matrix(m: IntMatrix) -> IntMatrix:
        out = np.zeros((n_nodes, n_nodes), dtype=np.int64)
        out[ix] = m[np.ix_(loc[real], loc[real])]
        # Depot and dummy nodes are only starts and ends: an arc between two of
        # them is an unused vehicle's empty route, which costs and takes nothing.
        out[n_stops:n_base, n_stops:n_base] = 0
        return out

    differs = loc[:, None] != loc[None, :]
    differs[n_stops:n_base, n_stops:n_base] = False
    profiles = sorted({v.type.profile for v in vehicles})
    dur = {p: node_matrix(problem.matrices[p].durations) for p in profiles}
    dist = {p: node_matrix(problem.matrices[p].distances) for p in profiles}
    time_m = {p: service[:, None] + dur[p] + setup[None, :] * differs for p in profiles}
    time_cb = {p: routing.RegisterTransitMatrix(time_m[p].tolist()) for p in profiles}

    # -- horizon: no earliest schedule runs later than the latest lower bound
    # plus every possible transit and every break.
    lower_bounds = [0]
    lower_bounds += [w.start for s in stops for w in s.stop.time_windows]
    lower_bounds += [w.start for v in vehicles for b in v.breaks for w in b.time_windows]
    lower_bounds += [limits[v.id][0] for v in vehicles]
    lower_bounds += [problem.depots[d].time_window.start for d in reload_depot.values()]
    transit_bound = sum(int(m.max(axis=1).sum()) for m in time_m.values())
    breaks_bound = sum(b.duration for v in vehicles for b in v.breaks)
    horizon = min(HORIZON, max(lower_bounds) + transit_bound + breaks_bound + 1)

    # -- costs
    factor = _COST_SCALE
    for v in vehicles:
        factor = math.gcd(factor, v.type.cost_per_hour * 1000, v.type.cost_per_km * 3600)
    cost_classes: dict[tuple[str, int, int], int] = {}
    cost_max_out = np.zeros(n_nodes, dtype=np.int64)
    waiting = Feature.WAITING_COSTS in problem.features
    span_cost: dict[int, int] = {}
    for k, v in enumerate(vehicles):
        a = v.type.cost_per_hour * 1000 // factor
        b = v.type.cost_per_km * 3600 // factor
        if waiting:
            span_cost[k], a = a, 0
        key = (v.type.profile, a, b)
        if key not in cost_classes:
            cost = a * dur[v.type.profile] + b * dist[v.type.profile]
            # One unit (far below a second or a metre) per reload: no idle reloads.
            cost[:, n_base:] += 1
            cost_max_out = np.maximum(cost_max_out, cost.max(axis=1))
            cost_classes[key] = routing.RegisterTransitMatrix(cost.tolist())
        routing.SetArcCostEvaluatorOfVehicle(cost_classes[key], k)
        if v.type.fixed_cost:
            routing.SetFixedCostOfVehicle(v.type.fixed_cost * (_COST_SCALE // factor), k)

    # -- time
    routing.AddDimensionWithVehicleTransitAndCapacity(
        [time_cb[v.type.profile] for v in vehicles],
        horizon,
        [horizon] * len(vehicles),
        False,
        "time",
    )
    time_dim = routing.GetDimensionOrDie("time")
    for k, v in enumerate(vehicles):
        lo, hi, end_max = limits[v.id]
        time_dim.CumulVar(routing.Start(k)).SetRange(lo, min(hi, horizon))
        time_dim.CumulVar(routing.End(k)).SetRange(lo, min(end_max, horizon))
        if v.max_duration is not None:
            time_dim.SetSpanUpperBoundForVehicle(v.max_duration, k)
        if span_cost.get(k):
            time_dim.SetSpanCostCoefficientForVehicle(span_cost[k], k)
    # Nodes that can come right before a node at the same location (no setup then).
    same_place: dict[int, list[int]] = {}
    for i in range(n_stops):
        same_place.setdefault(int(loc[i]), []).append(index[i])
    starts_at: dict[int, list[int]] = {}
    for k, v in enumerate(vehicles):
        if v.start_depot is not None:
            starts_at.setdefault(problem.depots[v.start_depot].location, []).append(
                routing.Start(k)
            )
    for node, d in reload_depot.items():  # a reload there skips the next stop's setup
        starts_at.setdefault(problem.depots[d].location, []).append(manager.NodeToIndex(node))
    for i, s in enumerate(stops):
        windows = s.stop.time_windows
        if not windows:
            continue
        cumul = time_dim.CumulVar(index[i])
        place = int(loc[i])
        preds = [j for j in same_place[place] if j != index[i]] + starts_at.get(place, [])
        if s.stop.setup == 0 or not preds:
            _restrict(cumul, *_ranges(windows, s.stop.setup, horizon))
            continue
        # Setup is spent unless the predecessor stands at the same location.
        lo, hi, gaps = _ranges(windows, 0, horizon)
        start_var = solver.IntVar(lo, hi, f"start_{i}")
        for g_lo, g_hi in gaps:
            start_var.RemoveInterval(g_lo, g_hi)
        cumul.SetRange(lo, min(hi + s.stop.setup, horizon))
        same = solver.Sum([solver.IsEqualCstVar(routing.NextVar(j), index[i]) for j in preds])
        solver.Add(start_var == cumul - s.stop.setup + same * s.stop.setup)

    for node, d in reload_depot.items():
        # A reload starts inside the depot's opening hours (no setup at a depot).
        hours = problem.depots[d].time_window
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(
            min(hours.start, horizon), min(hours.end, horizon)
        )

    # -- reloads: optional nodes of one vehicle each
    for node, k in reload_owner.items():
        r_index = manager.NodeToIndex(node)
        routing.VehicleVar(r_index).SetValues([-1, k])
        routing.AddDisjunction([r_index], 0)
    for k, v in enumerate(vehicles):
        if v.max_reloads is not None and len(v.reload_depots) > 1:
            own = [
                manager.NodeToIndex(n)
                for (kk, _), ns in reload_nodes.items()
                if kk == k
                for n in ns
            ]
            solver.Add(solver.Sum([routing.ActiveVar(i) for i in own]) <= v.max_reloads)

    # -- orders: optional, skills, shipments
    reload_cost = int(cost_max_out[n_base:].sum())
    # Waiting costs: what the routes' spans can cost, at most.
    reload_cost += sum(c * horizon for c in span_cost.values())
    penalties = _penalties(
        problem, stops, cost_max_out[:n_base], vehicles, factor, n_stops, reload_cost
    )
    for i, s in enumerate(stops):
        if s.order.id in allowed:
            # -1 keeps the stop optional (unperformed stops have vehicle -1).
            routing.VehicleVar(index[i]).SetValues([-1, *allowed[s.order.id]])
    if any(v.max_tasks is not None for v in vehicles):
        cb = routing.RegisterUnaryTransitVector([1] * n_stops + [0] * (n_nodes - n_stops))
        routing.AddDimensionWithVehicleCapacity(
            cb,
            0,
            [v.max_tasks if v.max_tasks is not None else n_stops for v in vehicles],
            True,
            "tasks",
        )
    for i, s in enumerate(stops):
        if s.kind is VisitKind.DELIVERY:
            continue  # handled with its pickup
        penalty = penalties[s.order.id]
        if s.kind is VisitKind.JOB:
            routing.AddDisjunction([index[i]], penalty)
            continue
        p, d = index[i], index[i + 1]
        routing.AddDisjunction([p], penalty // 2)
        routing.AddDisjunction([d], penalty - penalty // 2)
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.ActiveVar(p) == routing.ActiveVar(d))
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))

    # -- capacities
    for k_dim in range(dims):
        demand = [0] * n_nodes
        delivered = [0] * n_nodes
        has_delivery_jobs = has_pickup_jobs = False
        for i, s in enumerate(stops):
            a = problem.amount(s.order)[k_dim]
            if a == 0:
                continue
            picks = s.kind is VisitKind.PICKUP or s.order.kind is OrderKind.PICKUP
            demand[i] = a if picks else -a
            if s.kind is VisitKind.JOB and s.order.kind is OrderKind.DELIVERY:
                delivered[i] = a
                has_delivery_jobs = True
            if s.kind is VisitKind.JOB and s.order.kind is OrderKind.PICKUP:
                has_pickup_jobs = True
        if not any(demand):
            continue
        caps = [v.capacity[k_dim] for v in vehicles]
        name = f"load_{k_dim}"
        if reload_depot:
            _add_reload_loads((routing, manager), stops, demand, caps, k_dim, reload_owner)
            continue
        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitVector(demand), 0, caps, False, name
        )
        load = routing.GetDimensionOrDie(name)
        if has_delivery_jobs and has_pickup_jobs:
            # The start load must be all the route delivers, not just enough to
            # keep the load non-negative.
            routing.AddDimensionWithVehicleCapacity(
                routing.RegisterUnaryTransitVector(delivered), 0, caps, True, f"delivered_{k_dim}"
            )
            total = routing.GetDimensionOrDie(f"delivered_{k_dim}")
            for k in range(len(vehicles)):
                solver.Add(load.CumulVar(routing.Start(k)) == total.CumulVar(routing.End(k)))

    # -- route limits
    big = 2**50
    if any(v.max_distance is not None for v in vehicles):
        cbs = {p: routing.RegisterTransitMatrix(dist[p].tolist()) for p in profiles}
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [cbs[v.type.profile] for v in vehicles],
            0,
            [v.max_distance if v.max_distance is not None else big for v in vehicles],
            True,
            "distance",
        )
    if any(v.max_travel_time is not None for v in vehicles):
        cbs = {p: routing.RegisterTransitMatrix(dur[p].tolist()) for p in profiles}
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [cbs[v.type.profile] for v in vehicles],
            0,
            [v.max_travel_time if v.max_travel_time is not None else big for v in vehicles],
            True,
            "travel",
        )

    model = _Model(
        manager,
        routing,
        time_dim,
        stops,
        vehicles,
        node_of,
        service.tolist(),
        excluded=excluded,
        reload_depot=reload_depot,
        reload_nodes=reload_nodes,
    )
    _add_breaks(model, horizon, allowed)
    return model


def _reload_count(problem: PlanningProblem, v: Vehicle, stops: list[_StopNode]) -> int:
    """Reload nodes to give ``v`` at each of its reload depots.

    ``max_reloads`` when set; otherwise as many as its capacity could ever need:
    one trip per load that fills it in some dimension, plus one for trips that
    time windows leave part-empty, at most one per stop.
    """
    if not v.reload_depots:
        return 0
    orders = {s.order.id: s.order for s in stops if s.order.skills <= v.skills}
    bound = 1
    for k, cap in enumerate(v.capacity):
        total = sum(problem.amount(o)[k] for o in orders.values())
        if cap > 0 and total:
            bound = max(bound, -(-total // cap))
    count = min(bound + 1, len(orders))
    if v.max_reloads is not None:
        count = min(count, v.max_reloads)
    return count


def _add_reload_loads(
    parts: tuple[Any, Any],
    stops: list[_StopNode],
    demand: list[int],
    caps: list[int],
    k_dim: int,
    reload_owner: dict[int, int],
) -> None:
    """One capacity dimension of a problem with reloads (see the module docstring).

    ``load`` (pickups up, deliveries down) and ``trips`` (delivery jobs down)
    both restart at a reload node: its transit is minus the owner's capacity
    and its slack, zero elsewhere, picks the new value. Everywhere the load is
    at least the trip's deliveries still to make plus the shipments on board
    (``shipments``, which no reload changes), so right after a reload (or at the
    start) it holds the whole trip, while pickup jobs of the trip before are
    gone. Only cumul variables are constrained: OR-Tools leaves slack values
    to its own propagation.
    """
    routing, manager = parts
    solver = routing.solver()
    top = 2 * max(caps)
    n_nodes = len(demand)
    reset = [0] * n_nodes
    for node, k in reload_owner.items():
        reset[node] = -caps[k]
    trips = [0] * n_nodes
    on_board = [0] * n_nodes
    for i, s in enumerate(stops):
        if s.kind is VisitKind.JOB and s.order.kind is OrderKind.DELIVERY:
            trips[i] = demand[i]
        elif s.order.kind is OrderKind.SHIPMENT:
            on_board[i] = demand[i]
    dims = []
    for name, transit in (
        (f"load_{k_dim}", [d + r for d, r in zip(demand, reset, strict=True)]),
        (f"trips_{k_dim}", [d + r for d, r in zip(trips, reset, strict=True)]),
    ):
        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitVector(transit), top, caps, False, name
        )
        dims.append(routing.GetDimensionOrDie(name))
    load, trip = dims
    shipments = None
    if any(on_board):
        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitVector(on_board), 0, caps, True, f"shipments_{k_dim}"
        )
        shipments = routing.GetDimensionOrDie(f"shipments_{k_dim}")
    ends = [routing.End(k) for k in range(len(caps))]
    for index in [*range(routing.Size()), *ends]:
        if index < routing.Size() and manager.IndexToNode(index) not in reload_owner:
            load.SlackVar(index).SetValue(0)
            trip.SlackVar(index).SetValue(0)
        # The load covers the trip's deliveries still to make and the shipments on
        # board: right after a reload (or the start) that is the trip's whole load.
        ship = shipments.CumulVar(index) if shipments is not None else 0
        solver.Add(load.CumulVar(index) >= trip.CumulVar(index) + ship)


def _penalties(
    problem: PlanningProblem,
    stops: list[_StopNode],
    cost_max_out: IntMatrix,
    vehicles: list[Vehicle],
    factor: int,
    n_stops: int,
    reload_cost: int = 0,
) -> dict[str, int]:
    """Penalty for leaving each order out: more than any solution costs, by priority.

    ``reload_cost`` bounds what the reload nodes' arcs add.
    """
    fixed = sum(v.type.fixed_cost for v in vehicles) * (_COST_SCALE // factor)
    depots_out = int(cost_max_out[n_stops:].max()) if len(cost_max_out) > n_stops else 0
    bound = int(cost_max_out[:n_stops].sum()) + len(vehicles) * depots_out + fixed + 1
    bound += reload_cost
    bound *= 2  # even, so a shipment's penalty splits over its two stops
    orders = {s.order.id: s.order for s in stops}
    n = max(1, len(orders))
    weight = n + 1 if Feature.PRIORITIES in problem.features else 0
    # Keep the sum of all penalties inside int64 with room to spare.
    while weight and n * bound * (1 + 100 * weight) > _PENALTY_CEILING:
        weight //= 2
    bound = min(bound, _PENALTY_CEILING // (n * (1 + 100 * weight)))
    return {oid: bound * (1 + weight * o.priority) for oid, o in orders.items()}


def _add_breaks(model: _Model, horizon: int, allowed: dict[str, list[int]]) -> None:
    """Breaks as optional intervals on the time dimension (OR-Tools' break model).

    OR-Tools lets a break take place anywhere between a node's departure and
    the next node's cumul, cutting the drive, with the slack paying for it: the
    shared semantics (a break is taken on the way to the next stop). Two things
    are added. The break must lie within the route (OR-Tools also allows before
    its start and after its end). And it must not overlap a stop's setup, which
    here sits just before the stop's cumul (the cumul is the end of setup): for
    each stop the vehicle may serve, the break ends by the stop's service start
    or starts after its cumul. With a stop's full setup even where setup is
    skipped at the same place, which is stricter, never wrong.
    """
    routing, solver, time_dim = model.routing, model.routing.solver(), model.time_dim
    visit_transits = [0] * routing.Size()
    for i in range(routing.Size()):
        node = model.manager.IndexToNode(i)
        visit_transits[i] = model.service[node]
    for k, v in enumerate(model.vehicles):
        if not v.breaks:
            continue
        used = routing.ActiveVehicleVar(k)
        t_start = time_dim.CumulVar(routing.Start(k))
        t_end = time_dim.CumulVar(routing.End(k))
        with_setup = [
            (model.manager.NodeToIndex(i), s.stop.setup)
            for i, s in enumerate(model.stops)
            if s.stop.setup > 0 and (s.order.id not in allowed or k in allowed[s.order.id])
        ]
        intervals = []
        for brk in v.breaks:
            lo, hi, gaps = _ranges(brk.time_windows, 0, horizon)
            start = solver.IntVar(lo, max(lo, hi), f"break_{v.id}_{brk.id}")
            for g_lo, g_hi in gaps:
                start.RemoveInterval(g_lo, g_hi)
            interval = solver.FixedDurationIntervalVar(start, brk.duration, used, brk.id)
            routing.AddIntervalToAssignment(interval)
            routing.AddVariableMinimizedByFinalizer(start)
            intervals.append(interval)
            model.breaks.setdefault(k, []).append((brk.id, interval))
            # Within the route when the vehicle is used (relaxed by big M if not).
            big = horizon + brk.duration + 1
            solver.Add(start + big * (1 - used) >= t_start)
            solver.Add(start + brk.duration <= t_end + big * (1 - used))
            end = start + brk.duration
            for index, setup in with_setup:
                cumul = time_dim.CumulVar(index)
                options = [
                    (end <= cumul - setup).Var(),
                    (start >= cumul).Var(),
                    solver.IsDifferentCstVar(routing.VehicleVar(index), k),
                ]
                solver.Add(solver.Sum(options) >= 1)
        time_dim.SetBreakIntervalsOfVehicle(intervals, k, visit_transits)


# -- reading plans in and out ---------------------------------------------------------------


def _read_initial(model: _Model, plan: Plan) -> Any:
    """The assignment matching ``plan``, or None if the model cannot take it."""
    vehicle_no = {v.id: k for k, v in enumerate(model.vehicles)}
    routes: list[list[int]] = [[] for _ in model.vehicles]
    for route in plan.routes:
        k = vehicle_no.get(route.vehicle_id)
        indices = []
        reloads_used: dict[int, int] = {}
        for visit in route.visits:
            if visit.kind is VisitKind.RELOAD and k is not None and visit.depot is not None:
                spare = model.reload_nodes.get((k, visit.depot), [])
                n = reloads_used.get(visit.depot, 0)
                if n >= len(spare):
                    return None
                reloads_used[visit.depot] = n + 1
                indices.append(model.manager.NodeToIndex(spare[n]))
                continue
            if not visit.is_task or visit.order_id is None:
                continue
            node = model.node_of.get((visit.order_id, visit.kind))
            if node is not None:
                indices.append(model.manager.NodeToIndex(node))
        if indices and k is None:
            return None
        if k is not None:
            routes[k] = indices
    return model.routing.ReadAssignmentFromRoutes(routes, True)


def _to_plan(problem: PlanningProblem, model: _Model, solution: Any) -> Plan:
    routing, manager, time_dim = model.routing, model.manager, model.time_dim
    n_stops = len(model.stops)
    served: set[str] = set()
    routes = []
    for k, vehicle in enumerate(model.vehicles):
        index = routing.Start(k)
        t_start = solution.Value(time_dim.CumulVar(index))
        # (departure, node) of the start and of every stop, in route order
        departures: list[tuple[int, int | None]] = [(t_start, None)]
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            if node < n_stops or node in model.reload_depot:
                dep = solution.Value(time_dim.CumulVar(index)) + model.service[node]
                departures.append((dep, node))
            index = solution.Value(routing.NextVar(index))
        if not any(node is not None and node < n_stops for _, node in departures):
            continue
        # A break goes on the leg it falls in: after the last node left by its start.
        after: dict[int, list[tuple[int, str]]] = {}
        for brk_id, interval in model.breaks.get(k, []):
            if not solution.PerformedValue(interval):
                continue
            b_start = solution.StartValue(interval)
            pos = max(p for p, (dep, _) in enumerate(departures) if p == 0 or dep <= b_start)
            after.setdefault(pos, []).append((b_start, brk_id))
        steps: list[Step] = []
        for p, (_, node) in enumerate(departures):
            if node is not None and node in model.reload_depot:
                steps.append(Step(VisitKind.RELOAD, depot=model.reload_depot[node]))
            elif node is not None:
                s = model.stops[node]
                steps.append(Step(s.kind, order_id=s.order.id))
                served.add(s.order.id)
            for _, brk_id in sorted(after.get(p, [])):
                steps.append(Step(VisitKind.BREAK, break_id=brk_id))
        routes.append(_best_schedule(problem, vehicle, _useful_reloads(steps), t_start))
    unassigned = tuple(
        Unassigned(o.id, model.excluded.get(o.id, _UNASSIGNED_REASON), "engine")
        for o in problem.orders
        if o.id not in served
    )
    return Plan(tuple(routes), unassigned, ORToolsEngine.name)


def _useful_reloads(steps: list[Step]) -> list[Step]:
    """``steps`` without reloads that load nothing new: a reload with no task since
    the start or the reload before it, or with no task after it. Dropping one only
    makes what follows earlier, which waiting absorbs."""
    kept: list[Step] = []
    task_since = False
    for i, step in enumerate(steps):
        if step.kind is VisitKind.RELOAD:
            later = any(s.kind not in (VisitKind.BREAK, VisitKind.RELOAD) for s in steps[i + 1 :])
            if not task_since or not later:
                continue
            task_since = False
        elif step.kind is not VisitKind.BREAK:
            task_since = True
        kept.append(step)
    return kept


# -- the reported schedule ------------------------------------------------------------------


def _times_ok(problem: PlanningProblem, vehicle: Vehicle, route: Route) -> bool:
    """Whether ``route``'s times meet every window and the end of the shift.

    Only what moves with the departure time is checked; max_duration apart.
    """
    breaks = {b.id: b.time_windows for b in vehicle.breaks}
    for visit in route.visits:
        if visit.kind is VisitKind.BREAK:
            windows = breaks[visit.break_id or ""]
        elif visit.kind is VisitKind.RELOAD and visit.depot is not None:
            windows = (problem.depots[visit.depot].time_window,)
        elif visit.order_id is not None:
            order = problem.order(visit.order_id)
            stop = order.pickup if visit.kind is VisitKind.PICKUP else order.delivery
            if visit.kind is VisitKind.JOB:
                stop = order.single_stop
            assert stop is not None
            windows = stop.time_windows
        else:
            continue
        if windows and not any(w.start <= visit.start <= w.end for w in windows):
            return False
    end = route.visits[-1]
    hours = problem.working_hours(vehicle)
    assert hours is not None, "only vehicles with working hours are in the model"
    if end.kind is VisitKind.END:
        return end.arrival <= hours.end
    return end.departure <= hours.end


def _span(route: Route) -> int:
    """End minus start as the validator measures it (open starts: first service)."""
    first = route.visits[0]
    begin = first.departure if first.kind is VisitKind.START else first.start
    last = route.visits[-1]
    end = last.arrival if last.kind is VisitKind.END else last.departure
    return end - begin


def _best_schedule(
    problem: PlanningProblem, vehicle: Vehicle, steps: list[Step], feasible_start: int
) -> Route:
    """The route finishing earliest, then leaving latest, among valid departures.

    Every time of the schedule grows with the departure time, so the departures
    meeting all windows and the end of the shift are those up to some bound at or
    after ``feasible_start`` (which OR-Tools proved valid), and those meeting
    max_duration are those from some bound at or before it. The earliest finish
    comes from the earliest valid departure; then bisection finds the latest
    departure that keeps it (no later than the first schedule's total wait).
    """

    def build(start: int) -> Route:
        return build_route(problem, vehicle, steps, start_time=start)

    first = problem.earliest_departure(vehicle)
    if vehicle.max_duration is not None:
        # The smallest departure meeting max_duration (feasible_start does).
        lo, hi = first, feasible_start
        while lo < hi:
            mid = (lo + hi) // 2
            if _span(build(mid)) <= vehicle.max_duration:
                hi = mid
            else:
                lo = mid + 1
        first = lo
    early = build(first)
    if not _times_ok(problem, vehicle, early):  # not expected; keep the solver's times
        return build(feasible_start)
    finish = _end_time(early)
    lo, hi = first, first + early.wait
    while lo < hi:
        mid = (lo + hi + 1) // 2
        route = build(mid)
        if _end_time(route) <= finish and _times_ok(problem, vehicle, route):
            lo = mid
        else:
            hi = mid - 1
    return early if lo == first else build(lo)


def _end_time(route: Route) -> int:
    last = route.visits[-1]
    return last.arrival if last.kind is VisitKind.END else last.departure
