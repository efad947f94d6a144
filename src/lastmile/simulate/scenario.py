"""Realistic delivery days, generated from a seed.

A scenario is what a mid-sized parcel and grocery business faces on one day
in one city: a main depot and a micro-hub, vans and cargo bikes with shifts and
lunch breaks, parcels with weight/volume, customer slots (some customers offer
two), returns picked up at customers, shop-to-customer shipments, chilled
goods that need a refrigerated van, and heavy items that need a tail lift.
Used by the demo, the tests and the benchmarks; the same seed always gives
the same day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from lastmile.planning.problem import PlanningProblem
from lastmile.travel.haversine import HaversineModel
from lastmile.travel.lazy import CoordinateMatrix
from lastmile.travel.matrix import TravelMatrix

HOUR = 3600
DIMENSIONS = ("weight_kg", "volume_l", "parcels")


@dataclass(frozen=True, slots=True)
class CitySpec:
    """Where the day happens. Defaults: central Lyon, France."""

    name: str = "Lyon"
    lon: float = 4.8357
    lat: float = 45.7640
    radius_km: float = 7.0


def _point(rng: np.random.Generator, city: CitySpec) -> tuple[float, float]:
    # Denser near the centre, like real demand.
    r = city.radius_km * 1000 * math.sqrt(rng.uniform(0.0, 1.0)) * rng.uniform(0.3, 1.0)
    theta = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(theta) / 111_320
    dlon = r * math.sin(theta) / (111_320 * math.cos(math.radians(city.lat)))
    return round(city.lon + dlon, 6), round(city.lat + dlat, 6)


def _slot(rng: np.random.Generator) -> TimeWindow:
    start = int(rng.choice([8, 9, 10, 11, 13, 14, 15, 16])) * HOUR
    length = int(rng.choice([2, 2, 3, 4])) * HOUR
    return TimeWindow(start, min(start + length, 19 * HOUR))


def city_day(
    *,
    n_orders: int = 200,
    n_vans: int = 10,
    n_bikes: int = 3,
    seed: int = 0,
    city: CitySpec | None = None,
    breaks: bool = True,
    setup: bool = True,
    lazy: bool = False,
) -> PlanningProblem:
    """One delivery day: ``n_orders`` orders, vans and cargo bikes, two depots.

    About 70% are deliveries from the depot, 12% returns (pickups), 8% shop ->
    customer shipments and the rest deliveries needing a skill; 15% of the
    customers offer two windows. Travel: straight lines with a 1.3 detour
    factor, vans at 25 km/h and bikes at 15 km/h. ``lazy`` computes travel
    leg by leg (:class:`~lastmile.travel.lazy.CoordinateMatrix`) instead of as
    dense matrices: for days of tens of thousands of orders, planned decomposed.
    """
    city = city or CitySpec()
    rng = np.random.default_rng(seed)
    locations = [
        Location(city.lon, city.lat, name=f"{city.name} main depot"),
        Location(*_point(rng, CitySpec(city.name, city.lon, city.lat, 2.0)), name="micro-hub"),
    ]
    depots = (
        Depot("main", 0, TimeWindow(6 * HOUR, 21 * HOUR), reload_time=900, name="Main depot"),
        Depot("hub", 1, TimeWindow(7 * HOUR, 20 * HOUR), reload_time=600, name="Micro-hub"),
    )

    orders: list[Order] = []
    for i in range(n_orders):
        oid = f"o{i + 1:04d}"
        roll = rng.uniform()
        weight = int(rng.integers(1, 25))
        amount = (weight, int(weight * rng.uniform(2, 6)), 1)
        skills: frozenset[str] = frozenset()
        if roll > 0.9:
            skills = (
                frozenset({"refrigerated"}) if rng.uniform() < 0.6 else frozenset({"tail_lift"})
            )
            if "tail_lift" in skills:
                amount = (int(rng.integers(60, 150)), int(rng.integers(200, 600)), 1)
        windows: tuple[TimeWindow, ...] = (_slot(rng),)
        if rng.uniform() < 0.15:
            first = windows[0]
            later = TimeWindow(
                min(first.end + HOUR, 17 * HOUR), min(first.end + 3 * HOUR, 20 * HOUR)
            )
            if later.start > first.end:
                windows = (first, later)
        service = int(rng.integers(2, 6)) * 60
        # Drawn either way, so that a day without set-up times has the same orders.
        setup_s = int(rng.integers(1, 3)) * 60
        setup_s = setup_s if setup else 0
        locations.append(Location(*_point(rng, city), name=f"customer {oid}"))
        here = len(locations) - 1
        stop = Stop(here, service=service, setup=setup_s, time_windows=windows, ref=oid)
        if 0.70 <= roll < 0.82:
            orders.append(Order(oid, OrderKind.PICKUP, pickup=stop, amount=amount, skills=skills))
        elif 0.82 <= roll < 0.90:
            locations.append(Location(*_point(rng, city), name=f"shop for {oid}"))
            shop = Stop(
                len(locations) - 1,
                service=300,
                setup=setup_s,
                time_windows=(TimeWindow(8 * HOUR, 15 * HOUR),),
                ref=f"{oid}-p",
            )
            drop = Stop(here, service=service, setup=setup_s, time_windows=windows, ref=f"{oid}-d")
            orders.append(Order(oid, OrderKind.SHIPMENT, pickup=shop, delivery=drop, amount=amount))
        else:
            priority = 50 if rng.uniform() < 0.1 else 0
            orders.append(
                Order(
                    oid,
                    OrderKind.DELIVERY,
                    delivery=stop,
                    amount=amount,
                    skills=skills,
                    priority=priority,
                )
            )

    van = VehicleType(
        "van", (900, 8000, 140), profile="van", fixed_cost=20_000, cost_per_hour=3600, cost_per_km=0
    )
    cold_van = VehicleType(
        "refrigerated van",
        (700, 6000, 110),
        frozenset({"refrigerated"}),
        profile="van",
        fixed_cost=25_000,
    )
    lift_van = VehicleType(
        "tail-lift van",
        (1500, 12000, 160),
        frozenset({"tail_lift"}),
        profile="van",
        fixed_cost=25_000,
    )
    bike = VehicleType("cargo bike", (150, 900, 40), profile="bike", fixed_cost=8_000)
    vehicles: list[Vehicle] = []
    for k in range(n_vans):
        vtype = cold_van if k % 5 == 1 else lift_van if k % 5 == 3 else van
        early = k % 3 == 0
        shift = TimeWindow((7 if early else 8) * HOUR, (16 if early else 19) * HOUR)
        lunch = (
            (Break(f"lunch-v{k + 1}", (TimeWindow(11 * HOUR + 1800, 13 * HOUR + 1800),), 1800),)
            if breaks
            else ()
        )
        vehicles.append(Vehicle(f"van-{k + 1:02d}", vtype, 0, 0, shift, breaks=lunch))
    for k in range(n_bikes):
        vehicles.append(
            Vehicle(
                f"bike-{k + 1:02d}",
                bike,
                1,
                1,
                TimeWindow(8 * HOUR, 17 * HOUR),
            )
        )

    models = {
        "van": HaversineModel(speed_kph=25, detour_factor=1.3),
        "bike": HaversineModel(speed_kph=15, detour_factor=1.2),
    }
    matrices: dict[str, TravelMatrix] = {
        name: CoordinateMatrix(locations, model) if lazy else model.matrix(locations)
        for name, model in models.items()
    }
    return PlanningProblem(
        locations=tuple(locations),
        matrices=matrices,
        depots=depots,
        vehicles=tuple(vehicles),
        orders=tuple(orders),
        dimensions=DIMENSIONS,
        name=f"{city.name} day (seed {seed}, {n_orders} orders)",
        travel_note="straight-line distance x1.3 detour at 25 km/h (vans), x1.2 at 15 km/h (bikes)",
    )


def random_matrix_problem(
    *, n_orders: int, n_vehicles: int, seed: int, capacity: int = 100, horizon: int = 36_000
) -> PlanningProblem:
    """A small abstract problem (random matrix, windows, loads) for tests."""
    rng = np.random.default_rng(seed)
    n = n_orders + 1
    xy = rng.uniform(0, 1000, size=(n, 2))
    d = np.rint(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    orders = []
    for i in range(1, n):
        start = int(rng.integers(0, horizon // 2))
        tw = TimeWindow(start, start + int(rng.integers(horizon // 8, horizon // 2)))
        orders.append(
            Order(
                f"c{i}",
                OrderKind.DELIVERY,
                delivery=Stop(i, service=int(rng.integers(0, 300)), time_windows=(tw,)),
                amount=(int(rng.integers(1, capacity // 3)),),
            )
        )
    vt = VehicleType("t", (capacity,), cost_per_hour=0, cost_per_km=1000)
    return PlanningProblem(
        locations=tuple(Location(float(x), float(y), planar=True) for x, y in xy),
        matrices={"car": TravelMatrix(d, d.copy())},
        depots=(Depot("d", 0, TimeWindow(0, horizon)),),
        vehicles=tuple(
            Vehicle(f"v{k}", vt, shift=TimeWindow(0, horizon)) for k in range(n_vehicles)
        ),
        orders=tuple(orders),
        dimensions=("load",),
        name=f"random-{seed}",
    )
