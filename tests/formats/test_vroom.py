"""VROOM JSON: reading every field, precise errors, solution output, round trips."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.domain import (
    HORIZON,
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
from lastmile.exceptions import FormatError, InputError, UnsupportedConstraint
from lastmile.formats.vroom import (
    VROOM_MAX_TIME,
    read_problem,
    write_problem,
    write_solution,
)
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.travel import HaversineModel, TravelMatrix

DATA = Path(__file__).parent.parent / "data" / "vroom"
MATRICES = DATA / "matrices.json"
COORDS = DATA / "coordinates.json"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# -- reading --------------------------------------------------------------------------


def test_reads_every_field_of_a_matrix_problem() -> None:
    p = read_problem(MATRICES)
    assert p.name == "matrices"
    assert p.dimensions == ("amount_0", "amount_1")
    assert p.travel_note.startswith("durations and distances from the problem's matrices")
    assert "speed_factor" in p.travel_note
    assert len(p.locations) == 6
    assert (p.locations[0].lon, p.locations[0].lat) == (2.35044, 48.71764)
    assert p.locations[1].name == "bakery"
    assert p.locations[4].name == "shop"
    assert not p.locations[2].has_coordinates

    v1, v2, v3 = p.vehicles
    assert v1.id == "1"
    assert v1.capacity == (10, 4)
    assert v1.skills == frozenset({"1", "14"})
    assert v1.shift == TimeWindow(28800, 64800)
    t = v1.type
    assert (t.fixed_cost, t.cost_per_hour, t.cost_per_km, t.profile) == (100, 1800, 2, "car")
    assert (v1.max_tasks, v1.max_travel_time, v1.max_distance) == (10, 20000, 300000)
    (brk,) = v1.breaks
    assert brk == Break("7", (TimeWindow(43200, 45000), TimeWindow(46800, 48600)), 1800)
    assert p.depots[v1.start_depot or 0].location == 0
    assert v1.start_depot == v1.end_depot

    # Open route on its own profile, scaled by speed_factor 1.5 (VROOM's factor: round(100/1.5)).
    assert v2.end_depot is None
    assert p.depots[v2.start_depot or 0].location == 5
    assert v2.type.profile == "bike@x1.5"
    assert v2.shift == TimeWindow()
    bike = load(MATRICES)["matrices"]["bike"]
    expected = (np.array(bike["durations"]) * 67 + 50) // 100
    assert (p.matrices["bike@x1.5"].durations == expected).all()
    assert (p.matrices["bike@x1.5"].distances == np.array(bike["distances"])).all()
    assert (
        p.matrices["car"].durations == np.array(load(MATRICES)["matrices"]["car"]["durations"])
    ).all()

    # Same capacity/skills/profile but different costs: a different vehicle type.
    assert v3.type != v1.type and v3.type.cost_per_hour == 3600
    assert len({v.type.id for v in p.vehicles}) == 3

    orders = {o.id: o for o in p.orders}
    bakery = orders["10"]
    assert bakery.kind is OrderKind.DELIVERY
    assert bakery.amount == (2, 1)
    assert bakery.priority == 50 and bakery.skills == frozenset({"1"})
    assert bakery.delivery == Stop(
        1, service=300, setup=60, ref="10",
        time_windows=(TimeWindow(32400, 36000), TimeWindow(39600, 43200)),
    )  # fmt: skip
    assert orders["11"].kind is OrderKind.PICKUP and orders["11"].amount == (1, 0)
    assert orders["12"].kind is OrderKind.DELIVERY and orders["12"].amount == (3, 0)  # "amount"
    assert orders["13"].kind is OrderKind.DELIVERY  # zero pickup and delivery
    ship = orders["s4-3"]
    assert ship.kind is OrderKind.SHIPMENT
    assert ship.pickup == Stop(4, service=30, ref="4")
    assert ship.delivery is not None and ship.delivery.ref == "3"
    assert ship.delivery.time_windows == ()  # [0, VROOM's max]: any time
    assert ship.amount == (1, 1) and ship.priority == 10 and ship.skills == frozenset({"2"})


def test_coordinates_only_uses_straight_lines_and_says_so() -> None:
    p = read_problem(COORDS)
    model = HaversineModel()
    assert p.travel_note == model.description
    # The depot and each distinct coordinate once; jobs 1 and 6 share a place.
    assert len(p.locations) == 6
    assert p.locations[1].name == "north / north again"
    orders = {o.id: o for o in p.orders}
    assert orders["1"].single_stop.location == orders["6"].single_stop.location
    expected = model.matrix(p.locations)
    assert (p.matrices["car"].durations == expected.durations).all()
    assert (p.matrices["car"].distances == expected.distances).all()


def test_coordinates_with_another_travel_model() -> None:
    model = HaversineModel(speed_kph=50, detour_factor=1.3)
    p = read_problem(COORDS, travel=model)
    assert p.travel_note == model.description
    assert (p.matrices["car"].durations == model.matrix(p.locations).durations).all()


def test_speed_factor_on_straight_lines() -> None:
    data = load(COORDS)
    data["vehicles"][1]["speed_factor"] = 2.0
    p = read_problem(data)
    assert p.vehicles[1].type.profile == "car@x2"
    base = p.matrices["car"].durations
    assert (p.matrices["car@x2"].durations == (base * 50 + 50) // 100).all()
    assert "speed_factor" in p.travel_note


def test_durations_only_matrix_fills_distances_from_coordinates_and_says_so() -> None:
    data = {
        "vehicles": [{"id": 1, "start_index": 0, "start": [2.35, 48.85]}],
        "jobs": [{"id": 1, "location_index": 1, "location": [2.36, 48.86]}],
        "matrix": [[0, 99], [99, 0]],
    }
    p = read_problem(data)
    assert (p.matrices["car"].durations == [[0, 99], [99, 0]]).all()
    assert p.matrices["car"].distances[0, 1] > 0
    assert "straight-line" in p.travel_note and "durations from the problem" in p.travel_note
    del data["jobs"][0]["location"]  # type: ignore[index]
    p = read_problem(data)
    assert (p.matrices["car"].distances == 0).all()
    assert "no distances" in p.travel_note


def test_break_without_windows_may_happen_any_time() -> None:
    data = load(COORDS)
    data["vehicles"][0]["breaks"] = [{"id": 3, "service": 600}]
    (brk,) = read_problem(data).vehicles[0].breaks
    assert brk.time_windows == (TimeWindow(),) and brk.duration == 600


def test_reads_a_dict_and_names_the_source_in_errors() -> None:
    data = load(MATRICES)
    data["jobs"][0]["service"] = "300"
    with pytest.raises(FormatError) as err:
        read_problem(data, source="request body")
    assert err.value.where == "request body: jobs[0].service"
    assert "must be an integer" in str(err.value)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set (or with value=DELETE remove) ``path`` like ``jobs.0.service`` in ``data``."""
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


DELETE = object()

# (change, exception, field path named, words in the message)
BAD_INPUTS = [
    ("jobs.0.pickup", [1, 0], InputError, "jobs[0].pickup", "both pickup and delivery"),
    ("matrices.car.costs", [[0]], InputError, "matrices.car.costs", "cost matrices"),
    ("vehicles.0.steps", [], InputError, "vehicles[0].steps", "not supported"),
    ("jobs.1.setup_per_type", {"van": 3}, InputError, "jobs[1].setup_per_type", "per vehicle"),
    ("vehicles.0.breaks.0.max_load", [1, 1], InputError, "breaks[0].max_load", "not supported"),
    ("vehicles.0.costs.per_task_hour", 10, InputError, "costs.per_task_hour", "task time"),
    ("jobs.1.colour", "red", InputError, "jobs[1].colour", "unknown key"),
    ("shipments.0.pickup.amount", [1], InputError, "shipments[0].pickup.amount", "unknown key"),
    ("jobs.2.id", DELETE, FormatError, "jobs[2].id", "missing"),
    ("jobs.0.service", "300", FormatError, "jobs[0].service", "must be an integer"),
    ("jobs.0.service", 1.5, FormatError, "jobs[0].service", "must be an integer"),
    ("jobs.0.setup", -1, FormatError, "jobs[0].setup", ">= 0"),
    ("jobs.0.time_windows.1", [5, 1], FormatError, "jobs[0].time_windows[1]", "after end"),
    ("jobs.0.time_windows.1", [35000, 40000], InputError, "jobs[0].time_windows", "overlap"),
    ("jobs.0.time_windows", [], FormatError, "jobs[0].time_windows", "at least one"),
    ("jobs.0.time_windows", [[1, 2, 3]], FormatError, "jobs[0].time_windows[0]", "[start, end]"),
    ("jobs.1.location_index", DELETE, FormatError, "jobs[1].location_index", "required"),
    ("jobs.1.location_index", 6, InputError, "jobs[1].location_index", "outside"),
    ("jobs.0.location_index", 0, InputError, "jobs[0].location", "differ"),
    ("jobs.0.location", [200.0, 48.7], FormatError, "jobs[0].location[0]", "longitude"),
    ("jobs.0.priority", 101, FormatError, "jobs[0].priority", "<= 100"),
    ("jobs.0.skills", [1, "a"], FormatError, "jobs[0].skills[1]", "integer"),
    ("jobs.1.pickup", [1, 0, 0], InputError, "jobs[1].pickup", "same length"),
    ("jobs.3.id", 10, InputError, "jobs[3].id", "duplicate job id 10"),
    ("shipments.0.delivery.id", DELETE, FormatError, "shipments[0].delivery.id", "missing"),
    ("shipments.0.pickup", DELETE, FormatError, "shipments[0].pickup", "missing"),
    ("vehicles.1.id", 1, InputError, "vehicles[1].id", "duplicate vehicle id"),
    ("vehicles.1.start_index", DELETE, FormatError, "vehicles[1].start", "start, an end"),
    ("vehicles.1.profile", "truck", InputError, "vehicles[1].profile", "no matrix"),
    ("vehicles.1.speed_factor", 0, FormatError, "vehicles[1].speed_factor", "(0, 5]"),
    ("vehicles.0.time_window", [5], FormatError, "vehicles[0].time_window", "[start, end]"),
    ("vehicles.0.breaks.0.id", DELETE, FormatError, "vehicles[0].breaks[0].id", "missing"),
    ("vehicles.0.costs", [1], FormatError, "vehicles[0].costs", "must be an object"),
    ("vehicles", DELETE, FormatError, "vehicles", "missing"),
    ("vehicles", [], InputError, "vehicles", "at least one"),
    ("jobs", {}, FormatError, "jobs", "must be an array"),
    ("matrices.car", {"durations": [[0, 1], [1, 0]]}, InputError, "matrices", "same matrix size"),
    ("matrices.car.durations.0.1", 1.5, FormatError, "matrices.car.durations[0][1]", "integer"),
    ("matrices.car.durations.0", [0, 1], FormatError, "matrices.car.durations", "square"),
    ("matrices.car.durations.2.3", -4, FormatError, "matrices.car.durations[2][3]", ">= 0"),
    ("matrices.car.distances", DELETE, InputError, "vehicles[0].costs.per_km", "distances"),
    ("matrices.car.durations", DELETE, FormatError, "matrices.car.durations", "missing"),
    ("options", {"g": True}, InputError, "options", "unknown key"),
]


@pytest.mark.parametrize(("path", "value", "error", "where", "words"), BAD_INPUTS)
def test_errors_name_the_file_and_field(
    path: str, value: Any, error: type[Exception], where: str, words: str
) -> None:
    data = load(MATRICES)
    _set(data, path, value)
    with pytest.raises(error) as err:
        read_problem(data, source="matrices.json")
    exc = err.value
    assert isinstance(exc, InputError)
    assert exc.where.startswith("matrices.json: ")
    assert where in exc.where, exc.where
    assert words in str(exc), str(exc)
    if error is InputError:
        assert not isinstance(exc, FormatError)


def test_missing_coordinates_without_matrices() -> None:
    data = load(COORDS)
    del data["jobs"][2]["location"]
    with pytest.raises(FormatError, match=r"jobs\[2\]\.location"):
        read_problem(data)


def test_bad_json_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"vehicles": [\n  {"id": 1,}\n]}')
    with pytest.raises(FormatError) as err:
        read_problem(path)
    assert err.value.where == str(path)
    assert "line 2" in str(err.value)
    with pytest.raises(FormatError, match="cannot read"):
        read_problem(tmp_path / "missing.json")
    path.write_text("[1, 2]")
    with pytest.raises(FormatError, match="must be an object"):
        read_problem(path)


# -- writing solutions --------------------------------------------------------------


def _plan(p: PlanningProblem) -> Plan:
    """A hand-made plan: vehicle 1 serves 13, 11, 10 and its break; 2 the rest but 12."""
    v1, v2, _ = p.vehicles
    r1 = build_route(
        p,
        v1,
        [
            Step(VisitKind.JOB, order_id="13"),
            Step(VisitKind.JOB, order_id="11"),
            Step(VisitKind.JOB, order_id="10"),
            Step(VisitKind.BREAK, break_id="7"),
        ],
    )
    r2 = build_route(
        p, v2, [Step(VisitKind.PICKUP, order_id="s4-3"), Step(VisitKind.DELIVERY, order_id="s4-3")]
    )
    return Plan((r1, r2), (Unassigned("12", "no vehicle has room", "no_room"),), "test", 0.25)


STEP_KEYS = {
    "type",
    "arrival",
    "duration",
    "setup",
    "service",
    "waiting_time",
    "load",
    "distance",
    "violations",
}


def test_write_solution_follows_vroom_schema() -> None:
    p = read_problem(MATRICES)
    plan = _plan(p)
    out = write_solution(p, plan)
    json.dumps(out)  # plain JSON types only
    assert out["code"] == 0
    summary = out["summary"]
    assert set(summary) >= {
        "cost", "routes", "unassigned", "setup", "service", "duration", "waiting_time",
        "priority", "distance", "delivery", "pickup", "computing_times", "violations",
    }  # fmt: skip
    assert summary["routes"] == 2 and summary["unassigned"] == 1
    assert summary["cost"] == plan.cost == sum(r["cost"] for r in out["routes"])
    assert summary["distance"] == plan.distance
    assert summary["computing_times"]["solving"] == 250
    assert summary["priority"] == 50 + 10 + 10  # VROOM counts each shipment step
    assert summary["delivery"] == [2 + 1, 1 + 1] and summary["pickup"] == [1 + 1, 0 + 1]
    assert summary["setup"] == 60 and summary["service"] == 300 + 120 + 1800 + 30 + 45

    r1, r2 = out["routes"]
    assert r1["vehicle"] == 1 and isinstance(r1["vehicle"], int)
    for route in out["routes"]:
        assert route["steps"][0]["type"] == "start" and route["steps"][-1]["type"] == "end"
        assert route["duration"] == route["steps"][-1]["duration"]
        assert route["distance"] == route["steps"][-1]["distance"]
        for step in route["steps"]:
            assert set(step) >= STEP_KEYS
    types = [s["type"] for s in r1["steps"]]
    assert types == ["start", "job", "job", "job", "break", "end"]
    bakery = r1["steps"][3]
    assert bakery["id"] == 10 and bakery["location"] == [1.98935, 48.701]
    assert bakery["location_index"] == 1 and bakery["description"] == "bakery"
    assert bakery["setup"] == 60 and bakery["service"] == 300
    assert bakery["arrival"] + bakery["waiting_time"] in (32400, 39600) or (
        32400 <= bakery["arrival"] + bakery["waiting_time"] <= 43200
    )
    brk = r1["steps"][4]
    assert brk["id"] == 7 and "location" not in brk and brk["service"] == 1800
    assert r1["steps"][1]["load"] == [2, 1]  # the start carries 10's delivery, 13 adds nothing

    # The open route gets an end step where it stops; shipment steps keep their ids.
    assert [s["type"] for s in r2["steps"]] == ["start", "pickup", "delivery", "end"]
    assert [s.get("id") for s in r2["steps"]] == [None, 4, 3, None]
    assert r2["steps"][-1]["location_index"] == 3

    (unassigned,) = out["unassigned"]
    assert unassigned == {
        "id": 12, "type": "job", "location_index": 3, "reason": "no vehicle has room",
        "code": "no_room",
    }  # fmt: skip
    assert out["lastmile"] == {
        "engine": "test", "travel_note": p.travel_note, "time_scale": 1, "runtime_s": 0.25,
    }  # fmt: skip


def test_unassigned_shipment_lists_both_steps() -> None:
    p = read_problem(MATRICES)
    plan = Plan((), (Unassigned("s4-3", "needs skill 2", "skills"),))
    out = write_solution(p, plan, computing_time_s=1.5)
    assert [(u["type"], u["id"]) for u in out["unassigned"]] == [("pickup", 4), ("delivery", 3)]
    assert out["summary"]["unassigned"] == 2 and out["summary"]["routes"] == 0
    assert out["summary"]["computing_times"]["solving"] == 1500


def test_time_scale_reports_in_instance_units() -> None:
    p = dataclasses.replace(read_problem(MATRICES), time_scale=10)
    plan = _plan(p)
    out = write_solution(p, plan)
    assert out["summary"]["cost"] == pytest.approx(plan.cost / 10)
    assert out["summary"]["distance"] == pytest.approx(plan.distance / 10)
    step = out["routes"][0]["steps"][1]
    visit = plan.routes[0].visits[1]
    assert step["arrival"] == pytest.approx(visit.arrival / 10)
    assert step["load"] == list(visit.load)  # amounts are not scaled
    assert out["lastmile"]["time_scale"] == 10


def test_non_numeric_ids_are_written_as_strings() -> None:
    p = _named_problem()
    route = build_route(p, p.vehicles[0], [Step(VisitKind.JOB, order_id="parcel-A")])
    out = write_solution(p, Plan((route,)))
    assert out["routes"][0]["vehicle"] == "van-north"
    assert out["routes"][0]["steps"][1]["id"] == "parcel-A"


# -- writing problems and round trips --------------------------------------------------


def _same_problem(a: PlanningProblem, b: PlanningProblem) -> None:
    assert a.locations == b.locations
    assert a.depots == b.depots
    assert a.vehicles == b.vehicles
    assert a.orders == b.orders
    assert a.dimensions == b.dimensions
    assert set(a.matrices) == set(b.matrices)
    for profile, m in a.matrices.items():
        assert (m.durations == b.matrices[profile].durations).all()
        assert (m.distances == b.matrices[profile].distances).all()


@pytest.mark.parametrize("path", [MATRICES, COORDS])
def test_round_trip_write_problem_read_problem(path: Path, tmp_path: Path) -> None:
    p = read_problem(path)
    written = write_problem(p)
    target = tmp_path / "problem.json"
    target.write_text(json.dumps(written))
    back = read_problem(target)
    _same_problem(p, back)
    assert back.travel_note == "durations and distances from the problem's matrices"
    assert write_problem(back) == written


def _named_problem() -> PlanningProblem:
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


def test_write_problem_renumbers_non_numeric_ids_and_folds_depot_hours() -> None:
    p = _named_problem()
    written = write_problem(p)
    (vehicle,) = written["vehicles"]
    assert vehicle["id"] == 1 and vehicle["description"] == "van-north"
    assert vehicle["time_window"] == [3600, 50000]
    assert vehicle["start_index"] == 0 and vehicle["start"] == [4.9, 52.37]
    assert vehicle["breaks"] == [
        {"id": 1, "time_windows": [[40000, 43000]], "service": 1800, "description": "lunch"}
    ]
    assert vehicle["skills"] == [1]
    job_a, job_b = written["jobs"]
    assert job_a["description"] == "parcel-A" and job_a["delivery"] == [2]
    assert job_a["skills"] == [1] and job_a["priority"] == 3 and job_a["service"] == 60
    assert job_b["pickup"] == [1] and "location" not in job_b  # planar: no coordinates
    assert job_b["time_windows"] == [[10, 20]]
    assert written["matrices"]["car"]["distances"][0][1] == 1000
    back = read_problem(written)
    assert [o.kind for o in back.orders] == [OrderKind.DELIVERY, OrderKind.PICKUP]
    assert back.vehicles[0].shift == TimeWindow(3600, 50000)


def test_write_problem_refuses_what_vroom_cannot_model() -> None:
    p = _named_problem()
    capped = dataclasses.replace(
        p, vehicles=(dataclasses.replace(p.vehicles[0], max_duration=3600),)
    )
    with pytest.raises(UnsupportedConstraint, match="max_duration"):
        write_problem(capped)
    multi = dataclasses.replace(
        p, vehicles=(dataclasses.replace(p.vehicles[0], reload_depots=(0,)),)
    )
    with pytest.raises(UnsupportedConstraint, match="reloads"):
        write_problem(multi)


def test_unbounded_times_become_vroom_maximum() -> None:
    p = _named_problem()
    open_shift = dataclasses.replace(
        p,
        vehicles=(dataclasses.replace(p.vehicles[0], shift=TimeWindow(7200, HORIZON)),),
        depots=(Depot("hub", 0),),
    )
    written = write_problem(open_shift)
    assert written["vehicles"][0]["time_window"] == [7200, VROOM_MAX_TIME]
    assert read_problem(written).vehicles[0].shift == TimeWindow(7200, HORIZON)


# -- property: reading what we wrote gives the same problem ----------------------------


@st.composite
def vroom_problems(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 6))
    dims = draw(st.integers(0, 2))
    cell = st.integers(0, 5000)
    durations = draw(st.lists(st.lists(cell, min_size=n, max_size=n), min_size=n, max_size=n))
    distances = draw(st.lists(st.lists(cell, min_size=n, max_size=n), min_size=n, max_size=n))
    loc = st.integers(0, n - 1)
    amount = st.lists(st.integers(0, 9), min_size=dims, max_size=dims)

    def windows() -> list[list[int]]:
        starts = sorted(draw(st.sets(st.integers(0, 500), min_size=1, max_size=3)))
        return [[100 * s, 100 * s + draw(st.integers(0, 99))] for s in starts]

    jobs = []
    for i in range(draw(st.integers(0, 5))):
        job: dict[str, Any] = {"id": i * 3 + 1, "location_index": draw(loc)}
        if dims:
            job[draw(st.sampled_from(["delivery", "pickup"]))] = draw(amount)
        if draw(st.booleans()):
            job["time_windows"] = windows()
        job["service"] = draw(st.integers(0, 600))
        job["setup"] = draw(st.integers(0, 60))
        job["priority"] = draw(st.integers(0, 100))
        job["skills"] = sorted(draw(st.sets(st.integers(0, 3), max_size=2)))
        jobs.append(job)
    shipments = []
    for i in range(draw(st.integers(0, 3))):
        ship: dict[str, Any] = {
            "pickup": {"id": 100 + i, "location_index": draw(loc)},
            "delivery": {"id": 200 + i, "location_index": draw(loc), "service": 5},
        }
        if dims:
            ship["amount"] = draw(amount)
        shipments.append(ship)
    vehicles = []
    for i in range(draw(st.integers(1, 3))):
        vehicle: dict[str, Any] = {"id": i + 7, "start_index": draw(loc)}
        if draw(st.booleans()):
            vehicle["end_index"] = draw(loc)
        if dims:
            vehicle["capacity"] = draw(st.lists(st.integers(0, 30), min_size=dims, max_size=dims))
        if draw(st.booleans()):
            vehicle["speed_factor"] = draw(st.sampled_from([0.5, 1.25, 2.0]))
        if draw(st.booleans()):
            vehicle["costs"] = {"fixed": draw(st.integers(0, 999)), "per_km": draw(cell)}
        if draw(st.booleans()):
            vehicle["breaks"] = [{"id": 1, "service": 300, "time_windows": windows()}]
        if draw(st.booleans()):
            vehicle["max_tasks"] = draw(st.integers(0, 5))
        vehicles.append(vehicle)
    return {
        "vehicles": vehicles,
        "jobs": jobs,
        "shipments": shipments,
        "matrices": {"car": {"durations": durations, "distances": distances}},
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vroom_problems())
def test_property_round_trip(data: dict[str, Any]) -> None:
    original = copy.deepcopy(data)
    p = read_problem(data)
    assert data == original  # the input is not modified
    back = read_problem(write_problem(p))
    _same_problem(p, back)


def test_vroom_itself_reads_what_we_write(tmp_path: Path) -> None:
    """VROOM's own parser accepts write_problem's output and finds the same optimum."""
    import vroom

    original = vroom.Input.from_json(MATRICES)
    target = tmp_path / "written.json"
    target.write_text(json.dumps(write_problem(read_problem(MATRICES))))
    written = vroom.Input.from_json(target)
    costs = [
        inp.solve(exploration_level=5, nb_threads=1).to_dict()["summary"]["cost"]
        for inp in (original, written)
    ]
    assert costs[0] == costs[1]
