"""Reading a VROOM problem (JSON) into a :class:`PlanningProblem`.

The mapping from VROOM's fields to lastmile's model is described in
:mod:`lastmile.formats.vroom`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lastmile.domain import (
    Break,
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
from lastmile.formats.vroom.fields import DEFAULT_PER_HOUR, DEFAULT_PROFILE, Fields, inner_message
from lastmile.planning.engines.vroom import VROOM_MAX_TIME
from lastmile.planning.problem import PlanningProblem
from lastmile.travel import HaversineModel, TravelMatrix, TravelModel
from lastmile.travel.lazy import CoordinateMatrix

_JOB_KEYS = frozenset(
    {
        "id",
        "description",
        "location",
        "location_index",
        "setup",
        "service",
        "setup_per_type",
        "service_per_type",
        "amount",
        "delivery",
        "pickup",
        "skills",
        "priority",
        "time_windows",
    }
)
_STEP_KEYS = frozenset(
    {
        "id",
        "description",
        "location",
        "location_index",
        "setup",
        "service",
        "setup_per_type",
        "service_per_type",
        "time_windows",
    }
)
_SHIPMENT_KEYS = frozenset({"pickup", "delivery", "amount", "skills", "priority"})
_VEHICLE_KEYS = frozenset(
    {
        "id",
        "profile",
        "description",
        "start",
        "start_index",
        "end",
        "end_index",
        "capacity",
        "costs",
        "skills",
        "type",
        "time_window",
        "breaks",
        "speed_factor",
        "max_tasks",
        "max_travel_time",
        "max_distance",
        "steps",
        "reloads",
    }
)
_COST_KEYS = frozenset({"fixed", "per_hour", "per_km", "per_task_hour"})
_BREAK_KEYS = frozenset({"id", "time_windows", "service", "description", "max_load"})
#: lastmile's extension: ``vehicles[].reloads`` (see :mod:`lastmile.formats.vroom`).
_RELOAD_KEYS = frozenset({"depots", "service", "max"})
_RELOAD_DEPOT_KEYS = frozenset(
    {"location", "location_index", "service", "time_window", "description"}
)
_TOP_KEYS = frozenset({"jobs", "shipments", "vehicles", "matrices", "matrix"})
_MATRIX_KEYS = frozenset({"durations", "distances", "costs"})


@dataclass
class _Place:
    """Where a task or vehicle end is: a matrix row and/or coordinates."""

    index: int | None
    coords: tuple[float, float] | None
    path: str
    loc_key: str
    index_key: str


@dataclass
class _Locations:
    """The location table being built while reading."""

    custom: bool
    size: int = 0
    coords: dict[int, tuple[float, float]] = field(default_factory=dict)
    names: dict[int, list[str]] = field(default_factory=dict)
    by_coords: dict[tuple[float, float], int] = field(default_factory=dict)

    def index(self, place: _Place, fields: Fields) -> int:
        if self.custom:
            idx = place.index
            if idx is None:
                raise fields.fail(
                    f"{place.path}.{place.index_key}", "missing: required when matrices are given"
                )
            if idx >= self.size:
                raise fields.refuse(
                    f"{place.path}.{place.index_key}",
                    f"location index {idx} is outside the {self.size}x{self.size} matrix",
                )
            if place.coords is not None:
                known = self.coords.setdefault(idx, place.coords)
                if known != place.coords:
                    raise fields.refuse(
                        f"{place.path}.{place.loc_key}",
                        f"coordinates {list(place.coords)} differ from {list(known)} given "
                        f"earlier for location index {idx}",
                    )
            return idx
        if place.coords is None:
            raise fields.fail(
                f"{place.path}.{place.loc_key}",
                "missing: coordinates [lon, lat] are required when no matrices are given",
            )
        if place.coords not in self.by_coords:
            self.by_coords[place.coords] = len(self.by_coords)
            self.coords[self.by_coords[place.coords]] = place.coords
        return self.by_coords[place.coords]

    def name(self, idx: int, description: str) -> None:
        if description and description not in self.names.setdefault(idx, []):
            self.names[idx].append(description)

    def table(self) -> tuple[Location, ...]:
        n = self.size if self.custom else len(self.by_coords)
        out = []
        for i in range(n):
            lon, lat = self.coords.get(i, (None, None))
            out.append(Location(lon, lat, name=" / ".join(self.names.get(i, []))))
        return tuple(out)


def _load_json(path_or_dict: str | Path | Mapping[str, Any], source: str) -> tuple[Any, str]:
    if isinstance(path_or_dict, Mapping):
        return path_or_dict, source
    path = Path(path_or_dict)
    src = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror}", where=src) from None
    except UnicodeDecodeError:
        raise FormatError("not UTF-8 text", where=src) from None
    try:
        return json.loads(text), src
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", where=src
        ) from None


def _matrix(f: Fields, value: object, path: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    rows = f.array(value, path)
    try:
        arr = np.asarray(rows)
    except ValueError:
        raise f.fail(path, "must be a square array of arrays of integers") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise f.fail(path, f"must be a non-empty square array of arrays, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        for i, row in enumerate(rows):
            for j, x in enumerate(row):
                f.integer(x, f"{path}[{i}][{j}]")
        raise f.fail(path, "must hold integers only")  # pragma: no cover - caught above
    if (arr < 0).any():
        i, j = np.argwhere(arr < 0)[0]
        raise f.fail(f"{path}[{i}][{j}]", f"must be >= 0, got {arr[i, j]}")
    if (arr > VROOM_MAX_TIME).any():
        i, j = np.argwhere(arr > VROOM_MAX_TIME)[0]
        raise f.fail(f"{path}[{i}][{j}]", f"must be <= {VROOM_MAX_TIME}, got {arr[i, j]}")
    return arr.astype(np.int64)


def _read_matrices(
    f: Fields, data: Mapping[str, Any]
) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]]:
    """``profile -> (durations, distances or None)`` from ``matrices``/``matrix``."""
    if "matrix" in data and "matrices" in data:
        raise f.fail("matrix", "give either matrices or the deprecated matrix, not both")
    if "matrix" in data:
        return {DEFAULT_PROFILE: (_matrix(f, data["matrix"], "matrix"), None)}
    if "matrices" not in data:
        return {}
    out: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]] = {}
    matrices = f.obj(data["matrices"], "matrices")
    for profile, spec in matrices.items():
        path = f"matrices.{profile}"
        spec = f.obj(spec, path)
        f.keys(spec, _MATRIX_KEYS, path)
        if "costs" in spec:
            raise f.refuse(
                f"{path}.costs",
                "custom cost matrices are not supported: route cost is fixed + per_hour x "
                "travel time + per_km x distance",
            )
        if "durations" not in spec:
            raise f.fail(f"{path}.durations", "missing (distances need durations)")
        durations = _matrix(f, spec["durations"], f"{path}.durations")
        distances = None
        if "distances" in spec:
            distances = _matrix(f, spec["distances"], f"{path}.distances")
            if distances.shape != durations.shape:
                raise f.refuse(
                    f"{path}.distances",
                    f"shape {distances.shape} differs from durations {durations.shape}",
                )
        out[profile] = (durations, distances)
    sizes = {p: d.shape[0] for p, (d, _) in out.items()}
    if len(set(sizes.values())) > 1:
        raise f.refuse("matrices", f"all profiles need the same matrix size, got {sizes}")
    return out


def _place(
    f: Fields, obj: Mapping[str, Any], path: str, loc_key: str, index_key: str
) -> _Place | None:
    coords = f.coords(obj[loc_key], f"{path}.{loc_key}") if loc_key in obj else None
    index = f.integer(obj[index_key], f"{path}.{index_key}") if index_key in obj else None
    if coords is None and index is None:
        return None
    return _Place(index, coords, path, loc_key, index_key)


def _no_per_type(f: Fields, obj: Mapping[str, Any], path: str) -> None:
    for key in ("setup_per_type", "service_per_type"):
        if key in obj and f.obj(obj[key], f"{path}.{key}"):
            raise f.refuse(
                f"{path}.{key}",
                "setup/service times per vehicle type are not supported; give one value",
            )


@dataclass
class _Reading:
    """State shared by the readers of one problem."""

    f: Fields
    locations: _Locations
    dims: int | None = None
    dims_path: str = ""

    def amount(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[int, ...] | None:
        if key not in obj:
            return None
        value = self.f.amount(obj[key], f"{path}.{key}")
        if self.dims is None:
            self.dims, self.dims_path = len(value), f"{path}.{key}"
        elif len(value) != self.dims:
            raise self.f.refuse(
                f"{path}.{key}",
                f"has {len(value)} values but {self.dims_path} has {self.dims}; "
                "all amounts and capacities need the same length",
            )
        return value


def _task_stop(r: _Reading, obj: Mapping[str, Any], path: str, ref: str) -> Stop:
    f = r.f
    place = _place(f, obj, path, "location", "location_index")
    if place is None:  # index() names the field that is missing
        place = _Place(None, None, path, "location", "location_index")
    idx = r.locations.index(place, f)
    if "description" in obj:
        r.locations.name(idx, f.string(obj["description"], f"{path}.description"))
    _no_per_type(f, obj, path)
    windows = (
        f.windows(obj["time_windows"], f"{path}.time_windows") if "time_windows" in obj else ()
    )
    if windows == (TimeWindow(),):
        windows = ()  # [0, 2**32 - 1] is VROOM's way of saying "any time"
    return Stop(
        location=idx,
        service=f.opt_int(obj, "service", path),
        setup=f.opt_int(obj, "setup", path),
        time_windows=windows,
        ref=ref,
    )


def _priority(f: Fields, obj: Mapping[str, Any], path: str) -> int:
    if "priority" not in obj:
        return 0
    return f.integer(obj["priority"], f"{path}.priority", maximum=100)


def _nonzero(amount: tuple[int, ...] | None) -> tuple[int, ...]:
    """An all-zero amount is stored as ``()`` (no goods), so every reading agrees."""
    return amount if amount and any(amount) else ()


def _read_job(r: _Reading, job: object, path: str, seen: dict[int, str]) -> Order:
    f = r.f
    obj = f.obj(job, path)
    f.keys(obj, _JOB_KEYS, path)
    if "id" not in obj:
        raise f.fail(f"{path}.id", "missing")
    job_id = f.integer(obj["id"], f"{path}.id")
    if job_id in seen:
        raise f.refuse(f"{path}.id", f"duplicate job id {job_id} (also {seen[job_id]})")
    seen[job_id] = path
    if "amount" in obj and "delivery" in obj:
        raise f.refuse(f"{path}.amount", "deprecated amount and delivery both given")
    delivery = r.amount(obj, "delivery", path)
    if delivery is None:
        delivery = r.amount(obj, "amount", path)
    pickup = r.amount(obj, "pickup", path)
    if delivery and any(delivery) and pickup and any(pickup):
        raise f.refuse(
            f"{path}.pickup",
            "a job with both pickup and delivery amounts cannot be represented: an order moves "
            "goods one way (split it into a delivery job and a pickup job)",
        )
    stop = _task_stop(r, obj, path, str(job_id))
    common: dict[str, Any] = {
        "id": str(job_id),
        "skills": f.skills(obj["skills"], f"{path}.skills") if "skills" in obj else frozenset(),
        "priority": _priority(f, obj, path),
    }
    if pickup and any(pickup):
        return Order(kind=OrderKind.PICKUP, pickup=stop, amount=pickup, **common)
    return Order(kind=OrderKind.DELIVERY, delivery=stop, amount=_nonzero(delivery), **common)


def _read_shipment(
    r: _Reading, shipment: object, path: str, seen: dict[str, dict[int, str]]
) -> Order:
    f = r.f
    obj = f.obj(shipment, path)
    f.keys(obj, _SHIPMENT_KEYS, path)
    stops: dict[str, Stop] = {}
    for side in ("pickup", "delivery"):
        spath = f"{path}.{side}"
        if side not in obj:
            raise f.fail(spath, "missing")
        step = f.obj(obj[side], spath)
        f.keys(step, _STEP_KEYS, spath)
        if "id" not in step:
            raise f.fail(f"{spath}.id", "missing")
        step_id = f.integer(step["id"], f"{spath}.id")
        if step_id in seen[side]:
            raise f.refuse(
                f"{spath}.id", f"duplicate {side} id {step_id} (also {seen[side][step_id]})"
            )
        seen[side][step_id] = spath
        stops[side] = _task_stop(r, step, spath, str(step_id))
    return Order(
        id=f"s{stops['pickup'].ref}-{stops['delivery'].ref}",
        kind=OrderKind.SHIPMENT,
        pickup=stops["pickup"],
        delivery=stops["delivery"],
        amount=_nonzero(r.amount(obj, "amount", path)),
        skills=f.skills(obj["skills"], f"{path}.skills") if "skills" in obj else frozenset(),
        priority=_priority(f, obj, path),
    )


@dataclass(frozen=True)
class _VehicleSpec:
    id: str
    start: int | None
    end: int | None
    profile: str
    speed_factor: float
    capacity: tuple[int, ...] | None
    skills: frozenset[str]
    costs: tuple[int, int, int]
    shift: TimeWindow
    breaks: tuple[Break, ...]
    max_tasks: int | None
    max_travel_time: int | None
    max_distance: int | None
    #: (location, reload service, depot hours or None, path of the entry)
    reloads: tuple[tuple[int, int, TimeWindow | None, str], ...] = ()
    max_reloads: int | None = None


def _read_reloads(
    r: _Reading, obj: Mapping[str, Any], path: str, ends: list[int | None]
) -> tuple[tuple[tuple[int, int, TimeWindow | None, str], ...], int | None]:
    """The ``reloads`` extension of one vehicle: where it may reload, how long, how often."""
    f = r.f
    robj = f.obj(obj["reloads"], path)
    f.keys(robj, _RELOAD_KEYS, path)
    limit = f.integer(robj["max"], f"{path}.max", minimum=0) if "max" in robj else None
    service = f.opt_int(robj, "service", path)
    out: list[tuple[int, int, TimeWindow | None, str]] = []
    if "depots" not in robj:
        home = ends[0] if ends[0] is not None else ends[1]
        assert home is not None  # a vehicle has a start or an end
        return ((home, service, None, path),), limit
    entries = f.array(robj["depots"], f"{path}.depots")
    if not entries:
        raise f.fail(f"{path}.depots", "must list at least one depot (omit the key: the start)")
    for i, entry in enumerate(entries):
        epath = f"{path}.depots[{i}]"
        eobj = f.obj(entry, epath)
        f.keys(eobj, _RELOAD_DEPOT_KEYS, epath)
        place = _place(f, eobj, epath, "location", "location_index")
        if place is None:
            raise f.fail(f"{epath}.location", "missing: give location or location_index")
        loc = r.locations.index(place, f)
        if "description" in eobj:
            r.locations.name(loc, f.string(eobj["description"], f"{epath}.description"))
        window = (
            f.window(eobj["time_window"], f"{epath}.time_window") if "time_window" in eobj else None
        )
        out.append((loc, f.opt_int(eobj, "service", epath, service), window, epath))
    return tuple(out), limit


def _read_vehicle(r: _Reading, vehicle: object, path: str, seen: dict[int, str]) -> _VehicleSpec:
    f = r.f
    obj = f.obj(vehicle, path)
    f.keys(obj, _VEHICLE_KEYS, path)
    if "id" not in obj:
        raise f.fail(f"{path}.id", "missing")
    vid = f.integer(obj["id"], f"{path}.id")
    if vid in seen:
        raise f.refuse(f"{path}.id", f"duplicate vehicle id {vid} (also {seen[vid]})")
    seen[vid] = path
    if "steps" in obj:
        raise f.refuse(
            f"{path}.steps",
            "vehicle steps (imposed or initial routes) are not supported",
        )
    ends: list[int | None] = []
    for loc_key, index_key in (("start", "start_index"), ("end", "end_index")):
        place = _place(f, obj, path, loc_key, index_key)
        ends.append(None if place is None else r.locations.index(place, f))
    if ends == [None, None]:
        raise f.fail(f"{path}.start", "a vehicle needs a start, an end, or both")
    if "description" in obj:
        f.string(obj["description"], f"{path}.description")
    if "type" in obj:
        f.string(obj["type"], f"{path}.type")
    profile = f.string(obj["profile"], f"{path}.profile") if "profile" in obj else DEFAULT_PROFILE
    speed = f.number(obj["speed_factor"], f"{path}.speed_factor") if "speed_factor" in obj else 1.0
    if not 0.0 < speed <= 5.0:
        raise f.fail(f"{path}.speed_factor", f"must be in (0, 5], got {speed}")
    costs = (0, DEFAULT_PER_HOUR, 0)
    if "costs" in obj:
        cpath = f"{path}.costs"
        cobj = f.obj(obj["costs"], cpath)
        f.keys(cobj, _COST_KEYS, cpath)
        if f.opt_int(cobj, "per_task_hour", cpath):
            raise f.refuse(
                f"{cpath}.per_task_hour",
                "a cost for task time is not supported (waiting and service are not charged)",
            )
        costs = (
            f.opt_int(cobj, "fixed", cpath),
            f.opt_int(cobj, "per_hour", cpath, DEFAULT_PER_HOUR),
            f.opt_int(cobj, "per_km", cpath),
        )
    breaks = []
    if "breaks" in obj:
        break_ids: set[int] = set()
        for i, brk in enumerate(f.array(obj["breaks"], f"{path}.breaks")):
            bpath = f"{path}.breaks[{i}]"
            bobj = f.obj(brk, bpath)
            f.keys(bobj, _BREAK_KEYS, bpath)
            if "max_load" in bobj:
                raise f.refuse(f"{bpath}.max_load", "a load limit during breaks is not supported")
            if "id" not in bobj:
                raise f.fail(f"{bpath}.id", "missing")
            bid = f.integer(bobj["id"], f"{bpath}.id")
            if bid in break_ids:
                raise f.refuse(f"{bpath}.id", f"duplicate break id {bid} in this vehicle")
            break_ids.add(bid)
            if "description" in bobj:
                f.string(bobj["description"], f"{bpath}.description")
            tws = (
                f.windows(bobj["time_windows"], f"{bpath}.time_windows")
                if "time_windows" in bobj
                else (TimeWindow(),)
            )
            breaks.append(Break(str(bid), tws, f.opt_int(bobj, "service", bpath)))
    reloads: tuple[tuple[int, int, TimeWindow | None, str], ...] = ()
    max_reloads = None
    if "reloads" in obj:
        reloads, max_reloads = _read_reloads(r, obj, f"{path}.reloads", ends)
    return _VehicleSpec(
        id=str(vid),
        start=ends[0],
        end=ends[1],
        profile=profile,
        speed_factor=speed,
        capacity=r.amount(obj, "capacity", path),
        skills=f.skills(obj["skills"], f"{path}.skills") if "skills" in obj else frozenset(),
        costs=costs,
        shift=(
            f.window(obj["time_window"], f"{path}.time_window")
            if "time_window" in obj
            else TimeWindow()
        ),
        breaks=tuple(breaks),
        max_tasks=f.integer(obj["max_tasks"], f"{path}.max_tasks") if "max_tasks" in obj else None,
        max_travel_time=(
            f.integer(obj["max_travel_time"], f"{path}.max_travel_time")
            if "max_travel_time" in obj
            else None
        ),
        max_distance=(
            f.integer(obj["max_distance"], f"{path}.max_distance")
            if "max_distance" in obj
            else None
        ),
        reloads=reloads,
        max_reloads=max_reloads,
    )


def speed_profile(profile: str, speed_factor: float) -> str:
    """The name of the derived profile of ``profile`` driven at ``speed_factor``."""
    return profile if speed_factor == 1.0 else f"{profile}@x{speed_factor:g}"


def scale_durations(
    durations: np.ndarray[Any, Any], speed_factor: float
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Durations of a vehicle at ``speed_factor``, VROOM's factor rounded per leg."""
    factor = round(100 / speed_factor)
    return ((durations.astype(np.int64) * factor + 50) // 100).astype(np.int64)


def read_problem(
    path_or_dict: str | Path | Mapping[str, Any],
    *,
    travel: TravelModel | None = None,
    source: str = "",
    lazy_above: int | None = None,
) -> PlanningProblem:
    """Read a VROOM problem (a file path, or the already-parsed JSON object).

    ``travel`` computes the matrices when the problem gives only coordinates
    (default :class:`HaversineModel`); ``source`` names the input in error
    messages when a dict is given (a path names itself).

    ``lazy_above``: a problem given by coordinates with at least this many stops,
    travelled in straight lines, gets a
    :class:`~lastmile.travel.lazy.CoordinateMatrix` (legs computed when asked,
    O(n) memory) instead of a dense matrix: for the decomposed solve, which
    never needs the whole matrix (:mod:`lastmile.planning.decompose`).
    """
    data, src = _load_json(path_or_dict, source)
    f = Fields(src)
    data = f.obj(data, "(top level)")
    f.keys(data, _TOP_KEYS, "")
    given = _read_matrices(f, data)
    size = next(iter(given.values()))[0].shape[0] if given else 0
    r = _Reading(f, _Locations(custom=bool(given), size=size))

    if "vehicles" not in data:
        raise f.fail("vehicles", "missing")
    vehicles_json = f.array(data["vehicles"], "vehicles")
    if not vehicles_json:
        raise f.refuse("vehicles", "needs at least one vehicle")
    vseen: dict[int, str] = {}
    specs = [_read_vehicle(r, v, f"vehicles[{i}]", vseen) for i, v in enumerate(vehicles_json)]

    orders: list[Order] = []
    jseen: dict[int, str] = {}
    for i, job in enumerate(f.array(data.get("jobs", []), "jobs")):
        orders.append(_read_job(r, job, f"jobs[{i}]", jseen))
    sseen: dict[str, dict[int, str]] = {"pickup": {}, "delivery": {}}
    for i, shipment in enumerate(f.array(data.get("shipments", []), "shipments")):
        orders.append(_read_shipment(r, shipment, f"shipments[{i}]", sseen))

    locations = r.locations.table()
    dims = r.dims or 0
    notes: list[str] = []
    base: dict[str, TravelMatrix] = {}
    if given:
        for i, spec in enumerate(specs):
            if spec.profile not in given:
                raise f.refuse(
                    f"vehicles[{i}].profile",
                    f"no matrix for profile {spec.profile!r} in matrices "
                    f"(have: {', '.join(sorted(given))})",
                )
        missing_distances = sorted(p for p, (_, dist) in given.items() if dist is None)
        for i, spec in enumerate(specs):
            if given[spec.profile][1] is None and (spec.costs[2] or spec.max_distance is not None):
                field_name = "costs.per_km" if spec.costs[2] else "max_distance"
                raise f.refuse(
                    f"vehicles[{i}].{field_name}",
                    f"needs distances, but matrices.{spec.profile} gives only durations",
                )
        fill: TravelMatrix | None = None
        if missing_distances and all(loc.is_geographic for loc in locations):
            model = travel or HaversineModel()
            fill = model.matrix(locations)
            notes.append(
                f"durations from the problem's matrices; distances for "
                f"{', '.join(missing_distances)}: {model.description}"
            )
        elif missing_distances:
            notes.append(
                f"durations from the problem's matrices; no distances for "
                f"{', '.join(missing_distances)} (reported as 0)"
            )
        else:
            notes.append("durations and distances from the problem's matrices")
        for profile, (dur, dist) in given.items():
            if dist is None:
                dist = fill.distances if fill is not None else np.zeros_like(dur)
            base[profile] = TravelMatrix(durations=dur, distances=dist)
    else:
        model = travel or HaversineModel()
        stops = sum(len(o.stops) for o in orders)
        shared: TravelMatrix
        try:
            if lazy_above is not None and stops >= lazy_above and isinstance(model, HaversineModel):
                shared = CoordinateMatrix(locations, model)
            else:
                shared = model.matrix(locations)
        except InputError as exc:
            raise f.refuse("(locations)", inner_message(exc)) from None
        notes.append(model.description)
        for spec in specs:
            base[spec.profile] = shared

    matrices: dict[str, TravelMatrix] = {}
    for spec in specs:
        name = speed_profile(spec.profile, spec.speed_factor)
        if name not in matrices:
            m = base[spec.profile]
            if isinstance(m, CoordinateMatrix):
                matrices[name] = m.scaled(spec.speed_factor) if name != spec.profile else m
                continue
            dur = scale_durations(m.durations, spec.speed_factor)
            matrices[name] = TravelMatrix(durations=dur, distances=m.distances)
    if any(s.speed_factor != 1.0 for s in specs):
        notes.append("durations scaled per vehicle speed_factor")
    used = {s.profile for s in specs}
    for profile in base:
        if profile not in used and profile not in matrices:
            matrices[profile] = base[profile]

    depot_index: dict[int, int] = {}
    depot_locs: list[int] = []
    for spec in specs:
        for loc in (spec.start, spec.end, *(e[0] for e in spec.reloads)):
            if loc is not None and loc not in depot_index:
                depot_index[loc] = len(depot_locs)
                depot_locs.append(loc)
    # Reload settings per depot: (service, hours, where they were first given).
    reload_at: dict[int, tuple[int, TimeWindow | None, str]] = {}
    for spec in specs:
        for loc, service, window, where in spec.reloads:
            known = reload_at.setdefault(loc, (service, window, where))
            if known[:2] != (service, window):
                raise f.refuse(
                    where,
                    f"reload service/time_window at location {loc} differ from those "
                    f"given at {known[2]}",
                )
    depots: list[Depot] = []
    for loc in depot_locs:
        service, window, _ = reload_at.get(loc, (0, None, ""))
        depots.append(
            Depot(
                id=f"depot-{loc}",
                location=loc,
                time_window=window or TimeWindow(),
                reload_time=service,
                name=locations[loc].name,
            )
        )

    types: dict[tuple[Any, ...], VehicleType] = {}
    vehicles: list[Vehicle] = []
    for i, spec in enumerate(specs):
        capacity = spec.capacity if spec.capacity is not None else (0,) * dims
        if len(capacity) != dims:  # pragma: no cover - enforced by _Reading.amount
            raise f.refuse(f"vehicles[{i}].capacity", f"needs {dims} values")
        profile = speed_profile(spec.profile, spec.speed_factor)
        key = (capacity, spec.skills, profile, spec.costs)
        if key not in types:
            types[key] = VehicleType(
                id=f"type{len(types) + 1}",
                capacity=capacity,
                skills=spec.skills,
                profile=profile,
                fixed_cost=spec.costs[0],
                cost_per_hour=spec.costs[1],
                cost_per_km=spec.costs[2],
            )
        vehicles.append(
            Vehicle(
                id=spec.id,
                type=types[key],
                start_depot=None if spec.start is None else depot_index[spec.start],
                end_depot=None if spec.end is None else depot_index[spec.end],
                shift=spec.shift,
                max_travel_time=spec.max_travel_time,
                max_distance=spec.max_distance,
                max_tasks=spec.max_tasks,
                breaks=spec.breaks,
                reload_depots=tuple(dict.fromkeys(depot_index[e[0]] for e in spec.reloads)),
                max_reloads=spec.max_reloads,
            )
        )

    name = Path(src).stem if src and not isinstance(path_or_dict, Mapping) else src
    try:
        return PlanningProblem(
            locations=locations,
            matrices=matrices,
            depots=tuple(depots),
            vehicles=tuple(vehicles),
            orders=tuple(orders),
            dimensions=tuple(f"amount_{i}" for i in range(dims)),
            name=name,
            travel_note="; ".join(notes),
        )
    except InputError as exc:
        if not src:
            raise
        raise InputError(str(exc), where=src) from None
