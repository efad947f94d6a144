"""Quality at every size and budget: lastmile, pyvroom and PyVRP on 20 generated days.

The three days of ``benchmarks/realistic.py`` are the ones the planner was
tuned on. This benchmark widens them to :data:`DAYS`: 20 delivery days of
200 to 2,000 orders, each from a fixed seed, in four shapes

* ``compact``: a dense city (5 km radius, demand heavier near the centre, 20 km/h),
* ``suburbs``: sprawling suburbs (25 km, even spread, depot out of town, 40 km/h),
* ``multidepot``: a metropolitan area served from three depots (15 km, 30 km/h),
* ``clustered``: villages and small towns around one depot (30 km, 45 km/h),

and mixes of constraints: no, loose (4-5 h), tight (1 h) or mixed windows
(2-4 h slots, some customers offering two), capacities in weight or weight
and volume, lunch breaks, chilled goods needing a refrigerated van, returns
picked up at customers, shop-to-customer pickups and deliveries, cargo bikes
on their own travel profile, set-up times. Route cost is ``fixed + per hour
driven + per km`` (VROOM's definition).

Every day is written once to VROOM's JSON format (cached under
``.cache/benchmarks/realistic_wide``) and, at each budget T, solved one solver
after the other:

* lastmile: ``formats.vroom.read_problem`` + ``planning.solve(time_limit=T, seed=0)``
  (engine auto, every core);
* pyvroom: ``vroom.Input.from_json`` + ``solve(nb_threads=2)`` at the exploration
  level and timeout that lastmile's own VROOM engine would pick for that many
  tasks and budget (:func:`lastmile.planning.engines.vroom.plan_search`, as
  ``benchmarks/vroom_levels.py`` measures): a fixed level 5 would overrun
  short budgets on big days;
* PyVRP, called directly on the days whose constraints it models (one window
  per stop, no breaks, skills or set-up times): its own ``ProblemData`` with one
  cost matrix per vehicle cost rate, ``pyvrp.solve(stop=MaxRuntime(T), seed=0)``
  on one core.

Every plan -- lastmile's and each peer's routes laid on the same problem with
:func:`lastmile.planning.schedule.build_route` -- is costed and checked by
:func:`lastmile.planning.validate.validate`: one cost function and one set of
rules for all. A plan with a violation is reported as invalid and never counts
as the best peer. Plans are compared on (orders left out, cost): serving more
orders wins whatever the cost.

    .venv/bin/python benchmarks/realistic_wide.py --budgets 10,30,60
    .venv/bin/python benchmarks/realistic_wide.py --budgets 10 --subset 4   # quick look
    .venv/bin/python benchmarks/realistic_wide.py --list                    # the days and seeds
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import realistic
from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.formats.vroom import read_problem
from lastmile.planning import solve
from lastmile.planning.engines.vroom import plan_search
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate
from lastmile.travel.haversine import HaversineModel

HOUR = 3600
CACHE = realistic.CACHE.parent / "realistic_wide"
SOLVERS = ("lastmile", "pyvroom", "pyvrp")
PEERS = ("pyvroom", "pyvrp")


# -- the days ----------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How a day's places are laid out and how fast vans go between them."""

    city: str
    lon: float
    lat: float
    radius_km: float
    speed_kph: float
    detour: float
    depots: int
    stops_per_van: int  # rough stops a van manages in a shift, to size the fleet


SHAPES: dict[str, Shape] = {
    "compact": Shape("Lyon", 4.8357, 45.7640, 5.0, 20.0, 1.35, 1, 55),
    "suburbs": Shape("Toulouse", 1.4442, 43.6047, 25.0, 40.0, 1.3, 1, 28),
    "multidepot": Shape("Paris", 2.3522, 48.8566, 15.0, 30.0, 1.3, 3, 40),
    "clustered": Shape("Rennes", -1.6778, 48.1173, 30.0, 45.0, 1.3, 1, 38),
}
WINDOWS = ("none", "loose", "tight", "mixed")


@dataclass(frozen=True)
class DaySpec:
    """One generated day: its seed, size, shape and constraint mix."""

    seed: int
    orders: int
    shape: str
    windows: str  # none | loose | tight | mixed
    volume: bool = False  # capacities in weight and volume (else weight only)
    returns: float = 0.0  # share of orders picked up at the customer for the depot
    shipments: float = 0.0  # share of shop -> customer pickups and deliveries
    breaks: bool = False  # a 30 min lunch break for every van driver
    skills: bool = False  # chilled goods that need a refrigerated van
    bikes: bool = False  # cargo bikes on their own travel profile
    setup: bool = False  # parking/walking time when arriving from elsewhere

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"day shape: unknown {self.shape!r}, use one of {sorted(SHAPES)}")
        if self.windows not in WINDOWS:
            raise ValueError(f"day windows: unknown {self.windows!r}, use one of {WINDOWS}")
        if self.orders < 1:
            raise ValueError(f"day orders: must be >= 1, got {self.orders}")

    @property
    def name(self) -> str:
        return f"{self.shape}-{self.orders}-s{self.seed}"

    @property
    def mix(self) -> str:
        """The constraint mix in a few words."""
        parts = [f"{self.windows} tw", "kg+l" if self.volume else "kg"]
        if self.returns:
            parts.append(f"returns {self.returns:.0%}")
        if self.shipments:
            parts.append(f"P&D {self.shipments:.0%}")
        parts += [
            word
            for flag, word in (
                (self.breaks, "breaks"),
                (self.skills, "skills"),
                (self.bikes, "bikes"),
                (self.setup, "setup"),
            )
            if flag
        ]
        return ", ".join(parts)

    @property
    def pyvrp_misfit(self) -> str:
        """Why PyVRP cannot take this day ('' if it can)."""
        missing = [
            word
            for flag, word in (
                (self.windows == "mixed", "two windows"),
                (self.breaks, "breaks"),
                (self.skills, "skills"),
                (self.setup, "set-up times"),
            )
            if flag
        ]
        return ", ".join(missing)


#: The days, smallest first. Seeds are fixed: the same list always gives the same days.
DAYS: tuple[DaySpec, ...] = (
    DaySpec(101, 200, "compact", "tight"),
    DaySpec(102, 250, "suburbs", "loose", volume=True, returns=0.15),
    DaySpec(
        103,
        300,
        "compact",
        "mixed",
        volume=True,
        returns=0.1,
        shipments=0.08,
        breaks=True,
        skills=True,
        bikes=True,
        setup=True,
    ),
    DaySpec(104, 350, "clustered", "none"),
    DaySpec(105, 400, "multidepot", "tight", volume=True),
    DaySpec(106, 500, "compact", "loose", breaks=True, skills=True),
    DaySpec(107, 600, "suburbs", "tight", returns=0.1, shipments=0.1),
    DaySpec(108, 700, "multidepot", "mixed", volume=True, shipments=0.05, breaks=True, skills=True),
    DaySpec(109, 800, "clustered", "loose", volume=True, returns=0.15),
    DaySpec(110, 1000, "compact", "tight", bikes=True),
    DaySpec(111, 1000, "suburbs", "mixed", breaks=True, setup=True),
    DaySpec(112, 1200, "multidepot", "loose", shipments=0.1),
    DaySpec(113, 1200, "clustered", "tight", volume=True, breaks=True, skills=True),
    DaySpec(114, 1500, "compact", "loose", volume=True, returns=0.1, bikes=True),
    DaySpec(115, 1500, "suburbs", "none", volume=True),
    DaySpec(
        116, 1500, "multidepot", "tight", returns=0.05, shipments=0.05, breaks=True, skills=True
    ),
    DaySpec(117, 2000, "clustered", "loose"),
    DaySpec(118, 2000, "compact", "mixed", volume=True, returns=0.1, breaks=True, skills=True),
    DaySpec(119, 2000, "multidepot", "none", returns=0.1, shipments=0.05),
    DaySpec(120, 2000, "suburbs", "tight", volume=True, breaks=True),
)


def _lonlat(shape: Shape, x_km: float, y_km: float) -> tuple[float, float]:
    lat = shape.lat + y_km / 111.32
    lon = shape.lon + x_km / (111.32 * math.cos(math.radians(shape.lat)))
    return round(lon, 6), round(lat, 6)


def _places(spec: DaySpec, shape: Shape, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` customer positions (km from the centre) laid out in the day's shape."""
    radius = shape.radius_km
    theta = rng.uniform(0, 2 * math.pi, n)
    if spec.shape == "compact":  # denser near the centre, like real demand
        r = radius * np.sqrt(rng.uniform(0, 1, n)) * rng.uniform(0.3, 1.0, n)
    elif spec.shape == "clustered":
        towns = 6 + spec.seed % 7
        t_theta = rng.uniform(0, 2 * math.pi, towns)
        t_r = radius * np.sqrt(rng.uniform(0.05, 1, towns))
        centres = np.column_stack([t_r * np.cos(t_theta), t_r * np.sin(t_theta)])
        weights = rng.dirichlet(np.full(towns, 2.0))
        pick = rng.choice(towns, size=n, p=weights)
        return centres[pick] + rng.normal(0.0, 1.5, size=(n, 2))
    else:  # even spread
        r = radius * np.sqrt(rng.uniform(0, 1, n))
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def _windows(spec: DaySpec, rng: np.random.Generator) -> tuple[TimeWindow, ...]:
    if spec.windows == "none":
        return ()
    if spec.windows == "tight":
        start = int(rng.integers(8, 18)) * HOUR
        return (TimeWindow(start, start + HOUR),)
    if spec.windows == "loose":
        start = int(rng.choice([8, 9, 10, 13, 14])) * HOUR
        return (TimeWindow(start, min(start + int(rng.integers(4, 6)) * HOUR, 19 * HOUR)),)
    start = int(rng.choice([8, 9, 10, 11, 13, 14, 15, 16])) * HOUR
    first = TimeWindow(start, min(start + int(rng.choice([2, 2, 3, 4])) * HOUR, 19 * HOUR))
    if rng.uniform() < 0.15 and first.end + HOUR < 18 * HOUR:
        return (first, TimeWindow(first.end + HOUR, min(first.end + 3 * HOUR, 19 * HOUR)))
    return (first,)


def make_day(spec: DaySpec) -> PlanningProblem:
    """The planning problem of one day (the same spec always gives the same day)."""
    shape = SHAPES[spec.shape]
    rng = np.random.default_rng(spec.seed)
    dims = ("weight_kg", "volume_l") if spec.volume else ("weight_kg",)
    locations: list[Location] = []
    depots: list[Depot] = []
    if spec.shape == "suburbs":  # an out-of-town warehouse
        depot_xy = [(0.6 * shape.radius_km, 0.0)]
    elif shape.depots > 1:
        depot_xy = [
            (0.55 * shape.radius_km * math.cos(a), 0.55 * shape.radius_km * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, shape.depots, endpoint=False)
        ]
    else:
        depot_xy = [(0.0, 0.0)]
    for k, (x, y) in enumerate(depot_xy):
        locations.append(Location(*_lonlat(shape, x, y), name=f"depot {k + 1}"))
        depots.append(Depot(f"d{k + 1}", k, TimeWindow(6 * HOUR, 21 * HOUR)))

    customers = _places(spec, shape, rng, spec.orders)
    shops = _places(spec, shape, rng, spec.orders)
    orders: list[Order] = []
    for i in range(spec.orders):
        oid = f"o{i + 1:04d}"
        weight = int(rng.integers(1, 25))
        amount = (weight, int(weight * rng.uniform(2, 6))) if spec.volume else (weight,)
        roll = rng.uniform()
        chilled = spec.skills and rng.uniform() < 0.1
        service = int(rng.integers(2, 6)) * 60
        setup = int(rng.integers(1, 3)) * 60 if spec.setup else 0
        windows = _windows(spec, rng)
        locations.append(Location(*_lonlat(shape, *customers[i]), name=f"customer {oid}"))
        here = len(locations) - 1
        if roll < spec.shipments:
            locations.append(Location(*_lonlat(shape, *shops[i]), name=f"shop for {oid}"))
            shop = Stop(
                len(locations) - 1,
                service=300,
                setup=setup,
                time_windows=(TimeWindow(8 * HOUR, 15 * HOUR),) if windows else (),
                ref=f"{oid}-p",
            )
            drop = Stop(here, service=service, setup=setup, time_windows=windows, ref=f"{oid}-d")
            orders.append(Order(oid, OrderKind.SHIPMENT, pickup=shop, delivery=drop, amount=amount))
            continue
        stop = Stop(here, service=service, setup=setup, time_windows=windows, ref=oid)
        skills = frozenset({"refrigerated"}) if chilled else frozenset()
        if roll < spec.shipments + spec.returns:
            orders.append(Order(oid, OrderKind.PICKUP, pickup=stop, amount=amount, skills=skills))
        else:
            orders.append(
                Order(oid, OrderKind.DELIVERY, delivery=stop, amount=amount, skills=skills)
            )

    def cap(weight: int, volume: int) -> tuple[int, ...]:
        return (weight, volume) if spec.volume else (weight,)

    van = VehicleType("van", cap(800, 6000), fixed_cost=20_000, cost_per_km=60)
    cold = VehicleType(
        "refrigerated van",
        cap(600, 5000),
        frozenset({"refrigerated"}),
        fixed_cost=25_000,
        cost_per_km=60,
    )
    slack = 1.35 if spec.windows == "tight" else 1.15
    n_vans = math.ceil(spec.orders / shape.stops_per_van * slack) + 2
    vehicles: list[Vehicle] = []
    for k in range(n_vans):
        vtype = cold if spec.skills and k % 4 == 1 else van
        early = k % 3 == 0
        shift = TimeWindow((7 if early else 9) * HOUR, (17 if early else 19) * HOUR)
        lunch = (
            (Break(f"lunch-v{k + 1}", (TimeWindow(11 * HOUR + 1800, 13 * HOUR + 1800),), 1800),)
            if spec.breaks
            else ()
        )
        depot = k % len(depots)
        vehicles.append(Vehicle(f"van-{k + 1:03d}", vtype, depot, depot, shift, breaks=lunch))
    matrices = {"car": HaversineModel(speed_kph=shape.speed_kph, detour_factor=shape.detour)}
    if spec.bikes:
        bike = VehicleType("cargo bike", cap(120, 800), profile="bike", fixed_cost=8_000)
        for k in range(max(2, spec.orders // 150)):
            vehicles.append(
                Vehicle(f"bike-{k + 1:02d}", bike, 0, 0, TimeWindow(8 * HOUR, 17 * HOUR))
            )
        matrices["bike"] = HaversineModel(speed_kph=15, detour_factor=1.2)
    return PlanningProblem(
        locations=tuple(locations),
        matrices={name: model.matrix(locations) for name, model in matrices.items()},
        depots=tuple(depots),
        vehicles=tuple(vehicles),
        orders=tuple(orders),
        dimensions=dims,
        name=f"{spec.name} ({spec.mix})",
        travel_note="; ".join(f"{name}: {m.description}" for name, m in matrices.items()),
    )


def day_file(spec: DaySpec, cache: Path = CACHE) -> Path:
    """The day's VROOM JSON, written on first use."""
    return realistic.cached_problem(cache / f"{spec.name}.json", lambda: make_day(spec))


# -- PyVRP, called directly ---------------------------------------------------------


def pyvrp_misfit(problem: PlanningProblem) -> str:
    """Why PyVRP's model cannot express ``problem`` ('' when it can)."""
    for v in problem.vehicles:
        if v.breaks:
            return f"vehicle {v.id!r} has breaks"
        if v.start_depot is None or v.end_depot is None:
            return f"vehicle {v.id!r} has an open route"
        if v.type.skills:
            return f"vehicle type {v.type.id!r} has skills"
    for o in problem.orders:
        if o.skills:
            return f"order {o.id!r} needs skills"
        for stop in o.stops:
            if len(stop.time_windows) > 1:
                return f"order {o.id!r} offers two windows"
            if stop.setup:
                return f"order {o.id!r} has a set-up time"
    return ""


@dataclass
class _PyvrpModel:
    data: object  # pyvrp.ProblemData
    client_orders: list[str]
    shipment_orders: list[str]
    type_vehicles: list[list[str]]


#: What PyVRP earns for serving an order: far above any route's cost, so that it
#: serves as many orders as it can first (like lastmile and VROOM) and may still
#: leave out those it cannot fit.
PRIZE = 10_000_000


def _bound(value: int) -> int:
    return min(value, 2**40)


def to_pyvrp(problem: PlanningProblem) -> _PyvrpModel:
    """PyVRP's model of ``problem``: clients, shipments, vehicle types and one cost matrix
    per (travel profile, cost rates), so that PyVRP minimises lastmile's objective."""
    import pyvrp

    misfit = pyvrp_misfit(problem)
    if misfit:
        raise ValueError(f"PyVRP cannot model this problem: {misfit}")
    locations = [pyvrp.Location(x=loc.lon, y=loc.lat) for loc in problem.locations]
    depots = [
        pyvrp.Depot(d.location, tw_early=d.time_window.start, tw_late=_bound(d.time_window.end))
        for d in problem.depots
    ]
    clients, client_orders, shipments, shipment_orders = [], [], [], []

    def window(stop: Stop) -> tuple[int, int]:
        tw = stop.time_windows[0] if stop.time_windows else TimeWindow()
        return tw.start, _bound(tw.end)

    for order in problem.orders:
        amount = list(problem.amount(order))
        if order.kind is OrderKind.SHIPMENT:
            assert order.pickup is not None and order.delivery is not None
            (pe, pl), (de, dl) = window(order.pickup), window(order.delivery)
            shipments.append(
                pyvrp.Shipment(
                    order.pickup.location,
                    order.delivery.location,
                    pickup_tw_early=pe,
                    pickup_tw_late=pl,
                    pickup_service_duration=order.pickup.service,
                    delivery_tw_early=de,
                    delivery_tw_late=dl,
                    delivery_service_duration=order.delivery.service,
                    amount=amount,
                    prize=PRIZE,
                    required=False,
                )
            )
            shipment_orders.append(order.id)
            continue
        stop = order.single_stop
        early, late = window(stop)
        load = {"pickup" if order.kind is OrderKind.PICKUP else "delivery": amount}
        clients.append(
            pyvrp.Client(
                stop.location,
                service_duration=stop.service,
                tw_early=early,
                tw_late=late,
                prize=PRIZE,
                required=False,
                **load,
            )
        )
        client_orders.append(order.id)

    profiles: dict[tuple[str, int, int], int] = {}
    groups: dict[tuple[object, ...], list[str]] = {}
    for v in problem.vehicles:
        rates = (v.type.profile, v.type.cost_per_hour, v.type.cost_per_km)
        profiles.setdefault(rates, len(profiles))
        groups.setdefault((v.type.id, v.start_depot, v.end_depot, v.shift, rates), []).append(v.id)
    vehicle_types = []
    type_vehicles = []
    for (type_id, start, end, shift, rates), ids in groups.items():
        vtype = problem.vehicle(ids[0]).type
        assert isinstance(start, int) and isinstance(end, int) and isinstance(shift, TimeWindow)
        early = max(shift.start, problem.depots[start].time_window.start)
        late = min(shift.end, problem.depots[end].time_window.end)
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(ids),
                capacity=list(vtype.capacity),
                start_depot=start,
                end_depot=end,
                fixed_cost=vtype.fixed_cost,
                tw_early=early,
                tw_late=_bound(late),
                unit_distance_cost=1,
                unit_duration_cost=0,
                profile=profiles[rates],  # type: ignore[index]
                name=str(type_id),
            )
        )
        type_vehicles.append(ids)
    distances, durations = [], []
    for profile, per_hour, per_km in profiles:
        matrix = problem.matrices[profile]
        dur = np.asarray(matrix.durations, dtype=np.int64)
        cost = np.rint(dur * (per_hour / 3600) + matrix.distances * (per_km / 1000))
        distances.append(cost.astype(np.int64))
        durations.append(dur)
    data = pyvrp.ProblemData(
        locations, clients, depots, vehicle_types, distances, durations, shipments=shipments
    )
    return _PyvrpModel(data, client_orders, shipment_orders, type_vehicles)


def run_pyvrp(problem: PlanningProblem, seconds: float) -> realistic.Result:
    """PyVRP on its own model of ``problem``, its routes laid on ``problem`` and validated."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    began = time.perf_counter()
    model = to_pyvrp(problem)
    result = pyvrp.solve(model.data, stop=MaxRuntime(seconds), seed=0, display=False)  # type: ignore[arg-type]
    wall = time.perf_counter() - began
    plan = pyvrp_plan(problem, model, result.best)
    report = validate(problem, plan)
    res = realistic.Result("pyvrp", report.cost, len(plan.unassigned), len(report.violations), wall)
    if not result.is_feasible():
        res.error = "PyVRP found no feasible solution"
    return res


def pyvrp_plan(problem: PlanningProblem, model: _PyvrpModel, solution: object) -> Plan:
    """A PyVRP solution of ``model`` as a plan of ``problem`` (scheduled by lastmile)."""
    pools = [list(ids) for ids in model.type_vehicles]
    routes = []
    served: set[str] = set()
    for route in solution.routes():  # type: ignore[attr-defined]
        vehicle = problem.vehicle(pools[route.vehicle_type()].pop(0))
        steps = []
        for act in route:
            if act.is_client():
                oid = model.client_orders[act.idx]
                steps.append(Step(VisitKind.JOB, order_id=oid))
            elif act.is_pickup() or act.is_delivery():
                oid = model.shipment_orders[act.idx]
                kind = VisitKind.PICKUP if act.is_pickup() else VisitKind.DELIVERY
                steps.append(Step(kind, order_id=oid))
            else:
                continue
            served.add(oid)
        routes.append(build_route(problem, vehicle, steps))
    unassigned = tuple(
        Unassigned(o.id, "left out by PyVRP", "engine")
        for o in problem.orders
        if o.id not in served
    )
    return Plan(tuple(routes), unassigned, "pyvrp")


# -- one day, every solver ------------------------------------------------------------


def run_lastmile(problem: PlanningProblem, seconds: float) -> realistic.Result:
    began = time.perf_counter()
    plan = solve(problem, time_limit=seconds, seed=0)
    wall = time.perf_counter() - began
    report = validate(problem, plan)
    return realistic.Result(
        f"lastmile ({plan.engine})",
        report.cost,
        len(plan.unassigned),
        len(report.violations),
        wall,
    )


def run_vroom(path: Path, problem: PlanningProblem, seconds: float) -> realistic.Result:
    tasks = sum(len(o.stops) for o in problem.orders)
    level, timeout = plan_search(tasks, seconds, nb_threads=2, max_level=5)
    res = realistic.run_pyvroom(path, timeout, level=level, problem=problem)
    res.solver = f"pyvroom (x{level}, {timeout:.1f} s)"
    return res


@dataclass
class DayRun:
    """Every solver on one day at one budget."""

    day: str
    orders: int
    mix: str
    budget_s: float
    results: dict[str, realistic.Result] = field(default_factory=dict)

    def valid(self, name: str) -> bool:
        r = self.results.get(name)
        return r is not None and not r.error and r.cost is not None and r.violations == 0

    def on_time(self, name: str) -> bool:
        """Finished within the budget (10 % + 1 s of slack).

        VROOM's timeout bounds only its local search: its constructions run to
        their end, which on big days under load takes far longer than the budget.
        """
        r = self.results.get(name)
        return r is not None and r.wall_s <= 1.1 * self.budget_s + 1.0

    def best_peer(self, *, on_time: bool = False) -> str | None:
        """The valid peer with the fewest orders left out, then the lowest cost
        (``on_time``: among the peers that kept to the budget)."""
        peers = [p for p in PEERS if self.valid(p) and (self.on_time(p) or not on_time)]
        return min(peers, key=self._key) if peers else None

    def _key(self, name: str) -> tuple[int, int]:
        r = self.results[name]
        return (r.unassigned or 0, r.cost or 0)

    def verdict(self, *, on_time: bool = False) -> tuple[bool | None, float | None]:
        """(lastmile <= best peer?, lastmile's excess over it in % of cost).

        ``(None, None)`` when no peer produced a valid plan. An invalid lastmile
        plan, or one leaving out more orders, is a loss with no excess figure.
        """
        peer = self.best_peer(on_time=on_time)
        if peer is None:
            return None, None
        if not self.valid("lastmile"):
            return False, None
        ours, theirs = self._key("lastmile"), self._key(peer)
        if ours[0] != theirs[0]:
            return ours[0] < theirs[0], None
        return ours[1] <= theirs[1], 100.0 * (ours[1] - theirs[1]) / max(theirs[1], 1)


def run_day(
    spec: DaySpec, budgets: Sequence[float], solvers: Sequence[str], cache: Path = CACHE
) -> list[DayRun]:
    path = day_file(spec, cache)
    problem = read_problem(path)
    misfit = pyvrp_misfit(problem)
    runs = []
    for budget in budgets:
        run = DayRun(spec.name, spec.orders, spec.mix, budget)
        for name in solvers:
            if name == "pyvrp" and misfit:
                continue
            try:
                if name == "lastmile":
                    res = run_lastmile(problem, budget)
                elif name == "pyvroom":
                    res = run_vroom(path, problem, budget)
                else:
                    res = run_pyvrp(problem, budget)
            except Exception as exc:  # a failing solver is reported, not fatal
                res = realistic.Result(name, error=f"{type(exc).__name__}: {exc}")
            run.results[name] = res
        runs.append(run)
    return runs


# -- output ---------------------------------------------------------------------------


def _cell(res: realistic.Result | None) -> str:
    if res is None:
        return "n/a"
    if res.error and res.cost is None:
        return f"error: {res.error[:40]}"
    text = f"{res.cost:,}"
    if res.unassigned:
        text += f" ({res.unassigned} out)"
    if res.violations:
        text += f" INVALID ({res.violations} viol.)"
    elif res.error:
        text += f" ({res.error[:30]})"
    return text + f" {res.wall_s:.0f}s"


def day_table(runs: Sequence[DayRun], solvers: Sequence[str]) -> Table:
    table = Table(
        title="Per day: validated cost (orders left out), wall time", title_justify="left"
    )
    columns = ("day", "mix", "T s", *solvers, "best peer", "lastmile vs best peer")
    for col in columns:
        table.add_column(col, justify="left" if col in ("day", "mix", "best peer") else "right")
    for run in runs:
        ok, excess = run.verdict()
        peer = run.best_peer() or "-"
        if ok is None:
            verdict = "no valid peer"
        elif excess is None:
            verdict = "better (serves more)" if ok else "WORSE (invalid or serves fewer)"
        else:
            verdict = f"{excess:+.2f} %"
        table.add_row(
            run.day,
            run.mix,
            f"{run.budget_s:g}",
            *(_cell(run.results.get(s)) for s in solvers),
            peer,
            verdict,
        )
    return table


@dataclass
class BudgetSummary:
    budget_s: float
    days: int  # days with a valid peer plan
    wins: int  # lastmile <= best peer
    worst_excess_pct: float | None  # inf: a day where lastmile served fewer orders
    geo_ratio: float | None  # over the days lastmile and the best peer served alike
    invalid: dict[str, int]
    overran: dict[str, int] = field(default_factory=dict)
    on_time: bool = False  # only the peers that kept to the budget were counted

    @property
    def share(self) -> float | None:
        return self.wins / self.days if self.days else None


def summarise(runs: Sequence[DayRun], *, on_time: bool = False) -> list[BudgetSummary]:
    """Per budget: on how many days lastmile was at most the best peer, the worst excess."""
    out = []
    for budget in sorted({r.budget_s for r in runs}):
        at = [r for r in runs if r.budget_s == budget]
        verdicts = [r.verdict(on_time=on_time) for r in at]
        counted = [(ok, ex) for ok, ex in verdicts if ok is not None]
        excesses = [ex for ok, ex in counted if ex is not None]
        losses_no_figure = any(not ok and ex is None for ok, ex in counted)
        ratios = [1 + ex / 100 for ex in excesses]
        invalid: dict[str, int] = {}
        overran: dict[str, int] = {}
        for r in at:
            for name, res in r.results.items():
                if res.violations or (res.error and res.cost is None):
                    invalid[name] = invalid.get(name, 0) + 1
                if not r.on_time(name):
                    overran[name] = overran.get(name, 0) + 1
        out.append(
            BudgetSummary(
                budget,
                len(counted),
                sum(1 for ok, _ in counted if ok),
                (math.inf if losses_no_figure else max(excesses)) if counted else None,
                math.exp(statistics.fmean(math.log(x) for x in ratios)) if ratios else None,
                invalid,
                overran,
                on_time,
            )
        )
    return out


def summary_table(rows: Sequence[BudgetSummary]) -> Table:
    table = Table(
        title="Summary per budget (targets: lastmile <= best peer on >= 90 % of days, "
        "never > 1 % above)",
        title_justify="left",
    )
    columns = (
        "T s",
        "peers counted",
        "days",
        "lastmile <= best peer",
        "worst excess %",
        "geo-mean ratio",
        "invalid",
        "over the budget",
    )
    for col in columns:
        table.add_column(col, justify="right")
    for s in rows:
        share = f"{s.wins}/{s.days} ({s.share:.0%})" if s.share is not None else "-"
        worst = (
            "-"
            if s.worst_excess_pct is None
            else "a loss in orders served"
            if math.isinf(s.worst_excess_pct)
            else f"{s.worst_excess_pct:+.2f}"
        )
        geo = f"{s.geo_ratio:.4f}" if s.geo_ratio is not None else "-"
        invalid = ", ".join(f"{k}: {v}" for k, v in sorted(s.invalid.items())) or "none"
        over = ", ".join(f"{k}: {v}" for k, v in sorted(s.overran.items())) or "none"
        counted = "on time only" if s.on_time else "all"
        table.add_row(f"{s.budget_s:g}", counted, str(s.days), share, worst, geo, invalid, over)
    return table


def engine_table(runs: Sequence[DayRun]) -> Table:
    """What each solver said it ran: lastmile's engine, pyvroom's level and timeout."""
    table = Table(title="Engines", title_justify="left")
    for col in ("day", "T s", "lastmile engine", "pyvroom level, timeout"):
        table.add_column(col, justify="right" if col == "T s" else "left")
    for run in runs:
        labels = [
            run.results[name].solver.partition(" (")[2][:-1] if name in run.results else "-"
            for name in ("lastmile", "pyvroom")
        ]
        table.add_row(run.day, f"{run.budget_s:g}", *labels)
    return table


def report(console: Console, runs: Sequence[DayRun], solvers: Sequence[str]) -> None:
    """The per-day tables and the summaries, counting every valid peer plan and then only
    those that kept to the budget."""
    console.print(day_table(runs, solvers))
    console.print(engine_table(runs))
    console.print(summary_table(summarise(runs) + summarise(runs, on_time=True)))


def load_runs(path: Path) -> list[DayRun]:
    """The runs a ``--json`` file saved."""
    data = json.loads(path.read_text())
    return [
        DayRun(
            r["day"],
            r["orders"],
            r["mix"],
            r["budget_s"],
            {name: realistic.Result(**res) for name, res in r["results"].items()},
        )
        for r in data["runs"]
    ]


def reseeded(spec: DaySpec, offset: int) -> DaySpec:
    """The same size, shape and constraint mix as ``spec``, drawn from seed + ``offset``:
    a day to check a change on that the planner was not measured on."""
    return replace(spec, seed=spec.seed + offset)


def select_days(days: str, subset: int | None, seed_offset: int = 0) -> list[DaySpec]:
    """``--days`` (1-based numbers or names, comma-separated) or an even ``--subset``;
    ``seed_offset`` redraws the chosen days from other seeds (:func:`reseeded`)."""
    chosen = list(DAYS)
    if days:
        picked = []
        for item in (x.strip() for x in days.split(",") if x.strip()):
            if item.isdigit() and 1 <= int(item) <= len(DAYS):
                picked.append(DAYS[int(item) - 1])
                continue
            match = [d for d in DAYS if d.name == item]
            if not match:
                raise SystemExit(f"--days: unknown day {item!r} (see --list)")
            picked.append(match[0])
        chosen = picked
    if subset is not None:
        if subset < 1:
            raise SystemExit(f"--subset: must be >= 1, got {subset}")
        if subset < len(chosen):
            step = (len(chosen) - 1) / max(subset - 1, 1)
            chosen = [chosen[round(k * step)] for k in range(subset)] if subset > 1 else chosen[:1]
    if seed_offset:
        chosen = [reseeded(d, seed_offset) for d in chosen]
    return chosen


def _floats(text: str, flag: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"{flag}: expected comma-separated seconds, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise SystemExit(f"{flag}: expected positive seconds, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--budgets", default="10,30,60", help="seconds per solver, e.g. 10,30,60")
    parser.add_argument(
        "--days", default="", help="day numbers or names, e.g. 1,5,compact-200-s101"
    )
    parser.add_argument("--subset", type=int, default=None, help="N days spread over the sizes")
    parser.add_argument(
        "--seed-offset",
        type=int,
        default=0,
        help="draw the chosen days from seed + N (same size and mix, other orders), "
        "e.g. 100 gives seeds 201-220: days to check a change on",
    )
    parser.add_argument(
        "--solvers", default=",".join(SOLVERS), help="subset of " + ",".join(SOLVERS)
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the day files go")
    parser.add_argument("--json", type=Path, default=None, help="save raw results here")
    parser.add_argument("--list", action="store_true", help="list the days and their seeds")
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        default=None,
        help="print the tables from saved --json files instead of running",
    )
    args = parser.parse_args(argv)
    budgets = _floats(args.budgets, "--budgets")
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    if "lastmile" not in solvers or set(solvers) - set(SOLVERS):
        raise SystemExit(f"--solvers: lastmile and a subset of {','.join(PEERS)}")
    days = select_days(args.days, args.subset, args.seed_offset)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    if args.report:
        report(console, [run for path in args.report for run in load_runs(path)], solvers)
        return 0
    if args.list:
        for k, d in enumerate(DAYS, 1):
            fits = "PyVRP too" if not d.pyvrp_misfit else f"no PyVRP: {d.pyvrp_misfit}"
            console.print(f"{k:2d}. {d.name:24s} seed {d.seed}  {d.mix}  ({fits})", markup=False)
        return 0
    console.print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    console.print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; cores: {os.cpu_count()}, "
        f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    console.print(
        f"{len(days)} day(s), seeds {', '.join(str(d.seed) for d in days)}; budgets {budgets} s; "
        "one solver after the other"
    )
    runs: list[DayRun] = []
    for spec in days:
        for run in run_day(spec, budgets, solvers, args.cache):
            runs.append(run)
            console.print(day_table([run], solvers))
    report(console, runs, solvers)
    console.print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "command": sys.argv,
                    "load_end": os.getloadavg(),
                    "runs": [
                        {**{k: v for k, v in asdict(r).items() if k != "results"},
                         "results": {n: asdict(x) for n, x in r.results.items()}}
                        for r in runs
                    ],
                },
                indent=1,
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
