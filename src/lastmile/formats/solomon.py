"""Solomon / Gehring-Homberger VRPTW instances (classic text format).

The file has a name line, a ``VEHICLE`` block (``NUMBER CAPACITY`` and one
line with both values) and a ``CUSTOMER`` block: a column header line and one
row per node ``CUST NO. XCOORD. YCOORD. DEMAND READY TIME DUE DATE SERVICE
TIME``. Node 0 is the depot; its due date is the planning horizon. Distance
and travel time are both the Euclidean distance between the coordinates.

Benchmark instances are planar and measured in abstract units, so they are
turned into integers by one of three published conventions (``rounding``):

``"dimacs"``
    DIMACS 2021 / CVRPLIB: every distance and travel time truncated to one
    decimal. The matrix is ``floor(10*d)``; windows and service times are
    multiplied by 10 (``time_scale=10``).
``"round"``
    TSPLIB ``nint``: each distance rounded to the nearest integer
    (``time_scale=1``).
``"exact"``
    ``round(1000*d)``, times multiplied by 1000 (``time_scale=1000``): close
    to double precision.

These are the conventions of PyVRP's ``read(..., round_func=...)``, and the
numbers are the same as PyVRP's for the same instance. The vehicle cost is
``cost_per_km=1000`` with ``cost_per_hour=0``, so a route's objective equals
its (scaled) distance: ``Plan.cost / time_scale`` is the instance's distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, get_args

from lastmile.domain import (
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
)
from lastmile.exceptions import FormatError, InputError
from lastmile.planning.problem import PlanningProblem
from lastmile.travel import TravelMatrix, euclidean_matrix

Rounding = Literal["dimacs", "round", "exact"]

#: rounding -> (scale applied to distances and times, how the scaled distance becomes an integer)
ROUNDINGS: dict[str, tuple[int, str]] = {
    "dimacs": (10, "trunc"),
    "round": (1, "round"),
    "exact": (1000, "round"),
}

#: The one profile every benchmark vehicle uses.
PROFILE = "car"

COLUMNS = (
    "CUST NO.",
    "XCOORD.",
    "YCOORD.",
    "DEMAND",
    "READY TIME",
    "DUE DATE",
    "SERVICE TIME",
)


def check_rounding(rounding: str) -> tuple[int, str]:
    """``(scale, mode)`` of a rounding name; unknown names raise :class:`InputError`."""
    try:
        return ROUNDINGS[rounding]
    except KeyError:
        known = ", ".join(get_args(Rounding))
        raise InputError(
            f"unknown rounding {rounding!r}; use one of: {known}", where="rounding"
        ) from None


def scale_time(value: float, rounding: str) -> int:
    """An instance time (window bound, service) in matrix units.

    Same arithmetic as PyVRP's ``round_func``: "dimacs" truncates ``10*t``,
    "round" rounds ``t``, "exact" rounds ``1000*t``.
    """
    scale, mode = check_rounding(rounding)
    scaled = scale * value
    return int(scaled) if mode == "trunc" else round(scaled)


def planar_matrix(xy: Sequence[tuple[float, float]], rounding: str) -> TravelMatrix:
    """Euclidean distance = travel time between planar points, under ``rounding``."""
    scale, mode = check_rounding(rounding)
    return euclidean_matrix(xy, scale=scale, rounding=mode)


def travel_note(rounding: str) -> str:
    """How the benchmark's travel times were made, for the problem's ``travel_note``."""
    notes = {
        "dimacs": "Euclidean distance = travel time, truncated to 0.1 (DIMACS), units x10",
        "round": "Euclidean distance = travel time, rounded to the nearest integer (TSPLIB nint)",
        "exact": "Euclidean distance = travel time, rounded to 0.001, units x1000",
    }
    check_rounding(rounding)
    return notes[rounding]


def benchmark_vehicles(
    *, count: int, capacity: int, shift: TimeWindow, type_id: str = "vehicle"
) -> tuple[Vehicle, ...]:
    """``count`` identical vehicles whose objective is the distance they drive.

    ``cost_per_km=1000`` on a matrix in (scaled) instance units makes the cost
    of a route equal its scaled distance; time is not charged.
    """
    vtype = VehicleType(
        id=type_id,
        capacity=(capacity,),
        profile=PROFILE,
        cost_per_km=1000,
        cost_per_hour=0,
    )
    return tuple(Vehicle(id=f"v{k + 1}", type=vtype, shift=shift) for k in range(count))


def read_solomon(path: str | Path, *, rounding: Rounding = "dimacs") -> PlanningProblem:
    """Read a Solomon or Gehring-Homberger instance (``*.txt``).

    Order ids are the customer numbers (``"1"`` ... ``"n"``); location ``i`` is
    the ``i``-th node row (0 = depot). The fleet is the file's ``VEHICLE
    NUMBER`` copies of one vehicle with the file's capacity (dimension
    ``"demand"``), working inside the depot's window. Raises
    :class:`FormatError` naming the file, line and field of a bad value.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read file: {exc}", where=str(p)) from exc
    return parse_solomon(text, source=str(p), rounding=rounding)


def parse_solomon(
    text: str, *, source: str = "<string>", rounding: Rounding = "dimacs"
) -> PlanningProblem:
    """Parse the text of a Solomon instance; ``source`` names it in error messages."""
    check_rounding(rounding)
    lines = text.splitlines()
    numbered = [(i + 1, line.strip()) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise FormatError("file is empty", where=source)
    name = numbered[0][1]

    def find(prefix: str, start: int) -> int:
        for k in range(start, len(numbered)):
            if _squash(numbered[k][1]).startswith(prefix):
                return k
        raise FormatError(f"no {prefix!r} header line", where=source)

    k = find("NUMBER", 1)
    if k + 1 >= len(numbered):
        raise FormatError("missing the line with VEHICLE NUMBER and CAPACITY", where=source)
    lineno, row = numbered[k + 1]
    fields = row.split()
    if len(fields) != 2:
        raise FormatError(
            f"expected 2 values (NUMBER CAPACITY), got {len(fields)}: {row!r}",
            where=f"{source}:{lineno}",
        )
    num_vehicles = _int(fields[0], "VEHICLE NUMBER", source, lineno)
    capacity = _int(fields[1], "CAPACITY", source, lineno)
    if num_vehicles < 1:
        raise FormatError(
            f"VEHICLE NUMBER must be >= 1, got {num_vehicles}", where=f"{source}:{lineno}"
        )

    k = find("CUSTNO", k + 2)
    rows = numbered[k + 1 :]
    if not rows:
        raise FormatError("no node rows after the CUSTOMER header", where=source)

    xy: list[tuple[float, float]] = []
    nodes: list[tuple[int, str, int, float, float, float]] = []  # lineno, id, demand, times
    seen: dict[str, int] = {}
    for lineno, row in rows:
        fields = row.split()
        if len(fields) != len(COLUMNS):
            raise FormatError(
                f"expected {len(COLUMNS)} values ({' '.join(COLUMNS)}), got {len(fields)}",
                where=f"{source}:{lineno}",
            )
        cust = _int(fields[0], "CUST NO.", source, lineno)
        x = _float(fields[1], "XCOORD.", source, lineno)
        y = _float(fields[2], "YCOORD.", source, lineno)
        demand = _int(fields[3], "DEMAND", source, lineno)
        ready = _float(fields[4], "READY TIME", source, lineno)
        due = _float(fields[5], "DUE DATE", source, lineno)
        service = _float(fields[6], "SERVICE TIME", source, lineno)
        where = f"{source}:{lineno}"
        for field, value in (("DEMAND", demand), ("READY TIME", ready), ("SERVICE TIME", service)):
            if value < 0:
                raise FormatError(f"field {field} must be >= 0, got {value:g}", where=where)
        if due < ready:
            raise FormatError(f"field DUE DATE {due:g} is before READY TIME {ready:g}", where=where)
        key = str(cust)
        if key in seen:
            raise FormatError(f"field CUST NO. {cust} repeats line {seen[key]}", where=where)
        seen[key] = lineno
        xy.append((x, y))
        nodes.append((lineno, key, demand, ready, due, service))

    depot_line, depot_id, depot_demand, depot_ready, depot_due, depot_service = nodes[0]
    where = f"{source}:{depot_line}"
    if depot_id != "0":
        raise FormatError(
            f"the first node (the depot) must be number 0, got {depot_id}", where=where
        )
    if depot_demand != 0 or depot_service != 0:
        raise FormatError("the depot (node 0) must have DEMAND 0 and SERVICE TIME 0", where=where)

    def t(value: float) -> int:
        return scale_time(value, rounding)

    horizon = TimeWindow(t(depot_ready), t(depot_due))
    orders = tuple(
        Order(
            id=cust,
            kind=OrderKind.DELIVERY,
            delivery=Stop(
                location=i,
                service=t(service),
                time_windows=(TimeWindow(t(ready), t(due)),),
                ref=cust,
            ),
            amount=(demand,),
        )
        for i, (_, cust, demand, ready, due, service) in enumerate(nodes)
        if i > 0
    )
    try:
        return PlanningProblem(
            locations=tuple(
                Location(x, y, name=n[1], planar=True) for (x, y), n in zip(xy, nodes, strict=True)
            ),
            matrices={PROFILE: planar_matrix(xy, rounding)},
            depots=(Depot(id="0", location=0, time_window=horizon, name="depot"),),
            vehicles=benchmark_vehicles(count=num_vehicles, capacity=capacity, shift=horizon),
            orders=orders,
            dimensions=("demand",),
            name=name,
            time_scale=ROUNDINGS[rounding][0],
            travel_note=travel_note(rounding),
        )
    except InputError as exc:
        raise FormatError(str(exc), where=source) from exc


def _squash(line: str) -> str:
    return "".join(line.upper().split())


def _parse(
    convert: Callable[[str], float], text: str, field: str, source: str, lineno: int
) -> float:
    try:
        value = convert(text)
    except ValueError:
        raise FormatError(
            f"field {field} must be a number, got {text!r}", where=f"{source}:{lineno}"
        ) from None
    if not math.isfinite(value):
        raise FormatError(f"field {field} must be finite, got {text!r}", where=f"{source}:{lineno}")
    return value


def _float(text: str, field: str, source: str, lineno: int) -> float:
    return _parse(float, text, field, source, lineno)


def _int(text: str, field: str, source: str, lineno: int) -> int:
    value = _parse(float, text, field, source, lineno)
    if value != int(value):
        raise FormatError(
            f"field {field} must be an integer, got {text!r}", where=f"{source}:{lineno}"
        )
    return int(value)
