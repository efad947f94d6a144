"""Depots, vehicle types, vehicles, shifts and breaks."""

from __future__ import annotations

from dataclasses import dataclass, field

from lastmile.domain._check import is_int, non_negative, non_negative_all
from lastmile.domain.time import TimeWindow, normalise_windows
from lastmile.exceptions import InputError


@dataclass(frozen=True, slots=True)
class Depot:
    """Where vehicles load. ``location`` is a row of the travel matrices.

    ``reload_time`` is spent at each reload visit (multi-trip routes).
    """

    id: str
    location: int
    time_window: TimeWindow = TimeWindow()
    reload_time: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        is_int(self.location, f"depot {self.id!r}.location")
        non_negative(self.location, f"depot {self.id!r}.location")
        non_negative(self.reload_time, f"depot {self.id!r}.reload_time")


@dataclass(frozen=True, slots=True)
class Break:
    """A driver break of ``duration`` seconds starting inside one of ``time_windows``.

    The break is taken on the way to the next stop: the driver may drive
    part of the leg until the window opens, rest, then drive the rest.
    """

    id: str
    time_windows: tuple[TimeWindow, ...]
    duration: int

    def __post_init__(self) -> None:
        where = f"break {self.id!r}"
        if not self.time_windows:
            raise InputError("a break needs at least one time window", where=where)
        object.__setattr__(
            self, "time_windows", normalise_windows(self.time_windows, f"{where}.time_windows")
        )
        is_int(self.duration, f"{where}.duration")
        non_negative(self.duration, f"{where}.duration")


@dataclass(frozen=True, slots=True)
class VehicleType:
    """What a kind of vehicle can carry, what it can do and what it costs.

    The objective of a route is ``fixed_cost + cost_per_hour * travel_s / 3600
    + cost_per_km * distance_m / 1000`` (VROOM's definition: waiting and
    service are not charged). ``profile`` names the travel matrices it uses.
    """

    id: str
    capacity: tuple[int, ...] = ()
    skills: frozenset[str] = field(default_factory=frozenset)
    profile: str = "car"
    fixed_cost: int = 0
    cost_per_hour: int = 3600
    cost_per_km: int = 0

    def __post_init__(self) -> None:
        where = f"vehicle type {self.id!r}"
        object.__setattr__(self, "capacity", tuple(self.capacity))
        object.__setattr__(self, "skills", frozenset(self.skills))
        non_negative_all(self.capacity, f"{where}.capacity")
        for name in ("fixed_cost", "cost_per_hour", "cost_per_km"):
            is_int(getattr(self, name), f"{where}.{name}")
            non_negative(getattr(self, name), f"{where}.{name}")


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One vehicle (with its driver's shift) available to the plan.

    ``start_depot``/``end_depot`` index the problem's depots; ``end_depot=None``
    is an open route that ends at its last stop, ``start_depot=None`` one that
    starts at its first stop. ``shift`` bounds the route's start and end.
    ``max_duration`` bounds end minus start, ``max_travel_time`` the time spent
    driving, ``max_distance`` metres driven, ``max_tasks`` the number of stops.
    ``reload_depots`` are depots where the vehicle may return mid-route to load
    again (multi-trip), at most ``max_reloads`` times.
    """

    id: str
    type: VehicleType
    start_depot: int | None = 0
    end_depot: int | None = 0
    shift: TimeWindow = TimeWindow()
    max_duration: int | None = None
    max_travel_time: int | None = None
    max_distance: int | None = None
    max_tasks: int | None = None
    breaks: tuple[Break, ...] = ()
    reload_depots: tuple[int, ...] = ()
    max_reloads: int | None = None

    def __post_init__(self) -> None:
        where = f"vehicle {self.id!r}"
        if self.start_depot is None and self.end_depot is None:
            raise InputError("needs a start depot, an end depot, or both", where=where)
        for name in ("max_duration", "max_travel_time", "max_distance", "max_tasks", "max_reloads"):
            value = getattr(self, name)
            if value is not None:
                is_int(value, f"{where}.{name}")
                non_negative(value, f"{where}.{name}")
        object.__setattr__(self, "breaks", tuple(self.breaks))
        object.__setattr__(self, "reload_depots", tuple(self.reload_depots))
        ids = [b.id for b in self.breaks]
        if len(set(ids)) != len(ids):
            raise InputError("break ids must be unique", where=f"{where}.breaks")

    @property
    def capacity(self) -> tuple[int, ...]:
        return self.type.capacity

    @property
    def skills(self) -> frozenset[str]:
        return self.type.skills
