"""``lastmile route`` and ``lastmile matrix`` through their argparse builders."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import polyline
import pytest

from lastmile.travel.commands import add_matrix_parser, add_route_parser, route_command


def _load(name: str) -> ModuleType:
    key = f"lastmile_tests_travel_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


helpers = _load("road_helpers")
MONACO = str(helpers.MONACO)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lastmile")
    sub = parser.add_subparsers(dest="command", required=True)
    add_route_parser(sub)
    add_matrix_parser(sub)
    return parser.parse_args(argv)


ROUTE = ["route", "--network", MONACO, "--from", "7.4197,43.7311", "--to", "7.4271,43.7404"]


def test_route_as_geojson_polyline_and_json() -> None:
    out = io.StringIO()
    args = parse(ROUTE)
    assert args.func(args, out=out) == 0
    feature = json.loads(out.getvalue())
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    assert feature["properties"]["duration_s"] > 0
    assert "OpenStreetMap" in feature["properties"]["attribution"]

    out = io.StringIO()
    assert route_command(parse([*ROUTE, "--format", "polyline"]), out=out) == 0
    points = polyline.decode(out.getvalue().strip())
    assert len(points) == len(feature["geometry"]["coordinates"])

    out = io.StringIO()
    assert route_command(parse([*ROUTE, "--format", "json", "--profile", "bike"]), out=out) == 0
    body = json.loads(out.getvalue())
    assert body["distance_m"] > 0 and body["polyline"]
    assert "(bicycle," in body["travel"]  # bike names the bicycle profile


def test_route_errors_and_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["route", "--network", MONACO, "--from", "7.4", "--to", "7.4,43.7"])
    args = parse(["route", "--from", "7.4197,43.7311", "--to", "7.4271,43.7404"])
    assert route_command(args, out=io.StringIO()) == 2
    assert "--network" in capsys.readouterr().err
    sea = ["route", "--network", MONACO, "--from", "7.42,43.68", "--to", "7.4271,43.7404"]
    assert route_command(parse(sea), out=io.StringIO()) == 0
    assert "point --from is" in capsys.readouterr().err


def test_matrix_to_csv_and_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / "points.csv"
    points.write_text("id,lon,lat\nA,7.4197,43.7311\nB,7.4271,43.7404\nC,7.43,43.74\n")
    out_csv = tmp_path / "m.csv"
    args = parse(["matrix", "--network", MONACO, "--points", str(points), "-o", str(out_csv)])
    assert args.func(args) == 0
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "from,to,duration_s,distance_m"
    assert len(rows) == 1 + 9
    assert rows[1].startswith("A,A,0.000,0.000")
    assert "3x3 matrix" in capsys.readouterr().err
    out_npz = tmp_path / "m.npz"
    args = parse(["matrix", "--network", MONACO, "--points", str(points), "-o", str(out_npz)])
    assert args.func(args) == 0
    with np.load(out_npz) as data:
        assert data["durations_s"].shape == (3, 3)
        assert data["ids"].tolist() == ["A", "B", "C"]
        ab = next(r for r in rows if r.startswith("A,B,")).split(",")
        assert data["durations_s"][0, 1] == pytest.approx(float(ab[2]), abs=1e-3)
        assert "OpenStreetMap" in str(data["attribution"])


def test_matrix_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    args = parse(["matrix", "--network", MONACO, "--points", str(bad), "-o", "m.csv"])
    assert args.func(args) == 2
    assert "needs lon and lat columns" in capsys.readouterr().err
    bad.write_text("lon,lat\n7.42,43.73\n7.42,north\n")
    assert args.func(args) == 2
    assert "bad.csv:3" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text("lon,lat\n7.42,43.73\n")
    args = parse(["matrix", "--network", MONACO, "--points", str(good), "-o", "m.txt"])
    assert args.func(args) == 2
    assert "--output" in capsys.readouterr().err
