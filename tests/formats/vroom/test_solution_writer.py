"""Plans are written in VROOM's solution format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from lastmile.domain import (
    Plan,
    Unassigned,
    VisitKind,
)
from lastmile.formats.vroom import (
    read_problem,
    write_solution,
)
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

DATA = Path(__file__).parents[2] / "data" / "vroom"
MATRICES = DATA / "matrices.json"
COORDS = DATA / "coordinates.json"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


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


def test_non_numeric_ids_are_written_as_strings(named_problem: PlanningProblem) -> None:
    p = named_problem
    route = build_route(p, p.vehicles[0], [Step(VisitKind.JOB, order_id="parcel-A")])
    out = write_solution(p, Plan((route,)))
    assert out["routes"][0]["vehicle"] == "van-north"
    assert out["routes"][0]["steps"][1]["id"] == "parcel-A"


def test_breaks_and_reloads_become_steps_of_the_solution() -> None:
    """A lunch break and a reload planned together come out as VROOM steps."""
    from lastmile.planning import solve

    data = {
        "vehicles": [
            {
                "id": 1,
                "start_index": 0,
                "end_index": 0,
                "capacity": [2],
                "breaks": [{"id": 5, "time_windows": [[100, 400]], "service": 600}],
                "reloads": {"service": 120},
            }
        ],
        "jobs": [{"id": j, "location_index": j, "delivery": [1]} for j in (1, 2, 3, 4)],
        "matrices": {"car": {"durations": [[abs(a - b) * 60 for b in range(5)] for a in range(5)]}},
    }
    problem = read_problem(data)
    plan = solve(problem, time_limit=2.0, workers=1)
    assert validate(problem, plan).ok
    assert not plan.unassigned
    out = write_solution(problem, plan)
    steps = out["routes"][0]["steps"]
    types = [s["type"] for s in steps]
    assert types.count("break") == 1 and types.count("reload") >= 1
    brk = next(s for s in steps if s["type"] == "break")
    assert (
        brk["id"] == 5
        and brk["service"] == 600
        and 100 <= brk["arrival"] + brk["waiting_time"] <= 400
    )
    reload = next(s for s in steps if s["type"] == "reload")
    assert reload["location_index"] == 0 and reload["service"] == 120
    assert reload["depot"] == problem.depots[0].id
    assert max(s["load"][0] for s in steps) <= 2
