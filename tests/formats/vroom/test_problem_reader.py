"""VROOM JSON problems are read field by field, with precise errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lastmile.domain import (
    Break,
    OrderKind,
    Stop,
    TimeWindow,
)
from lastmile.exceptions import FormatError, InputError
from lastmile.formats.vroom import (
    read_problem,
)
from lastmile.travel import HaversineModel

DATA = Path(__file__).parents[2] / "data" / "vroom"
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
