"""CVRP and CVRPTW instances and solutions in VRPLIB format (read with ``vrplib``).

VRPLIB numbers nodes from 1 with the depot first; its solution files number
clients by node id minus one (the depot, 0, is implicit). Orders get those
numbers as ids, so node 2 is order ``"1"`` and a ``.sol`` route maps onto the
problem's orders unchanged. Location ``i`` is node ``i + 1``.

Distances follow the same ``rounding`` conventions as
:mod:`lastmile.formats.solomon` ("dimacs", "round", "exact"), so the Solomon
text file and the VRPLIB copy of the same instance give identical problems.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.domain import Depot, Location, Order, OrderKind, Stop, TimeWindow
from lastmile.exceptions import FormatError, InputError
from lastmile.formats.solomon import (
    PROFILE,
    ROUNDINGS,
    Rounding,
    benchmark_vehicles,
    check_rounding,
    planar_matrix,
    scale_time,
    travel_note,
)
from lastmile.planning.problem import PlanningProblem
from lastmile.travel import TravelMatrix

#: Problem types this reader understands (others use fields it would ignore).
TYPES = frozenset({"CVRP", "CVRPTW", "VRPTW"})

#: Specification keys this reader understands; numeric ones must hold numbers.
_SPECS = frozenset(
    {"NAME", "COMMENT", "TYPE", "EDGE_WEIGHT_TYPE", "EDGE_WEIGHT_FORMAT", "NODE_COORD_TYPE"}
    | {"DISPLAY_DATA_TYPE"}
)
_NUMERIC_SPECS = frozenset({"DIMENSION", "VEHICLES", "CAPACITY", "SERVICE_TIME"})

#: Section -> names of the columns of each row (None: free-form numbers).
_SECTIONS: dict[str, tuple[str, ...] | None] = {
    "NODE_COORD_SECTION": ("node", "x", "y"),
    "DEMAND_SECTION": ("node", "demand"),
    "TIME_WINDOW_SECTION": ("node", "earliest", "latest"),
    "SERVICE_TIME_SECTION": ("node", "service time"),
    "DEPOT_SECTION": ("depot",),
    "EDGE_WEIGHT_SECTION": None,
}


def read_vrplib(path: str | Path, *, rounding: Rounding | None = None) -> PlanningProblem:
    """Read a CVRP or CVRPTW instance (``*.vrp``).

    ``rounding=None`` picks the convention the instance's best-known solutions
    use: "round" for CVRP (no time windows), "dimacs" otherwise. The fleet is
    ``VEHICLES`` copies of one vehicle, or one per customer when the file sets
    no count (unbounded in practice). The depot's time window bounds every
    vehicle's shift. Raises :class:`FormatError` naming the file, and the line
    and field where the text itself is at fault.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read file: {exc}", where=str(p)) from exc
    _prescan(text, str(p))
    import vrplib  # deferred: only this reader needs it

    try:
        instance: dict[str, Any] = vrplib.read_instance(p)
    except (ValueError, TypeError, RuntimeError, IndexError, KeyError) as exc:
        raise FormatError(f"not a readable VRPLIB instance: {exc}", where=str(p)) from exc
    return _problem(instance, source=str(p), rounding=rounding)


def read_vrplib_solution(path: str | Path) -> list[list[str]]:
    """The routes of a VRPLIB solution file, as order ids (see :func:`read_vrplib`).

    Empty routes are dropped.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read file: {exc}", where=str(p)) from exc
    for lineno, line in enumerate(text.splitlines(), start=1):
        if "Route" in line:
            _, sep, rest = line.partition(":")
            bad = [tok for tok in rest.split() if not tok.isdigit()]
            if not sep or bad:
                raise FormatError(
                    f"a route line must read 'Route #k: c1 c2 ...' with client numbers, "
                    f"got {line.strip()!r}",
                    where=f"{p}:{lineno}",
                )
    import vrplib

    try:
        solution = vrplib.read_solution(p)
    except (ValueError, TypeError, IndexError) as exc:
        raise FormatError(f"not a readable VRPLIB solution: {exc}", where=str(p)) from exc
    return [[str(int(c)) for c in route] for route in solution["routes"] if len(route)]


def default_rounding(instance_type: str) -> Rounding:
    """The rounding convention of published results for a VRPLIB problem type."""
    return "round" if instance_type.upper() == "CVRP" else "dimacs"


# -- internals -------------------------------------------------------------------


def _prescan(text: str, source: str) -> None:
    """Check the text line by line, so errors name a line and field.

    ``vrplib`` parses without line numbers; this catches what it would
    misread or report only as a numpy error.
    """
    section: str | None = None
    columns: tuple[str, ...] | None = None
    expected_node = 1
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}:{lineno}"
        if not line:
            continue
        if line.upper().startswith("EOF"):
            break
        head = line.split()[0].strip(":").upper()
        if head.endswith("_SECTION"):
            if head not in _SECTIONS:
                raise FormatError(f"section {head} is not supported", where=where)
            section, columns, expected_node = head, _SECTIONS[head], 1
            continue
        if ":" in line and section is None:
            key, _, value = line.partition(":")
            key = key.strip().upper()
            value = value.strip()
            if key in _NUMERIC_SPECS:
                if not _is_number(value):
                    raise FormatError(f"field {key} must be a number, got {value!r}", where=where)
            elif key not in _SPECS:
                raise FormatError(f"field {key} is not supported", where=where)
            continue
        if section is None:
            raise FormatError(f"expected 'KEY : value' or a section, got {line!r}", where=where)
        if ":" in line:
            raise FormatError(f"specification {line!r} after the sections", where=where)
        tokens = line.split()
        if columns is not None and section == "DEPOT_SECTION" and tokens == ["-1"]:
            section = None
            continue
        if columns is not None and len(tokens) != len(columns):
            raise FormatError(
                f"{section} rows have {len(columns)} values ({', '.join(columns)}), "
                f"got {len(tokens)}",
                where=where,
            )
        for k, tok in enumerate(tokens):
            if not _is_number(tok):
                field = f"{section} {columns[k]}" if columns is not None else section
                raise FormatError(f"field {field} must be a number, got {tok!r}", where=where)
        if section == "TIME_WINDOW_SECTION" and float(tokens[2]) < float(tokens[1]):
            raise FormatError(
                f"field TIME_WINDOW_SECTION latest {tokens[2]} is before earliest {tokens[1]}",
                where=where,
            )
        if section in ("DEMAND_SECTION", "SERVICE_TIME_SECTION") and float(tokens[1]) < 0:
            raise FormatError(f"field {section} must be >= 0, got {tokens[1]}", where=where)
        if columns is not None and columns[0] == "node":
            if tokens[0] != str(expected_node):
                raise FormatError(
                    f"field {section} node must be {expected_node} (rows in node order), "
                    f"got {tokens[0]}",
                    where=where,
                )
            expected_node += 1


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _problem(
    instance: dict[str, Any], *, source: str, rounding: Rounding | None
) -> PlanningProblem:
    kind = str(instance.get("type", "CVRP")).upper()
    if kind not in TYPES:
        raise FormatError(
            f"field TYPE {kind!r} is not supported; use one of: {', '.join(sorted(TYPES))}",
            where=source,
        )
    rounding = rounding if rounding is not None else default_rounding(kind)
    check_rounding(rounding)
    n = _int_spec(instance, "dimension", source)
    if n < 2:
        raise FormatError(f"field DIMENSION must be >= 2, got {n}", where=source)
    depots = np.atleast_1d(instance.get("depot", np.array([0])))
    if depots.tolist() != [0]:
        raise FormatError(
            "exactly one depot, node 1, is supported", where=f"{source}: DEPOT_SECTION"
        )

    demand = _column(instance, "demand", n, source, default=0)
    if (demand < 0).any() or (demand != np.round(demand)).any():
        node = int(np.argmax((demand < 0) | (demand != np.round(demand)))) + 1
        raise FormatError(
            f"field DEMAND_SECTION of node {node} must be an integer >= 0", where=source
        )
    capacity = instance.get("capacity")
    if capacity is None:
        cap = int(demand.sum())
    elif np.ndim(capacity) == 0:
        cap = _int_spec(instance, "capacity", source)
    else:
        raise FormatError("field CAPACITY must be one number (one vehicle type)", where=source)

    service = instance.get("service_time", 0)
    if np.ndim(service) == 0:
        services = np.full(n, float(service))
    else:
        services = _column(instance, "service_time", n, source, default=0)
    services[0] = 0  # the depot has no service (PyVRP's reading)

    windows = instance.get("time_window")
    if windows is not None:
        windows = np.asarray(windows, dtype=np.float64)
        if windows.shape != (n, 2):
            raise FormatError(
                f"TIME_WINDOW_SECTION must have {n} rows of 2 values, got shape {windows.shape}",
                where=source,
            )
        late = np.argwhere(windows[:, 1] < windows[:, 0])
        if len(late):
            raise FormatError(
                f"field TIME_WINDOW_SECTION of node {int(late[0][0]) + 1}: latest before earliest",
                where=source,
            )

    coords = instance.get("node_coord")
    edge_type = str(instance.get("edge_weight_type", "")).upper()
    matrix = _matrix(instance, coords, edge_type, n, rounding, source)

    def t(value: float) -> int:
        return scale_time(float(value), rounding)

    horizon = TimeWindow() if windows is None else TimeWindow(t(windows[0, 0]), t(windows[0, 1]))
    orders = []
    for i in range(1, n):
        tw = () if windows is None else (TimeWindow(t(windows[i, 0]), t(windows[i, 1])),)
        orders.append(
            Order(
                id=str(i),
                kind=OrderKind.DELIVERY,
                delivery=Stop(location=i, service=t(services[i]), time_windows=tw, ref=str(i)),
                amount=(int(demand[i]),),
            )
        )
    vehicles = instance.get("vehicles", n - 1)
    if np.ndim(vehicles) != 0 or float(vehicles) != int(vehicles) or int(vehicles) < 1:
        raise FormatError(f"field VEHICLES must be an integer >= 1, got {vehicles!r}", where=source)
    if coords is not None:
        xy = np.asarray(coords, dtype=np.float64)
        locations = tuple(
            Location(float(x), float(y), name=str(i), planar=True) for i, (x, y) in enumerate(xy)
        )
    else:
        locations = tuple(Location(name=str(i)) for i in range(n))
    try:
        return PlanningProblem(
            locations=locations,
            matrices={PROFILE: matrix},
            depots=(Depot(id="0", location=0, time_window=horizon, name="depot"),),
            vehicles=benchmark_vehicles(count=int(vehicles), capacity=cap, shift=horizon),
            orders=tuple(orders),
            dimensions=("demand",),
            name=str(instance.get("name", Path(source).stem)),
            time_scale=ROUNDINGS[rounding][0],
            travel_note=travel_note(rounding),
        )
    except InputError as exc:
        raise FormatError(str(exc), where=source) from exc


def _int_spec(instance: dict[str, Any], key: str, source: str) -> int:
    if key not in instance:
        raise FormatError(f"field {key.upper()} is missing", where=source)
    value = instance[key]
    if isinstance(value, str) or float(value) != int(value):
        raise FormatError(f"field {key.upper()} must be an integer, got {value!r}", where=source)
    return int(value)


def _column(
    instance: dict[str, Any], key: str, n: int, source: str, *, default: float
) -> npt.NDArray[np.float64]:
    if key not in instance:
        return np.full(n, float(default))
    values = np.asarray(instance[key], dtype=np.float64)
    if values.shape != (n,):
        raise FormatError(
            f"{key.upper()}_SECTION must have {n} rows of one value, got shape {values.shape}",
            where=source,
        )
    return values


def _matrix(
    instance: dict[str, Any],
    coords: Any,
    edge_type: str,
    n: int,
    rounding: str,
    source: str,
) -> TravelMatrix:
    if edge_type == "EUC_2D":
        if coords is None:
            raise FormatError("EUC_2D needs a NODE_COORD_SECTION", where=source)
        xy = np.asarray(coords, dtype=np.float64)
        if xy.shape != (n, 2):
            raise FormatError(
                f"NODE_COORD_SECTION must have {n} rows of x y, got shape {xy.shape}",
                where=source,
            )
        return planar_matrix([(float(x), float(y)) for x, y in xy], rounding)
    if edge_type == "EXPLICIT":
        weights = np.asarray(instance.get("edge_weight"), dtype=np.float64)
        if weights.shape != (n, n):
            raise FormatError(
                f"EDGE_WEIGHT_SECTION must give a {n}x{n} matrix, got shape {weights.shape}",
                where=source,
            )
        scale, mode = ROUNDINGS[rounding]
        scaled = weights * scale
        m = scaled.astype(np.int64) if mode == "trunc" else np.rint(scaled).astype(np.int64)
        return TravelMatrix(durations=m, distances=m.copy())
    raise FormatError(
        f"field EDGE_WEIGHT_TYPE {edge_type or '(missing)'!r} is not supported; "
        "use EUC_2D or EXPLICIT",
        where=source,
    )
