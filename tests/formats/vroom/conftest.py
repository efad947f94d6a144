"""Shared problems of the VROOM format tests."""

from __future__ import annotations

import numpy as np
import pytest

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
from lastmile.travel import TravelMatrix


@pytest.fixture
def named_problem() -> PlanningProblem:
    """A problem whose ids are not numbers, with depot hours, a break and a skill."""
    d = np.array([[0, 100, 200], [100, 0, 100], [200, 100, 0]], dtype=np.int64)
    vt = VehicleType("van", (5,), skills=frozenset({"fridge"}))
    return PlanningProblem(
        locations=(
            Location(4.9, 52.37, name="hub"),
            Location(4.91, 52.37),
            Location(1.0, 2.0, planar=True),
        ),
        matrices={"car": TravelMatrix(d, d * 10)},
        depots=(Depot("hub", 0, TimeWindow(3600, 72000)),),
        vehicles=(
            Vehicle(
                "van-north",
                vt,
                shift=TimeWindow(0, 50000),
                breaks=(Break("lunch", (TimeWindow(40000, 43000),), 1800),),
            ),
        ),
        orders=(
            Order(
                "parcel-A",
                OrderKind.DELIVERY,
                delivery=Stop(1, service=60),
                amount=(2,),
                skills=frozenset({"fridge"}),
                priority=3,
            ),
            Order(
                "return-B",
                OrderKind.PICKUP,
                pickup=Stop(2, time_windows=(TimeWindow(10, 20),)),
                amount=(1,),
            ),
        ),
        dimensions=("parcels",),
    )
