"""The lastmile command, as a user runs it."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lastmile.cli import main

DATA = Path(__file__).parent / "data"


def test_solve_solomon_writes_vroom_solution_with_customer_numbers(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    geo = tmp_path / "plan.geojson"
    code = main(
        [
            "solve",
            str(DATA / "C101_10.txt"),
            "--time-limit",
            "1",
            "--rounding",
            "dimacs",
            "-o",
            str(out),
            "--geojson",
            str(geo),
            "--quiet",
        ]
    )
    assert code == 0
    solution = json.loads(out.read_text())
    assert solution["code"] == 0
    ids = sorted(s["id"] for r in solution["routes"] for s in r["steps"] if s["type"] == "job")
    assert ids == list(range(1, 11))
    assert solution["summary"]["unassigned"] == 0
    assert json.loads(geo.read_text())["type"] == "FeatureCollection"


def test_solve_vroom_json_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["solve", str(DATA / "vroom" / "matrices.json"), "--time-limit", "1", "-q"])
    assert code == 0
    solution = json.loads(capsys.readouterr().out)
    assert solution["summary"]["routes"] >= 1


def test_bad_input_exits_2_names_the_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.txt"
    lines = (DATA / "C101_10.txt").read_text().splitlines()
    lines[12] = lines[12].replace(lines[12].split()[3], "ten")  # a demand that is not a number
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "plan.json"
    code = main(["solve", str(bad), "-o", str(out), "--time-limit", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "broken.txt:13:" in err and "DEMAND" in err
    assert not out.exists()


def test_missing_file_and_unknown_suffix_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solve", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    odd = tmp_path / "problem.xyz"
    odd.write_text("{}")
    assert main(["solve", str(odd)]) == 2
    assert "suffix" in capsys.readouterr().err


def test_engine_that_cannot_honour_a_constraint_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = {
        "vehicles": [
            {
                "id": 1,
                "start_index": 0,
                "end_index": 0,
                "breaks": [{"id": 1, "time_windows": [[100, 200]], "service": 30}],
            }
        ],
        "jobs": [{"id": 1, "location_index": 1}],
        "matrices": {"car": {"durations": [[0, 10], [10, 0]]}},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(problem))
    assert main(["solve", str(path), "--engine", "pyvrp", "--time-limit", "1"]) == 2
    assert "breaks" in capsys.readouterr().err


def test_solve_plans_breaks_with_reloads_from_vroom_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """VROOM breaks plus lastmile's reloads extension: engine auto plans both; the
    engines that lack one name it."""
    problem = {
        "vehicles": [
            {
                "id": 1,
                "start_index": 0,
                "end_index": 0,
                "capacity": [2],
                "breaks": [{"id": 9, "time_windows": [[100, 300]], "service": 600}],
                "reloads": {"service": 120, "max": 2},
            }
        ],
        "jobs": [{"id": j, "location_index": j, "delivery": [1]} for j in (1, 2, 3, 4)],
        "matrices": {"car": {"durations": [[abs(a - b) * 60 for b in range(5)] for a in range(5)]}},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(problem))
    out = tmp_path / "plan.json"
    assert main(["solve", str(path), "--time-limit", "2", "-o", str(out), "-q"]) == 0
    solution = json.loads(out.read_text())
    assert solution["summary"]["unassigned"] == 0
    assert solution["lastmile"]["engine"] == "ortools"
    types = [s["type"] for s in solution["routes"][0]["steps"]]
    assert types.count("break") == 1 and "reload" in types
    for engine, lacking in (("pyvrp", "breaks"), ("vroom", "reloads")):
        assert main(["solve", str(path), "--engine", engine, "--time-limit", "1"]) == 2
        assert lacking in capsys.readouterr().err


def test_rounding_is_refused_for_vroom_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["solve", str(DATA / "vroom" / "matrices.json"), "--rounding", "dimacs"])
    assert code == 2
    assert "--rounding" in capsys.readouterr().err


def test_solve_on_a_road_network_with_traffic_and_weather(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code = main(
        [
            "solve",
            str(DATA / "vroom" / "monaco_coordinates.json"),
            "--network",
            str(DATA / "osm" / "monaco.osm.pbf"),
            "--depart",
            "2026-11-24T07:00",
            "--weather",
            "rain",
            "--time-limit",
            "2",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    solution = json.loads(out.read_text())
    assert "road network" in solution["lastmile"]["travel_note"]
    # The engine's promises are on typical travel (the plan is re-timed on the real
    # legs): the error is reported, not bounded.
    error = solution["lastmile"]["arrival_error_s"]
    assert 0 <= error["within_60s"] <= 1 and error["p50"] <= error["p95"] <= error["max"]
    assert solution["summary"]["unassigned"] == 0


def test_network_refuses_a_problem_with_its_own_matrices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "solve",
            str(DATA / "vroom" / "matrices.json"),
            "--network",
            str(DATA / "osm" / "monaco.osm.pbf"),
        ]
    )
    assert code == 2
    assert "own matrices" in capsys.readouterr().err


def _van_and_cargo_bike(tmp_path: Path) -> Path:
    """The Monaco problem with a van and a cargo bike of 6 parcels each (12 to deliver)."""
    raw = json.loads((DATA / "vroom" / "monaco_coordinates.json").read_text())
    for vehicle, profile in zip(raw["vehicles"], ("van", "cargo_bike"), strict=True):
        vehicle["profile"] = profile
        vehicle["capacity"] = [6]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(raw))
    return path


def test_solve_on_a_network_drives_each_vehicle_on_its_own_profile(tmp_path: Path) -> None:
    import argparse

    from lastmile.formats.vroom import read_problem
    from lastmile.travel.network_options import add_network_arguments, build_travel_models

    problem_path = _van_and_cargo_bike(tmp_path)
    out = tmp_path / "plan.json"
    options = ["--network", str(DATA / "osm" / "monaco.osm.pbf"), "--depart", "2026-11-24T07:00"]
    code = main(["solve", str(problem_path), *options, "--time-limit", "3", "-o", str(out), "-q"])
    # 0: the re-timed plan passed the validator, each route against its own travel times.
    assert code == 0
    solution = json.loads(out.read_text())
    assert solution["summary"]["unassigned"] == 0
    note = solution["lastmile"]["travel_note"]
    assert "cargo_bike: road network" in note and "van: road network" in note
    assert "(traffic slows motor vehicles only)" in note
    routes = {r["vehicle"]: r for r in solution["routes"]}
    assert set(routes) == {1, 2}

    parser = argparse.ArgumentParser()
    add_network_arguments(parser)
    models = build_travel_models(parser.parse_args(options), ["van", "cargo_bike"])
    locations = read_problem(problem_path).locations
    legs = {name: model.bind(locations) for name, model in models.items()}
    differs = 0
    for vehicle, own, other in ((1, "van", "cargo_bike"), (2, "cargo_bike", "van")):
        steps = routes[vehicle]["steps"]
        for prev, cur in itertools.pairwise(steps):
            a, b = prev["location_index"], cur["location_index"]
            if a == b:
                continue
            leave = prev["arrival"] + prev["waiting_time"] + prev["setup"] + prev["service"]
            driven = cur["duration"] - prev["duration"]
            assert driven == legs[own].leg_duration(a, b, leave), (vehicle, a, b)
            differs += driven != legs[other].leg_duration(a, b, leave)
    assert differs >= 3


def test_solve_on_a_network_refuses_an_unknown_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.loads((DATA / "vroom" / "monaco_coordinates.json").read_text())
    raw["vehicles"][1]["profile"] = "hovercraft"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    code = main(["solve", str(path), "--network", str(DATA / "osm" / "monaco.osm.pbf"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "vehicles[1].profile" in err
    assert "known: bicycle, bike, car, cargo_bike, foot, truck, van" in err


def test_solve_waiting_costs_charge_route_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One van, A until 100 s, B from 1000 s: it waits at B whatever it does.
    problem = {
        "vehicles": [{"id": 1, "start_index": 0, "end_index": 0, "time_window": [0, 5000]}],
        "jobs": [
            {"id": 1, "location_index": 1, "time_windows": [[0, 100]]},
            {"id": 2, "location_index": 2, "time_windows": [[1000, 1100]]},
        ],
        "matrices": {"car": {"durations": [[0, 10, 20], [10, 0, 10], [20, 10, 0]]}},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(problem))
    costs = {}
    for flag in ([], ["--waiting-costs"]):
        out = tmp_path / f"plan{len(flag)}.json"
        assert main(["solve", str(path), *flag, "--time-limit", "1", "-o", str(out), "-q"]) == 0
        solution = json.loads(out.read_text())
        (route,) = solution["routes"]
        assert solution["summary"]["unassigned"] == 0
        costs[bool(flag)] = (solution["summary"]["cost"], route["duration"], route["waiting_time"])
    # Driving time only: 40 s. Route duration: leaving at 90 to serve A as it closes at
    # 100, B at 1000 after waiting 890 s, back at 1020: 930 s.
    assert costs[False][0] == 40
    assert costs[True][0] == 930 and costs[True][2] == 890
    assert main(["solve", str(path), "--waiting-costs", "--engine", "vroom"]) == 2
    assert "waiting_costs" in capsys.readouterr().err


def test_the_command_line_does_not_import_the_service_until_a_command_needs_it() -> None:
    """`lastmile solve` and the others start without importing FastAPI, SQLAlchemy
    and the service's models (seconds on a busy machine)."""
    probe = (
        "import sys; from lastmile.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'lastmile.service.app') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout
