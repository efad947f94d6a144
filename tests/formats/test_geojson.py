"""GeoJSON export: lines per route, points per visit and unassigned order."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lastmile.domain import Location, Plan, Unassigned, VisitKind
from lastmile.formats.geojson import plan_to_geojson
from lastmile.formats.vroom import read_problem
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route

DATA = Path(__file__).parent.parent / "data" / "vroom"


def _coords_plan() -> tuple[PlanningProblem, Plan]:
    p = read_problem(DATA / "coordinates.json")
    v1, v2 = p.vehicles
    r1 = build_route(
        p,
        v1,
        [
            Step(VisitKind.JOB, order_id="1"),
            Step(VisitKind.JOB, order_id="6"),  # same place as "1"
            Step(VisitKind.PICKUP, order_id="s4-3"),
            Step(VisitKind.DELIVERY, order_id="s4-3"),
        ],
    )
    r2 = build_route(p, v2, [Step(VisitKind.JOB, order_id="5")])  # open route
    plan = Plan((r1, r2), (Unassigned("2", "no vehicle can reach it in time", "time_windows"),))
    return p, plan


def test_routes_as_lines_and_visits_as_points() -> None:
    p, plan = _coords_plan()
    gj = plan_to_geojson(p, plan)
    json.dumps(gj)
    assert gj["type"] == "FeatureCollection"
    assert "attribution" not in gj
    lines = [f for f in gj["features"] if f["geometry"]["type"] == "LineString"]
    assert [f["properties"]["vehicle"] for f in lines] == ["1", "2"]
    first = lines[0]
    r1 = plan.routes[0]
    # depot, place of 1 and 6 (one vertex), pickup, delivery, depot.
    coords = first["geometry"]["coordinates"]
    assert len(coords) == 5 and coords[0] == coords[-1] == [2.35044, 48.71764]
    assert first["properties"] == {
        "kind": "route",
        "vehicle": "1",
        "cost": r1.cost,
        "distance": r1.distance,
        "travel": r1.travel,
        "duration": r1.duration,
        "start": r1.start_time,
        "end": r1.end_time,
        "stops": 4,
    }
    points = [
        f
        for f in gj["features"]
        if f["geometry"]["type"] == "Point" and f["properties"]["kind"] != "unassigned"
    ]
    assert len(points) == len(r1.visits) + len(plan.routes[1].visits)
    pickup = next(f for f in points if f["properties"]["kind"] == "pickup")
    visit = r1.visits[3]
    assert pickup["geometry"]["coordinates"] == [2.37, 48.71]
    assert pickup["properties"]["order_id"] == "s4-3" and pickup["properties"]["ref"] == "4"
    for key in ("arrival", "start", "departure"):
        assert pickup["properties"][key] == getattr(visit, key)
    assert pickup["properties"]["load"] == list(visit.load)
    named = next(f for f in points if f["properties"]["order_id"] == "1")
    assert named["properties"]["name"] == "north / north again"
    assert "skipped_visits" not in gj["lastmile"]
    assert gj["lastmile"]["travel_note"] == p.travel_note


def test_unassigned_orders_are_points_with_their_reason() -> None:
    p, plan = _coords_plan()
    gj = plan_to_geojson(p, plan, attribution="© OpenStreetMap contributors")
    assert gj["attribution"] == "© OpenStreetMap contributors"
    (u,) = [f for f in gj["features"] if f["properties"]["kind"] == "unassigned"]
    assert u["geometry"] == {"type": "Point", "coordinates": [2.33, 48.70]}
    assert u["properties"]["reason"] == "no vehicle can reach it in time"
    assert u["properties"]["order_id"] == "2" and u["properties"]["task"] == "job"


def test_locations_without_coordinates_are_skipped_and_said() -> None:
    p = read_problem(DATA / "matrices.json")
    v1 = p.vehicles[2]
    route = build_route(
        p, v1, [Step(VisitKind.JOB, order_id="12"), Step(VisitKind.JOB, order_id="10")]
    )
    plan = Plan((route,), (Unassigned("11", "no room"),))
    gj = plan_to_geojson(p, plan)
    line = gj["features"][0]
    # Depot and job 10 have coordinates, job 12 (index 3) has none.
    assert line["geometry"]["type"] == "LineString"
    assert line["properties"]["skipped_visits"] == 1
    assert "no longitude/latitude" in line["properties"]["note"]
    assert gj["lastmile"]["skipped_visits"] == 2  # the visit and the unassigned stop
    kinds = [f["properties"]["kind"] for f in gj["features"]]
    assert kinds == ["route", "start", "job", "end"]


def test_planar_problem_draws_nothing_but_says_so() -> None:
    p = read_problem(DATA / "coordinates.json")
    planar = dataclasses.replace(
        p,
        locations=tuple(Location(loc.lon, loc.lat, planar=True) for loc in p.locations),
    )
    route = build_route(planar, planar.vehicles[0], [Step(VisitKind.JOB, order_id="1")])
    gj = plan_to_geojson(planar, Plan((route,)))
    (line,) = gj["features"]
    assert line["geometry"] is None
    assert line["properties"]["skipped_visits"] == 3
    assert gj["lastmile"]["skipped_visits"] == 3
