"""Problems are written as VROOM JSON that reads back the same, and that vroom reads."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.domain import (
    HORIZON,
    Depot,
    OrderKind,
    TimeWindow,
)
from lastmile.exceptions import InputError, LastmileError, UnsupportedConstraint
from lastmile.formats.vroom import (
    VROOM_MAX_TIME,
    read_problem,
    write_problem,
)
from lastmile.planning.problem import PlanningProblem

DATA = Path(__file__).parents[2] / "data" / "vroom"
MATRICES = DATA / "matrices.json"
COORDS = DATA / "coordinates.json"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


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


def test_write_problem_renumbers_non_numeric_ids_and_folds_depot_hours(
    named_problem: PlanningProblem,
) -> None:
    p = named_problem
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


def test_write_problem_refuses_what_vroom_cannot_model(named_problem: PlanningProblem) -> None:
    p = named_problem
    capped = dataclasses.replace(
        p, vehicles=(dataclasses.replace(p.vehicles[0], max_duration=3600),)
    )
    with pytest.raises(UnsupportedConstraint, match="max_duration"):
        write_problem(capped)


def _with_reloads(p: PlanningProblem) -> PlanningProblem:
    """``p`` whose van may reload at the hub (10 min) and at a second depot, at most twice."""
    return dataclasses.replace(
        p,
        depots=(
            Depot("hub", 0, TimeWindow(3600, 72000), reload_time=600),
            Depot("yard", 1, TimeWindow(0, 60000), reload_time=300),
        ),
        vehicles=(dataclasses.replace(p.vehicles[0], reload_depots=(0, 1), max_reloads=2),),
    )


def test_reloads_are_written_in_the_reloads_extension(named_problem: PlanningProblem) -> None:
    written = write_problem(_with_reloads(named_problem))
    (vehicle,) = written["vehicles"]
    assert vehicle["reloads"] == {
        "depots": [
            {
                "location_index": 0,
                "location": [4.9, 52.37],
                "service": 600,
                "time_window": [3600, 72000],
            },
            {
                "location_index": 1,
                "location": [4.91, 52.37],
                "service": 300,
                "time_window": [0, 60000],
            },
        ],
        "max": 2,
    }
    # Breaks stay VROOM's own field, next to the extension.
    assert vehicle["breaks"][0]["service"] == 1800


def test_round_trip_with_breaks_and_reloads(named_problem: PlanningProblem) -> None:
    p = _with_reloads(named_problem)
    back = read_problem(json.loads(json.dumps(write_problem(p))))
    (vehicle,) = back.vehicles
    # Windows and duration kept; the id "lunch" comes back as its number (VROOM ids).
    assert [(b.time_windows, b.duration) for b in vehicle.breaks] == [
        (b.time_windows, b.duration) for b in p.vehicles[0].breaks
    ]
    assert [back.depots[d].location for d in vehicle.reload_depots] == [0, 1]
    assert [back.depots[d].reload_time for d in vehicle.reload_depots] == [600, 300]
    assert back.depots[1].time_window == TimeWindow(0, 60000)
    assert vehicle.max_reloads == 2
    assert {"breaks", "reloads"} <= {str(f) for f in back.features}
    # Descriptions of the original ids are not kept; from then on it is a fixed point.
    written = write_problem(back)
    assert write_problem(read_problem(json.loads(json.dumps(written)))) == written


def test_reloads_default_to_the_start_depot() -> None:
    data = {
        "vehicles": [{"id": 1, "start_index": 0, "capacity": [2], "reloads": {"service": 900}}],
        "jobs": [{"id": 7, "location_index": 1, "delivery": [1]}],
        "matrices": {"car": {"durations": [[0, 60], [60, 0]]}},
    }
    p = read_problem(data)
    (vehicle,) = p.vehicles
    assert vehicle.reload_depots == (vehicle.start_depot,)
    assert p.depots[vehicle.reload_depots[0]].reload_time == 900
    assert vehicle.max_reloads is None


@pytest.mark.parametrize(
    ("reloads", "where"),
    [
        ({"depots": []}, "vehicles[0].reloads.depots"),
        ({"depots": [{"service": 60}]}, "vehicles[0].reloads.depots[0].location"),
        ({"max": -1}, "vehicles[0].reloads.max"),
        ({"every": 2}, "vehicles[0].reloads"),
        ({"depots": [{"location_index": 5}]}, "vehicles[0].reloads.depots[0].location_index"),
    ],
)
def test_bad_reloads_name_the_field(reloads: dict[str, Any], where: str) -> None:
    data = {
        "vehicles": [{"id": 1, "start_index": 0, "reloads": reloads}],
        "jobs": [{"id": 7, "location_index": 1}],
        "matrices": {"car": {"durations": [[0, 60], [60, 0]]}},
    }
    with pytest.raises(LastmileError) as err:
        read_problem(data)
    assert where in str(err.value)


def test_reload_settings_of_one_depot_must_agree() -> None:
    data = {
        "vehicles": [
            {"id": 1, "start_index": 0, "reloads": {"service": 60}},
            {"id": 2, "start_index": 0, "reloads": {"service": 90}},
        ],
        "jobs": [{"id": 7, "location_index": 1}],
        "matrices": {"car": {"durations": [[0, 60], [60, 0]]}},
    }
    with pytest.raises(InputError, match=r"vehicles\[1\]\.reloads"):
        read_problem(data)


def test_unbounded_times_become_vroom_maximum(named_problem: PlanningProblem) -> None:
    p = named_problem
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
