"""VRPLIB instances and solutions, and agreement with the Solomon text and PyVRP."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import pyvrp
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.domain import Plan, TimeWindow, VisitKind
from lastmile.exceptions import FormatError
from lastmile.formats.any import format_by_suffix, read_any
from lastmile.formats.solomon import parse_solomon, read_solomon
from lastmile.formats.vrplib import read_vrplib, read_vrplib_solution
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

DATA = Path(__file__).resolve().parents[1] / "data"
ROUNDINGS = ("dimacs", "round", "exact")


def _plan(problem: PlanningProblem, routes: list[list[str]]) -> Plan:
    return Plan(
        tuple(
            build_route(problem, v, [Step(VisitKind.JOB, order_id=o) for o in r])
            for v, r in zip(problem.vehicles, routes, strict=False)
        )
    )


def test_reads_cvrp_x_with_nint_rounding_and_open_fleet() -> None:
    p = read_vrplib(DATA / "X-n101-k25.vrp")
    assert p.name == "X-n101-k25"
    assert p.time_scale == 1
    assert [o.id for o in p.orders[:2]] == ["1", "2"]
    assert len(p.orders) == 100
    assert len(p.vehicles) == 100  # no VEHICLES field: one per customer
    assert p.vehicles[0].capacity == (206,)
    assert p.features == {Feature.CAPACITY, Feature.DISTANCE_COSTS}
    # node 1 (365, 689) to node 2 (146, 180): 554.1 -> 554
    assert p.matrices["car"].distances[0, 1] == 554


def test_order_ids_follow_solution_numbering() -> None:
    p = read_vrplib(DATA / "C101.vrp")
    stop = p.order("1").delivery  # VRPLIB node 2
    assert stop is not None and stop.location == 1
    assert stop.time_windows == (TimeWindow(9120, 9670),)
    assert read_vrplib_solution(DATA / "X-n101-k25.sol")[0] == ["31", "46", "35"]


@pytest.mark.parametrize(
    ("vrp", "sol", "bks"),
    [("X-n101-k25", "X-n101-k25", 27591.0), ("C101", "C101", 827.3), ("R101", "R101", 1637.7)],
)
def test_bks_solution_has_the_bks_cost_and_validates(vrp: str, sol: str, bks: float) -> None:
    p = read_vrplib(DATA / f"{vrp}.vrp")
    plan = _plan(p, read_vrplib_solution(DATA / f"{sol}.sol"))
    assert plan.cost == round(bks * p.time_scale)
    assert not plan.unassigned
    report = validate(p, plan)
    assert report.ok, report.violations[:3]


@pytest.mark.parametrize("name", ["C101", "R101", "C101_10"])
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_text_vrplib_and_pyvrp_agree(name: str, rounding: str) -> None:
    """The classic file, our VRPLIB reading and PyVRP's give the same numbers."""
    classic = read_solomon(DATA / f"{name}.txt", rounding=rounding)  # type: ignore[arg-type]
    vrp = read_vrplib(DATA / f"{name}.vrp", rounding=rounding)  # type: ignore[arg-type]
    assert np.array_equal(classic.matrices["car"].distances, vrp.matrices["car"].distances)
    assert np.array_equal(classic.matrices["car"].durations, vrp.matrices["car"].durations)
    assert classic.orders == vrp.orders
    assert classic.vehicles == vrp.vehicles
    assert classic.depots == vrp.depots
    assert classic.time_scale == vrp.time_scale

    data = pyvrp.read(DATA / f"{name}.vrp", round_func=rounding)
    assert np.array_equal(np.asarray(data.distance_matrix(0)), classic.matrices["car"].distances)
    assert np.array_equal(np.asarray(data.duration_matrix(0)), classic.matrices["car"].durations)
    ours = [(str(c.location), c.tw_early, c.tw_late, c.service_duration) for c in data.clients()]
    theirs = []
    for o in classic.orders:
        stop = o.single_stop
        window = stop.time_windows[0]
        theirs.append((o.id, window.start, window.end, stop.service))
    assert ours == theirs
    vtype = data.vehicle_type(0)
    assert (vtype.tw_early, vtype.tw_late) == (
        classic.vehicles[0].shift.start,
        classic.vehicles[0].shift.end,
    )
    assert data.num_vehicles == len(classic.vehicles)


# -- errors ----------------------------------------------------------------------


def _write(text: str, suffix: str = ".vrp") -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8") as fh:
        fh.write(text)
    return Path(fh.name)


TINY_VRP = (DATA / "C101_10.vrp").read_text()


def _with_line(lineno: int, text: str) -> Path:
    lines = TINY_VRP.splitlines()
    lines[lineno - 1] = text
    return _write("\n".join(lines) + "\n")


def test_bad_coordinate_names_line_and_field() -> None:
    path = _with_line(11, "3 45 north")
    with pytest.raises(FormatError) as err:
        read_vrplib(path)
    assert f"{path}:11" in str(err.value)
    assert "NODE_COORD_SECTION y" in str(err.value) and "'north'" in str(err.value)


def test_short_row_names_line() -> None:
    path = _with_line(21, "3 30 90")
    with pytest.raises(FormatError, match=r":21: DEMAND_SECTION rows have 2 values"):
        read_vrplib(path)


def test_rows_out_of_order() -> None:
    path = _with_line(10, "5 45 68")
    with pytest.raises(FormatError, match=r":10: field NODE_COORD_SECTION node must be 2"):
        read_vrplib(path)


def test_unsupported_type_section_and_field() -> None:
    with pytest.raises(FormatError, match="field TYPE 'PDPTW' is not supported"):
        read_vrplib(_write(TINY_VRP.replace("TYPE : CVRPTW", "TYPE : PDPTW")))
    with pytest.raises(FormatError, match=r":8: section PICKUP_AND_DELIVERY_SECTION"):
        read_vrplib(_with_line(8, "PICKUP_AND_DELIVERY_SECTION"))
    with pytest.raises(FormatError, match=r":2: field DISTANCE is not supported"):
        read_vrplib(_with_line(2, "DISTANCE : 100"))
    with pytest.raises(FormatError, match=r":4: field VEHICLES must be a number"):
        read_vrplib(_with_line(4, "VEHICLES : many"))


def test_window_closing_before_it_opens() -> None:
    lines = TINY_VRP.splitlines()
    lineno = lines.index("TIME_WINDOW_SECTION") + 4  # the row of node 3
    path = _with_line(lineno, "3 870 825")
    with pytest.raises(FormatError, match=rf":{lineno}: field TIME_WINDOW_SECTION latest 825"):
        read_vrplib(path)


def test_bad_solution_line() -> None:
    path = _write("Route #1: 1 2 x\nCost 3\n", suffix=".sol")
    with pytest.raises(FormatError, match=r":1: a route line must read"):
        read_vrplib_solution(path)


# -- the dispatcher -----------------------------------------------------------------


def test_format_by_suffix_and_read_any() -> None:
    assert format_by_suffix("a/C101.TXT") == "solomon"
    assert format_by_suffix("x.vrp") == "vrplib"
    assert format_by_suffix("p.json") == "vroom"
    with pytest.raises(FormatError, match=r"suffix '\.csv'"):
        format_by_suffix("orders.csv")
    tiny = DATA / "C101_10.txt"
    assert read_any(tiny).orders == read_solomon(tiny).orders
    assert read_any(DATA / "X-n101-k25.vrp").time_scale == 1  # CVRP: nint by default
    assert read_any(DATA / "C101_10.vrp", rounding="exact").time_scale == 1000
    from lastmile.formats.vroom import read_problem

    vroom_file = DATA / "vroom" / "matrices.json"
    assert read_any(vroom_file).orders == read_problem(vroom_file).orders


# -- property: Solomon text and its VRPLIB twin read the same -----------------------


def _twin_texts(nodes: list[tuple[int, int, int, int, int]], capacity: int) -> tuple[str, str]:
    n = len(nodes)
    rows = ["GEN", "VEHICLE", "NUMBER CAPACITY", f"{n} {capacity}", "CUSTOMER", "CUST NO. X"]
    vrp = [
        "NAME : GEN",
        "TYPE : CVRPTW",
        f"DIMENSION : {n}",
        f"VEHICLES : {n}",
        f"CAPACITY : {capacity}",
        "SERVICE_TIME : 10",
        "EDGE_WEIGHT_TYPE : EUC_2D",
        "NODE_COORD_SECTION",
    ]
    demand, window = ["DEMAND_SECTION"], ["TIME_WINDOW_SECTION"]
    for i, (x, y, q, ready, length) in enumerate(nodes):
        q, service = (0, 0) if i == 0 else (q, 10)
        rows.append(f"{i} {x} {y} {q} {ready} {ready + length} {service}")
        vrp.append(f"{i + 1} {x} {y}")
        demand.append(f"{i + 1} {q}")
        window.append(f"{i + 1} {ready} {ready + length}")
    vrp += demand + window + ["DEPOT_SECTION", "1", "-1", "EOF"]
    return "\n".join(rows) + "\n", "\n".join(vrp) + "\n"


@settings(max_examples=25, deadline=None)
@given(
    nodes=st.lists(
        st.tuples(
            st.integers(0, 1000),
            st.integers(0, 1000),
            st.integers(0, 40),
            st.integers(0, 900),
            st.integers(0, 900),
        ),
        min_size=2,
        max_size=10,
    ),
    capacity=st.integers(40, 200),
    rounding=st.sampled_from(ROUNDINGS),
)
def test_twin_files_read_identically(
    nodes: list[tuple[int, int, int, int, int]], capacity: int, rounding: str
) -> None:
    text, vrp_text = _twin_texts(nodes, capacity)
    path = _write(vrp_text)
    try:
        classic = parse_solomon(text, rounding=rounding)  # type: ignore[arg-type]
        vrp = read_vrplib(path, rounding=rounding)  # type: ignore[arg-type]
        data = pyvrp.read(path, round_func=rounding)
    finally:
        path.unlink()
    assert np.array_equal(classic.matrices["car"].distances, vrp.matrices["car"].distances)
    assert np.array_equal(np.asarray(data.distance_matrix(0)), vrp.matrices["car"].distances)
    assert classic.orders == vrp.orders
    assert classic.vehicles == vrp.vehicles
