"""VROOM's JSON problem and solution formats (VROOM ``docs/API.md``, 1.14+).

:func:`read_problem` turns a VROOM problem into a :class:`PlanningProblem`;
:func:`write_problem` does the reverse (with ``location_index`` and custom
``matrices``, so any problem can be fed to the ``vroom`` binary);
:func:`write_solution` writes a :class:`Plan` in VROOM's solution format.

Mapping (VROOM -> lastmile):

- a job with a ``delivery`` amount (or none) is a DELIVERY order, one with a
  ``pickup`` amount a PICKUP order; its id is ``str(id)``. A job with both
  non-zero is rejected (one order moves goods one way).
- a shipment is one SHIPMENT order with id ``"s<pickup id>-<delivery id>"``;
  its stops carry ``ref`` = the step ids.
- vehicle starts/ends become depots, one per distinct location; vehicles with
  the same (capacity, skills, profile, costs) share a vehicle type.
- skills (integers) become strings; amounts become dimensions ``amount_0``...;
  all-zero amounts are stored as none, and a vehicle without ``capacity``
  carries nothing when others have one (VROOM's default amount is zero).
- ``time_window``/``time_windows`` ends at or beyond ``2**32 - 1`` (VROOM's
  "no end") mean no end.
- with ``matrices`` the matrices are used exactly as given. A vehicle with a
  ``speed_factor`` other than 1 gets a derived profile (e.g. ``car@x1.5``)
  whose durations are the profile's multiplied by ``round(100/speed_factor)/100``
  and rounded per leg (VROOM scales the same way but rounds cumulated times,
  so arrivals may differ by a second per leg). Without matrices, matrices are
  computed from the coordinates with the given travel model and
  ``problem.travel_note`` says so.

Whatever the model cannot represent (per-type setup/service, custom cost
matrices, vehicle ``steps``, break ``max_load``, ``per_task_hour`` costs, a job
with both pickup and delivery amounts, unknown keys) raises
:class:`InputError` naming the field; malformed JSON, missing fields and wrong
types raise :class:`FormatError`. Descriptions of tasks become the name of
their location (joined with ``" / "`` when several tasks share it); vehicle
and break descriptions are not kept.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lastmile.domain import (
    HORIZON,
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    Visit,
    VisitKind,
)
from lastmile.domain.time import normalise_windows
from lastmile.exceptions import FormatError, InputError, UnsupportedConstraint
from lastmile.planning.engines.vroom import VROOM_MAX_TIME
from lastmile.planning.problem import Feature, PlanningProblem
from lastmile.travel import HaversineModel, TravelMatrix, TravelModel

__all__ = [
    "VROOM_MAX_TIME",
    "read_problem",
    "write_problem",
    "write_solution",
]

DEFAULT_PROFILE = "car"
DEFAULT_PER_HOUR = 3600

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
    }
)
_COST_KEYS = frozenset({"fixed", "per_hour", "per_km", "per_task_hour"})
_BREAK_KEYS = frozenset({"id", "time_windows", "service", "description", "max_load"})
_TOP_KEYS = frozenset({"jobs", "shipments", "vehicles", "matrices", "matrix"})
_MATRIX_KEYS = frozenset({"durations", "distances", "costs"})


# -- low-level field readers -----------------------------------------------------------


class _Fields:
    """Typed access to JSON values; every error names the source and field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def where(self, path: str) -> str:
        return f"{self.source}: {path}" if self.source else path

    def fail(self, path: str, message: str) -> FormatError:
        return FormatError(message, where=self.where(path))

    def refuse(self, path: str, message: str) -> InputError:
        return InputError(message, where=self.where(path))

    def obj(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be an object, got {_kind(value)}")
        return value

    def keys(self, value: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.refuse(
                    f"{path}.{key}" if path else key,
                    f"unknown key (not part of VROOM's format here: {known})",
                )

    def array(self, value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array, got {_kind(value)}")
        return value

    def integer(
        self, value: object, path: str, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, got {_kind(value)} {value!r}")
        if value < minimum:
            raise self.fail(path, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(path, f"must be <= {maximum}, got {value}")
        return value

    def number(self, value: object, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {_kind(value)} {value!r}")
        if not math.isfinite(value):
            raise self.fail(path, f"must be finite, got {value}")
        return float(value)

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {_kind(value)}")
        return value

    def opt_int(self, obj: Mapping[str, Any], key: str, path: str, default: int = 0) -> int:
        return self.integer(obj[key], f"{path}.{key}") if key in obj else default

    def amount(self, value: object, path: str) -> tuple[int, ...]:
        items = self.array(value, path)
        return tuple(self.integer(x, f"{path}[{i}]") for i, x in enumerate(items))

    def coords(self, value: object, path: str) -> tuple[float, float]:
        items = self.array(value, path)
        if len(items) != 2:
            raise self.fail(path, f"must be [lon, lat], got {len(items)} numbers")
        lon = self.number(items[0], f"{path}[0]")
        lat = self.number(items[1], f"{path}[1]")
        if not -180.0 <= lon <= 180.0:
            raise self.fail(f"{path}[0]", f"longitude must be in [-180, 180], got {lon}")
        if not -90.0 <= lat <= 90.0:
            raise self.fail(f"{path}[1]", f"latitude must be in [-90, 90], got {lat}")
        return lon, lat

    def window(self, value: object, path: str) -> TimeWindow:
        items = self.array(value, path)
        if len(items) != 2:
            raise self.fail(path, f"a time window is [start, end], got {len(items)} values")
        start = self.integer(items[0], f"{path}[0]")
        end = self.integer(items[1], f"{path}[1]")
        if start > end:
            raise self.fail(path, f"start {start} is after end {end}")
        return TimeWindow(start, HORIZON if end >= VROOM_MAX_TIME else end)

    def windows(self, value: object, path: str) -> tuple[TimeWindow, ...]:
        items = self.array(value, path)
        if not items:
            raise self.fail(path, "must list at least one time window (omit the key for none)")
        tws = [self.window(w, f"{path}[{i}]") for i, w in enumerate(items)]
        try:
            return normalise_windows(tws, path)
        except InputError as exc:
            raise self.refuse(path, _inner_message(exc)) from None

    def skills(self, value: object, path: str) -> frozenset[str]:
        items = self.array(value, path)
        return frozenset(str(self.integer(s, f"{path}[{i}]")) for i, s in enumerate(items))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _inner_message(exc: InputError) -> str:
    text = str(exc)
    return text[len(exc.where) + 2 :] if exc.where and text.startswith(exc.where) else text


# -- reading -------------------------------------------------------------------------------


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

    def index(self, place: _Place, fields: _Fields) -> int:
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


def _matrix(f: _Fields, value: object, path: str) -> np.ndarray[Any, np.dtype[np.int64]]:
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
    f: _Fields, data: Mapping[str, Any]
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
    f: _Fields, obj: Mapping[str, Any], path: str, loc_key: str, index_key: str
) -> _Place | None:
    coords = f.coords(obj[loc_key], f"{path}.{loc_key}") if loc_key in obj else None
    index = f.integer(obj[index_key], f"{path}.{index_key}") if index_key in obj else None
    if coords is None and index is None:
        return None
    return _Place(index, coords, path, loc_key, index_key)


def _no_per_type(f: _Fields, obj: Mapping[str, Any], path: str) -> None:
    for key in ("setup_per_type", "service_per_type"):
        if key in obj and f.obj(obj[key], f"{path}.{key}"):
            raise f.refuse(
                f"{path}.{key}",
                "setup/service times per vehicle type are not supported; give one value",
            )


@dataclass
class _Reading:
    """State shared by the readers of one problem."""

    f: _Fields
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


def _priority(f: _Fields, obj: Mapping[str, Any], path: str) -> int:
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
) -> PlanningProblem:
    """Read a VROOM problem (a file path, or the already-parsed JSON object).

    ``travel`` computes the matrices when the problem gives only coordinates
    (default :class:`HaversineModel`); ``source`` names the input in error
    messages when a dict is given (a path names itself).
    """
    data, src = _load_json(path_or_dict, source)
    f = _Fields(src)
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
        try:
            shared = model.matrix(locations)
        except InputError as exc:
            raise f.refuse("(locations)", _inner_message(exc)) from None
        notes.append(model.description)
        for spec in specs:
            base[spec.profile] = shared

    matrices: dict[str, TravelMatrix] = {}
    for spec in specs:
        name = speed_profile(spec.profile, spec.speed_factor)
        if name not in matrices:
            m = base[spec.profile]
            dur = scale_durations(m.durations, spec.speed_factor)
            matrices[name] = TravelMatrix(durations=dur, distances=m.distances)
    if any(s.speed_factor != 1.0 for s in specs):
        notes.append("durations scaled per vehicle speed_factor")
    used = {s.profile for s in specs}
    for profile in base:
        if profile not in used and profile not in matrices:
            matrices[profile] = base[profile]

    depot_index: dict[int, int] = {}
    depots: list[Depot] = []
    for spec in specs:
        for loc in (spec.start, spec.end):
            if loc is not None and loc not in depot_index:
                depot_index[loc] = len(depots)
                depots.append(Depot(id=f"depot-{loc}", location=loc, name=locations[loc].name))

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


# -- writing ---------------------------------------------------------------------------

_NUMERIC = re.compile(r"0|[1-9][0-9]*")


def json_id(value: str) -> int | str:
    """An id as VROOM writes it: an integer when it is one, else the string."""
    return int(value) if _NUMERIC.fullmatch(value) else value


def _int_ids(values: Sequence[str]) -> list[int]:
    """The values as integers if all are distinct non-negative integers, else 1..n."""
    if all(_NUMERIC.fullmatch(v) for v in values) and len(set(values)) == len(values):
        return [int(v) for v in values]
    return list(range(1, len(values) + 1))


def _clamp(t: int) -> int:
    return min(t, VROOM_MAX_TIME)


def _tw(w: TimeWindow) -> list[int]:
    return [w.start, _clamp(w.end)]


def _unsupported_by_vroom(problem: PlanningProblem) -> None:
    missing = problem.features & {Feature.RELOADS, Feature.MAX_DURATION}
    if missing:
        raise UnsupportedConstraint("vroom", {str(x) for x in missing})


def write_problem(problem: PlanningProblem) -> dict[str, Any]:
    """The problem as VROOM JSON with ``location_index`` and per-profile matrices.

    Ids that are integers are kept; otherwise tasks/vehicles are numbered from
    1 and the original id is written as ``description``. Depot hours are folded
    into each vehicle's ``time_window``. Problems using what VROOM cannot model
    (reloads, max_duration) raise :class:`UnsupportedConstraint`.
    """
    _unsupported_by_vroom(problem)
    locs = problem.locations

    def place(idx: int, key: str = "location") -> dict[str, Any]:
        out: dict[str, Any] = {f"{key}_index" if key != "location" else "location_index": idx}
        if locs[idx].is_geographic:
            out[key] = [locs[idx].lon, locs[idx].lat]
        return out

    def windows(stop: Stop) -> dict[str, Any]:
        tws = [w for w in stop.time_windows]
        if not tws or (len(tws) == 1 and not tws[0].is_bounded):
            return {}
        return {"time_windows": [_tw(w) for w in tws]}

    def task(stop: Stop, task_id: int, original: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": task_id}
        desc = locs[stop.location].name
        if str(task_id) != original:
            desc = original if not desc else f"{original}: {desc}"
        if desc:
            out["description"] = desc
        out.update(place(stop.location))
        if stop.setup:
            out["setup"] = stop.setup
        if stop.service:
            out["service"] = stop.service
        out.update(windows(stop))
        return out

    def common(order: Order) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if order.skills:
            out["skills"] = sorted(skill_ids[s] for s in order.skills)
        if order.priority:
            out["priority"] = order.priority
        return out

    all_skills = sorted(
        {s for o in problem.orders for s in o.skills}
        | {s for v in problem.vehicles for s in v.skills}
    )
    skill_ids = dict(zip(all_skills, _int_ids(all_skills), strict=True))
    dims = len(problem.dimensions)

    singles = [o for o in problem.orders if o.kind is not OrderKind.SHIPMENT]
    shipments = [o for o in problem.orders if o.kind is OrderKind.SHIPMENT]
    jobs = []
    for order, jid in zip(
        singles, _int_ids([o.single_stop.ref or o.id for o in singles]), strict=True
    ):
        out = task(order.single_stop, jid, order.single_stop.ref or order.id)
        if dims:
            key = "delivery" if order.kind is OrderKind.DELIVERY else "pickup"
            out[key] = list(problem.amount(order))
        out.update(common(order))
        jobs.append(out)
    pick_ids = _int_ids([o.pickup.ref if o.pickup else "" for o in shipments])
    drop_ids = _int_ids([o.delivery.ref if o.delivery else "" for o in shipments])
    ships = []
    for order, pid, did in zip(shipments, pick_ids, drop_ids, strict=True):
        assert order.pickup is not None and order.delivery is not None
        out = {
            "pickup": task(order.pickup, pid, order.pickup.ref or f"{order.id} pickup"),
            "delivery": task(order.delivery, did, order.delivery.ref or f"{order.id} delivery"),
        }
        if dims:
            out["amount"] = list(problem.amount(order))
        out.update(common(order))
        ships.append(out)

    vehicles = []
    for vehicle, vid in zip(
        problem.vehicles, _int_ids([v.id for v in problem.vehicles]), strict=True
    ):
        t = vehicle.type
        out = {"id": vid}
        if str(vid) != vehicle.id:
            out["description"] = vehicle.id
        out["profile"] = t.profile
        if vehicle.start_depot is not None:
            out.update(place(problem.depots[vehicle.start_depot].location, "start"))
        if vehicle.end_depot is not None:
            out.update(place(problem.depots[vehicle.end_depot].location, "end"))
        if dims:
            out["capacity"] = list(t.capacity)
        if t.skills:
            out["skills"] = sorted(skill_ids[s] for s in t.skills)
        if (t.fixed_cost, t.cost_per_hour, t.cost_per_km) != (0, DEFAULT_PER_HOUR, 0):
            out["costs"] = {
                "fixed": t.fixed_cost,
                "per_hour": t.cost_per_hour,
                "per_km": t.cost_per_km,
            }
        tw = problem.working_hours(vehicle)
        if tw is None:  # no working time left: an instant VROOM cannot fill
            out["time_window"] = [_clamp(vehicle.shift.start)] * 2
        elif tw.is_bounded:
            out["time_window"] = _tw(tw)
        if vehicle.breaks:
            ids = _int_ids([b.id for b in vehicle.breaks])
            out["breaks"] = [
                {
                    "id": bid,
                    "time_windows": [_tw(w) for w in b.time_windows],
                    "service": b.duration,
                    **({} if str(bid) == b.id else {"description": b.id}),
                }
                for b, bid in zip(vehicle.breaks, ids, strict=True)
            ]
        for key in ("max_tasks", "max_travel_time", "max_distance"):
            value = getattr(vehicle, key)
            if value is not None:
                out[key] = value
        vehicles.append(out)

    used = {v.type.profile for v in problem.vehicles}
    matrices: dict[str, dict[str, Any]] = {}
    for profile, m in problem.matrices.items():
        if profile not in used:
            continue
        matrices[profile] = {}
        for key, values in (("durations", m.durations), ("distances", m.distances)):
            if values.size and int(values.max()) > VROOM_MAX_TIME:
                raise InputError(
                    f"values above {VROOM_MAX_TIME} do not fit VROOM",
                    where=f"matrices.{profile}.{key}",
                )
            matrices[profile][key] = values.tolist()
    out_problem: dict[str, Any] = {"vehicles": vehicles}
    if jobs:
        out_problem["jobs"] = jobs
    if ships:
        out_problem["shipments"] = ships
    out_problem["matrices"] = matrices
    return out_problem


def _scaler(problem: PlanningProblem) -> Callable[[int], int | float]:
    """Converts matrix time/distance/cost units to reported units (``/ time_scale``)."""
    scale = problem.time_scale

    def conv(x: int) -> int | float:
        return x if scale == 1 else x / scale

    return conv


def _visit_stop(problem: PlanningProblem, visit: Visit) -> tuple[Order, Stop]:
    order = problem.order(visit.order_id or "")
    if visit.kind is VisitKind.PICKUP:
        stop = order.pickup
    elif visit.kind is VisitKind.DELIVERY:
        stop = order.delivery
    else:
        stop = order.single_stop
    assert stop is not None
    return order, stop


def _drops(order: Order, kind: VisitKind) -> bool:
    """Whether serving ``order`` at a visit of ``kind`` unloads its amount."""
    return kind is VisitKind.DELIVERY or (
        kind is VisitKind.JOB and order.kind is OrderKind.DELIVERY
    )


def _stop_id(order: Order, stop: Stop) -> int | str:
    return json_id(stop.ref or order.id)


def _location_fields(problem: PlanningProblem, idx: int) -> dict[str, Any]:
    loc = problem.locations[idx]
    out: dict[str, Any] = {}
    if loc.is_geographic:
        out["location"] = [loc.lon, loc.lat]
    out["location_index"] = idx
    return out


@dataclass
class _Totals:
    """Per-route sums in matrix units, before scaling."""

    setup: int = 0
    service: int = 0
    wait: int = 0
    priority: int = 0
    delivery: list[int] = field(default_factory=list)
    pickup: list[int] = field(default_factory=list)


def _edge_step(
    kind: str, problem: PlanningProblem, visit: Visit, time: int, load: Sequence[int]
) -> dict[str, Any]:
    """A ``start``/``end`` step (synthesised at the first/last stop for open routes)."""
    conv = _scaler(problem)
    step: dict[str, Any] = {"type": kind}
    step.update(_location_fields(problem, visit.location))
    step.update(
        {
            "setup": 0,
            "service": 0,
            "waiting_time": 0,
            "arrival": conv(time),
            "duration": conv(visit.travel if kind == "end" else 0),
            "distance": conv(visit.distance if kind == "end" else 0),
            "load": list(load),
            "violations": [],
        }
    )
    return step


def _load_before(problem: PlanningProblem, route: Route) -> list[int]:
    """The load before the first task (an open route's implicit start)."""
    for v in route.visits:
        if v.is_task:
            order, _ = _visit_stop(problem, v)
            sign = 1 if _drops(order, v.kind) else -1
            return [x + sign * a for x, a in zip(v.load, problem.amount(order), strict=True)]
    return [0] * len(problem.dimensions)


def _route_json(problem: PlanningProblem, route: Route) -> tuple[dict[str, Any], _Totals]:
    conv = _scaler(problem)
    dims = len(problem.dimensions)
    totals = _Totals(delivery=[0] * dims, pickup=[0] * dims)
    steps: list[dict[str, Any]] = []
    visits = route.visits
    if visits[0].kind is not VisitKind.START:
        steps.append(
            _edge_step("start", problem, visits[0], visits[0].arrival, _load_before(problem, route))
        )
    for v in visits:
        if v.kind is VisitKind.START:
            steps.append(_edge_step("start", problem, v, v.departure, v.load))
            continue
        if v.kind is VisitKind.END:
            steps.append(_edge_step("end", problem, v, v.arrival, v.load))
            continue
        step: dict[str, Any] = {"type": str(v.kind)}
        setup, service = 0, v.departure - v.start
        if v.kind is VisitKind.BREAK:
            step["id"] = json_id(v.break_id or "")
        elif v.kind is VisitKind.RELOAD:
            step["depot"] = problem.depots[v.depot if v.depot is not None else 0].id
            step.update(_location_fields(problem, v.location))
        else:
            order, stop = _visit_stop(problem, v)
            step["id"] = _stop_id(order, stop)
            step.update(_location_fields(problem, v.location))
            if problem.locations[v.location].name:
                step["description"] = problem.locations[v.location].name
            setup, service = service - stop.service, stop.service
            totals.priority += order.priority
            target = totals.delivery if _drops(order, v.kind) else totals.pickup
            for i, a in enumerate(problem.amount(order)):
                target[i] += a
        totals.setup += setup
        totals.service += service
        totals.wait += v.wait
        step.update(
            {
                "setup": conv(setup),
                "service": conv(service),
                "waiting_time": conv(v.wait),
                "arrival": conv(v.arrival),
                "duration": conv(v.travel),
                "distance": conv(v.distance),
                "load": list(v.load),
                "violations": [],
            }
        )
        steps.append(step)
    if visits[-1].kind is not VisitKind.END:
        steps.append(_edge_step("end", problem, visits[-1], visits[-1].departure, visits[-1].load))
    out: dict[str, Any] = {
        "vehicle": json_id(route.vehicle_id),
        "cost": conv(route.cost),
        "setup": conv(totals.setup),
        "service": conv(totals.service),
        "duration": conv(route.travel),
        "waiting_time": conv(totals.wait),
        "priority": totals.priority,
        "distance": conv(route.distance),
    }
    if dims:
        out["delivery"] = totals.delivery
        out["pickup"] = totals.pickup
    out["steps"] = steps
    out["violations"] = []
    return out, totals


def write_solution(
    problem: PlanningProblem, plan: Plan, *, computing_time_s: float | None = None
) -> dict[str, Any]:
    """The plan in VROOM's solution format, plus a ``lastmile`` object.

    Only routes with tasks are written (as VROOM does); open routes get a
    ``start``/``end`` step at their first/last stop as in VROOM. Times, costs
    and distances are divided by ``problem.time_scale`` when it is not 1 (so a
    benchmark instance reports in its own units). Each unassigned task carries
    our ``reason`` and ``code``. ``computing_time_s`` defaults to
    ``plan.runtime_s``.
    """
    conv = _scaler(problem)
    used = [r for r in plan.routes if r.tasks]
    written = [_route_json(problem, r) for r in used]
    routes = [w[0] for w in written]
    totals = [w[1] for w in written]
    unassigned = []
    for u in plan.unassigned:
        order = problem.order(u.order_id)
        kinds = ["pickup", "delivery"] if order.kind is OrderKind.SHIPMENT else ["job"]
        for kind, stop in zip(kinds, order.stops, strict=True):
            entry: dict[str, Any] = {"id": _stop_id(order, stop), "type": kind}
            entry.update(_location_fields(problem, stop.location))
            if problem.locations[stop.location].name:
                entry["description"] = problem.locations[stop.location].name
            entry["reason"] = u.reason
            entry["code"] = u.code
            unassigned.append(entry)
    dims = len(problem.dimensions)
    seconds = plan.runtime_s if computing_time_s is None else computing_time_s
    summary: dict[str, Any] = {
        "cost": conv(sum(r.cost for r in used)),
        "routes": len(routes),
        "unassigned": len(unassigned),
        "setup": conv(sum(t.setup for t in totals)),
        "service": conv(sum(t.service for t in totals)),
        "duration": conv(sum(r.travel for r in used)),
        "waiting_time": conv(sum(t.wait for t in totals)),
        "priority": sum(t.priority for t in totals),
        "distance": conv(sum(r.distance for r in used)),
    }
    if dims:
        summary["delivery"] = [sum(t.delivery[i] for t in totals) for i in range(dims)]
        summary["pickup"] = [sum(t.pickup[i] for t in totals) for i in range(dims)]
    summary["violations"] = []
    summary["computing_times"] = {"loading": 0, "solving": round(seconds * 1000), "routing": 0}
    return {
        "code": 0,
        "summary": summary,
        "unassigned": unassigned,
        "routes": routes,
        "lastmile": {
            "engine": plan.engine,
            "travel_note": problem.travel_note,
            "time_scale": problem.time_scale,
            "runtime_s": plan.runtime_s,
        },
    }
