"""Solomon / Gehring-Homberger text instances."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.domain import OrderKind, Plan, TimeWindow, VisitKind
from lastmile.exceptions import FormatError, InputError
from lastmile.formats.solomon import parse_solomon, read_solomon
from lastmile.formats.vrplib import read_vrplib_solution
from lastmile.planning.problem import Feature
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

DATA = Path(__file__).resolve().parents[1] / "data"
TINY = DATA / "C101_10.txt"


def test_reads_c101_as_published() -> None:
    p = read_solomon(DATA / "C101.txt")
    assert p.name == "C101"
    assert len(p.orders) == 100
    assert [o.id for o in p.orders[:3]] == ["1", "2", "3"]
    assert len(p.vehicles) == 25
    assert {v.capacity for v in p.vehicles} == {(200,)}
    assert p.dimensions == ("demand",)
    assert p.time_scale == 10
    assert p.depots[0].location == 0
    assert p.depots[0].time_window == TimeWindow(0, 12360)
    assert all(v.shift == TimeWindow(0, 12360) for v in p.vehicles)
    first = p.order("1")
    assert first.kind is OrderKind.DELIVERY
    assert first.amount == (10,)
    assert first.delivery is not None
    assert first.delivery.location == 1
    assert first.delivery.service == 900
    assert first.delivery.time_windows == (TimeWindow(9120, 9670),)
    assert p.locations[1].planar and (p.locations[1].lon, p.locations[1].lat) == (45.0, 68.0)
    assert p.features == {
        Feature.CAPACITY,
        Feature.TIME_WINDOWS,
        Feature.SERVICE_TIMES,
        Feature.SHIFTS,
        Feature.DISTANCE_COSTS,
    }


@pytest.mark.parametrize(
    ("rounding", "scale", "d01"),
    [
        # depot (40, 50) to customer 1 (45, 68): sqrt(349) = 18.6815...
        ("dimacs", 10, 186),
        ("round", 1, 19),
        ("exact", 1000, 18682),
    ],
)
def test_rounding_conventions(rounding: str, scale: int, d01: int) -> None:
    p = read_solomon(DATA / "C101.txt", rounding=rounding)  # type: ignore[arg-type]
    m = p.matrices["car"]
    assert p.time_scale == scale
    assert m.distances[0, 1] == d01
    assert np.array_equal(m.durations, m.distances)
    stop = p.order("1").delivery
    assert stop is not None
    assert stop.time_windows == (TimeWindow(912 * scale, 967 * scale),)
    assert stop.service == 90 * scale


def test_unknown_rounding_is_refused() -> None:
    with pytest.raises(InputError, match="rounding"):
        read_solomon(TINY, rounding="floor")  # type: ignore[arg-type]


def test_objective_is_scaled_distance() -> None:
    p = read_solomon(DATA / "C101.txt")
    route = build_route(p, p.vehicles[0], [Step(VisitKind.JOB, order_id="5")])
    assert route.cost == route.distance == 2 * p.matrices["car"].distances[0, 5]


@pytest.mark.parametrize(("name", "bks_dimacs"), [("C101", 827.3), ("R101", 1637.7)])
def test_bks_routes_have_the_bks_cost_and_validate(name: str, bks_dimacs: float) -> None:
    p = read_solomon(DATA / f"{name}.txt")
    routes = read_vrplib_solution(DATA / f"{name}.sol")
    built = [
        build_route(p, v, [Step(VisitKind.JOB, order_id=o) for o in r])
        for v, r in zip(p.vehicles, routes, strict=False)
    ]

    plan = Plan(tuple(built))
    assert plan.cost == round(bks_dimacs * p.time_scale)
    report = validate(p, plan)
    assert report.ok, report.violations[:3]


# -- errors name file, line and field ---------------------------------------------


def _tiny_lines() -> list[str]:
    return TINY.read_text().splitlines()


def _replace_line(lineno: int, text: str) -> str:
    lines = _tiny_lines()
    lines[lineno - 1] = text
    return "\n".join(lines)


def test_bad_number_names_line_and_field() -> None:
    lines = _tiny_lines()
    lineno = next(i for i, line in enumerate(lines, 1) if line.split()[:1] == ["3"])
    fields = lines[lineno - 1].split()
    fields[3] = "ten"
    with pytest.raises(FormatError) as err:
        parse_solomon(_replace_line(lineno, " ".join(fields)), source="tiny.txt")
    assert f"tiny.txt:{lineno}" in str(err.value)
    assert "DEMAND" in str(err.value) and "'ten'" in str(err.value)


def test_wrong_column_count_names_line() -> None:
    lineno = len(_tiny_lines())
    with pytest.raises(FormatError, match=rf"tiny.txt:{lineno}: expected 7 values"):
        parse_solomon(_replace_line(lineno, "10 35 66 10"), source="tiny.txt")


def test_window_that_closes_before_it_opens() -> None:
    lineno = len(_tiny_lines())
    with pytest.raises(FormatError, match=rf"tiny.txt:{lineno}: field DUE DATE"):
        parse_solomon(_replace_line(lineno, "10 35 66 10 410 357 90"), source="tiny.txt")


def test_repeated_customer_number() -> None:
    lineno = len(_tiny_lines())
    with pytest.raises(FormatError, match=r"CUST NO\. 9 repeats line"):
        parse_solomon(_replace_line(lineno, "9 35 66 10 357 410 90"), source="tiny.txt")


def test_fractional_vehicle_count() -> None:
    text = TINY.read_text().replace("   5         200", "   5.5       200")
    with pytest.raises(FormatError, match=r"tiny.txt:5: field VEHICLE NUMBER must be an integer"):
        parse_solomon(text, source="tiny.txt")


def test_missing_customer_block() -> None:
    text = "\n".join(_tiny_lines()[:6])
    with pytest.raises(FormatError, match="no 'CUSTNO' header"):
        parse_solomon(text, source="tiny.txt")


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read file"):
        read_solomon(tmp_path / "nope.txt")


# -- property: any valid file parses to the numbers it states ----------------------

node = st.tuples(
    st.integers(0, 100),  # x
    st.integers(0, 100),  # y
    st.integers(0, 50),  # demand
    st.integers(0, 500),  # ready
    st.integers(0, 500),  # window length
    st.integers(0, 30),  # service
)


def _solomon_text(nodes: list[tuple[int, int, int, int, int, int]], vehicles: int) -> str:
    rows = ["GEN", "", "VEHICLE", "NUMBER     CAPACITY", f"  {vehicles}   100", ""]
    rows += ["CUSTOMER", "CUST NO.  XCOORD.  YCOORD.  DEMAND  READY TIME  DUE DATE  SERVICE TIME"]
    for i, (x, y, q, ready, length, service) in enumerate(nodes):
        if i == 0:
            q, ready, length, service = 0, 0, 1000, 0
        rows.append(f"{i} {x} {y} {q} {ready} {ready + length} {service}")
    return "\n".join(rows) + "\n"


@settings(max_examples=40, deadline=None)
@given(nodes=st.lists(node, min_size=2, max_size=12), vehicles=st.integers(1, 5))
def test_parsed_numbers_match_the_text(
    nodes: list[tuple[int, int, int, int, int, int]], vehicles: int
) -> None:
    p = parse_solomon(_solomon_text(nodes, vehicles), source="gen.txt")
    assert len(p.vehicles) == vehicles
    m = p.matrices["car"].distances
    for i, (xi, yi, *_rest) in enumerate(nodes):
        for j, (xj, yj, *_more) in enumerate(nodes):
            assert m[i, j] == math.floor(10 * math.hypot(xi - xj, yi - yj) + 1e-9)
    for order, (_x, _y, q, ready, length, service) in zip(p.orders, nodes[1:], strict=True):
        stop = order.delivery
        assert stop is not None
        assert order.amount == (q,)
        assert stop.time_windows == (TimeWindow(10 * ready, 10 * (ready + length)),)
        assert stop.service == 10 * service
