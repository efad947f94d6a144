"""Traffic through the day: speed factors per day type, road class and time slice.

A :class:`TrafficProfile` holds ``factors[day_type, road_class, slice]``: the
multiplier applied to a road's free-flow speed (0.55 means traffic moves at 55 %
of free flow, so an edge takes 1/0.55 = 1.82 times its free-flow time). Slices
are ``slice_s`` seconds long (15 minutes by default) and start at local
midnight; a factor holds for its whole slice (speeds are piecewise constant in
time, which keeps travel FIFO: leaving later never arrives earlier).

Day types are ``weekday`` and ``weekend`` (public holidays count as weekend
when the caller lists them). Road classes are OSM ``highway`` values
(``motorway``, ``primary``, ``residential``...); a class the profile does not
name uses its ``other`` row.

:meth:`TrafficProfile.default` is a documented, illustrative profile (see its
docstring and docs/traffic.md): the usual double-peaked weekday curve and a
flat, mild weekend, deepest on arterial roads. It is not measured for any
city; :mod:`lastmile.travel.learning` fits a profile from tracked trips.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lastmile.exceptions import FormatError, InputError

FloatArray = npt.NDArray[np.float64]

DAY_S = 86_400
WEEKDAY = "weekday"
WEEKEND = "weekend"
DAY_TYPES: tuple[str, ...] = (WEEKDAY, WEEKEND)
OTHER = "other"

#: Road classes of the default profile, from the fastest to the slowest roads.
DEFAULT_ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    OTHER,
)

#: Largest factor accepted: a road faster than twice its free-flow speed is a data error.
MAX_FACTOR = 2.0

#: Share of free-flow speed lost at the height of the rush, per road class (default profile).
RUSH_DEPTH: dict[str, float] = {
    "motorway": 0.45,
    "trunk": 0.45,
    "primary": 0.45,
    "secondary": 0.40,
    "tertiary": 0.30,
    "unclassified": 0.20,
    "residential": 0.15,
    "living_street": 0.05,
    "service": 0.05,
    OTHER: 0.20,
}

#: Congestion intensity (0 = free flow, 1 = the worst rush) through a weekday, as
#: (hour, intensity) knots joined linearly: a morning peak 08:00-08:30, a lunchtime
#: plateau, an evening peak 17:00-18:00.
WEEKDAY_INTENSITY: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (6.0, 0.05),
    (7.0, 0.6),
    (7.5, 0.9),
    (8.0, 1.0),
    (8.5, 1.0),
    (9.0, 0.8),
    (10.0, 0.35),
    (12.0, 0.4),
    (13.0, 0.45),
    (14.0, 0.35),
    (16.0, 0.55),
    (17.0, 0.9),
    (18.0, 0.9),
    (18.5, 0.75),
    (20.0, 0.2),
    (22.0, 0.05),
    (24.0, 0.0),
)

#: The same for weekends and holidays: no commute peaks, a mild shopping-hours plateau.
WEEKEND_INTENSITY: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (9.0, 0.05),
    (11.0, 0.3),
    (13.0, 0.35),
    (16.0, 0.35),
    (18.0, 0.25),
    (21.0, 0.05),
    (24.0, 0.0),
)


def day_type_of(day: dt.date, *, holidays: Iterable[dt.date] = ()) -> str:
    """``weekend`` on Saturdays, Sundays and the given holidays, else ``weekday``."""
    if day.weekday() >= 5 or day in set(holidays):
        return WEEKEND
    return WEEKDAY


def parse_clock(text: str, *, where: str) -> int:
    """``HH:MM`` or ``HH:MM:SS`` (``24:00`` allowed) as seconds since midnight."""
    parts = text.strip().split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        hh, mm = int(parts[0]), int(parts[1])
        ss = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        raise InputError(f"expected HH:MM, got {text!r}", where=where) from None
    if not (0 <= mm < 60 and 0 <= ss < 60 and 0 <= hh <= 24):
        raise InputError(f"not a time of day: {text!r}", where=where)
    seconds = hh * 3600 + mm * 60 + ss
    if seconds > DAY_S:
        raise InputError(f"after 24:00: {text!r}", where=where)
    return seconds


def _clock(seconds: int) -> str:
    hh, rem = divmod(seconds, 3600)
    mm, ss = divmod(rem, 60)
    return f"{hh:02d}:{mm:02d}" + (f":{ss:02d}" if ss else "")


class TrafficProfile:
    """Speed factors ``factors[day_type, road_class, slice]`` (multipliers on free-flow speed).

    ``factors`` has shape ``(len(day_types), len(road_classes), 86400 // slice_s)``;
    every factor is in ``(0, MAX_FACTOR]``. The array is copied and made read-only.
    """

    def __init__(
        self,
        *,
        road_classes: Sequence[str],
        factors: npt.ArrayLike,
        slice_s: int = 900,
        day_types: Sequence[str] = DAY_TYPES,
    ) -> None:
        if slice_s <= 0 or DAY_S % slice_s:
            raise InputError(f"must divide a day (86400 s), got {slice_s}", where="slice_s")
        self.slice_s = int(slice_s)
        self.day_types = tuple(day_types)
        self.road_classes = tuple(road_classes)
        if len(set(self.road_classes)) != len(self.road_classes):
            raise InputError("road classes must be unique", where="road_classes")
        if len(set(self.day_types)) != len(self.day_types):
            raise InputError("day types must be unique", where="day_types")
        arr = np.array(factors, dtype=np.float64)
        shape = (len(self.day_types), len(self.road_classes), self.slices_per_day)
        if arr.shape != shape:
            raise InputError(f"expected shape {shape}, got {arr.shape}", where="factors")
        bad = ~np.isfinite(arr) | (arr <= 0) | (arr > MAX_FACTOR)
        if bad.any():
            d, c, k = (int(x) for x in np.argwhere(bad)[0])
            raise InputError(
                f"factor must be in (0, {MAX_FACTOR}], got {arr[d, c, k]}",
                where=f"factors[{self.day_types[d]}, {self.road_classes[c]}, "
                f"{_clock(k * self.slice_s)}]",
            )
        arr.setflags(write=False)
        self.factors: FloatArray = arr
        self._class_index = {name: i for i, name in enumerate(self.road_classes)}
        self._day_index = {name: i for i, name in enumerate(self.day_types)}

    # -- construction -------------------------------------------------------------------

    @classmethod
    def free_flow(
        cls, *, road_classes: Sequence[str] = DEFAULT_ROAD_CLASSES, slice_s: int = 900
    ) -> TrafficProfile:
        """Every factor 1.0: no traffic at any time."""
        shape = (len(DAY_TYPES), len(road_classes), DAY_S // slice_s)
        return cls(road_classes=road_classes, factors=np.ones(shape), slice_s=slice_s)

    @classmethod
    def default(cls, *, slice_s: int = 900) -> TrafficProfile:
        """The built-in profile: ``factor = 1 - RUSH_DEPTH[class] * intensity(day type, t)``.

        ``intensity`` follows :data:`WEEKDAY_INTENSITY` / :data:`WEEKEND_INTENSITY`
        (piecewise linear, sampled at each slice's midpoint) and
        :data:`RUSH_DEPTH` says how hard each road class is hit: arterials and
        motorways lose up to 45 % of their speed at 08:00 on a weekday (factor
        0.55), residential streets 15 %, service roads 5 %. Weekends peak at
        35 % intensity around midday. Factors are rounded to 3 decimals.
        """
        n = DAY_S // slice_s
        mid_h = (np.arange(n) + 0.5) * slice_s / 3600
        intensity = []
        for knots in (WEEKDAY_INTENSITY, WEEKEND_INTENSITY):
            hours, values = zip(*knots, strict=True)
            intensity.append(np.interp(mid_h, hours, values))
        depth = np.array([RUSH_DEPTH[c] for c in DEFAULT_ROAD_CLASSES])
        factors = 1.0 - depth[None, :, None] * np.array(intensity)[:, None, :]
        return cls(road_classes=DEFAULT_ROAD_CLASSES, factors=np.round(factors, 3), slice_s=slice_s)

    @classmethod
    def from_csv(
        cls, path: str | Path, *, slice_s: int = 900, base: TrafficProfile | None = None
    ) -> TrafficProfile:
        """Read rows ``day_type,road_class,start,end,factor``.

        Each row sets ``factor`` on every slice in ``[start, end)`` (``HH:MM``,
        ``24:00`` allowed, on slice boundaries). ``day_type`` is ``weekday``,
        ``weekend`` or ``*`` (both); ``road_class`` a class name or ``*`` (all
        classes known so far). Later rows override earlier ones. Anything no row
        sets keeps its value in ``base`` (free flow when ``base`` is None);
        classes not in ``base`` are added, starting at free flow.
        """
        path = Path(path)
        base = base or cls.free_flow(slice_s=slice_s)
        if base.slice_s != slice_s:
            raise InputError(
                f"base profile has {base.slice_s}-s slices, asked for {slice_s}", where="slice_s"
            )
        try:
            with path.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
                header = rows[0].keys() if rows else []
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None
        need = ("day_type", "road_class", "start", "end", "factor")
        missing = [c for c in need if c not in header]
        if missing:
            raise FormatError(f"missing column(s): {', '.join(missing)}", where=str(path))
        classes = list(base.road_classes)
        for row in rows:
            name = (row["road_class"] or "").strip()
            if name and name != "*" and name not in classes:
                classes.append(name)
        factors = np.ones((len(base.day_types), len(classes), base.slices_per_day))
        factors[:, : len(base.road_classes), :] = base.factors
        for lineno, row in enumerate(rows, start=2):
            where = f"{path.name}:{lineno}"
            day = (row["day_type"] or "").strip()
            if day == "*":
                days = list(range(len(base.day_types)))
            elif day in base.day_types:
                days = [base.day_types.index(day)]
            else:
                known = ", ".join((*base.day_types, "*"))
                raise FormatError(f"unknown day_type {day!r} (use {known})", where=where)
            name = (row["road_class"] or "").strip()
            if not name:
                raise FormatError("empty road_class", where=f"{where} column road_class")
            cols = list(range(len(classes))) if name == "*" else [classes.index(name)]
            start = parse_clock(row["start"] or "", where=f"{where} column start")
            end = parse_clock(row["end"] or "", where=f"{where} column end")
            if start >= end:
                raise FormatError(
                    f"start {row['start']} is not before end {row['end']}", where=where
                )
            for label, t in (("start", start), ("end", end)):
                if t % slice_s:
                    raise FormatError(
                        f"{row[label]} is not on a {slice_s // 60}-minute slice boundary",
                        where=f"{where} column {label}",
                    )
            try:
                value = float(row["factor"] or "")
            except ValueError:
                raise FormatError(
                    f"not a number: {row['factor']!r}", where=f"{where} column factor"
                ) from None
            if not (math.isfinite(value) and 0 < value <= MAX_FACTOR):
                raise FormatError(
                    f"factor must be in (0, {MAX_FACTOR}], got {value}",
                    where=f"{where} column factor",
                )
            for d in days:
                for c in cols:
                    factors[d, c, start // slice_s : end // slice_s] = value
        return cls(road_classes=classes, factors=factors, slice_s=slice_s, day_types=base.day_types)

    def to_csv(self, path: str | Path) -> None:
        """Write the profile in :meth:`from_csv`'s format (runs of equal factors merged)."""
        with Path(path).open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["day_type", "road_class", "start", "end", "factor"])
            for d, day in enumerate(self.day_types):
                for c, name in enumerate(self.road_classes):
                    row = self.factors[d, c]
                    k = 0
                    while k < len(row):
                        j = k
                        while j + 1 < len(row) and row[j + 1] == row[k]:
                            j += 1
                        out.writerow(
                            [
                                day,
                                name,
                                _clock(k * self.slice_s),
                                _clock((j + 1) * self.slice_s),
                                f"{row[k]:.6g}",
                            ]
                        )
                        k = j + 1

    # -- queries ------------------------------------------------------------------------

    @property
    def slices_per_day(self) -> int:
        return DAY_S // self.slice_s

    def class_index(self, road_class: str) -> int:
        """Row of ``road_class``; a ``*_link`` road the profile does not name uses its road's
        row (``primary_link`` -> ``primary``), any other unnamed class the ``other`` row."""
        idx = self._class_index.get(road_class)
        if idx is None and road_class.endswith("_link"):
            idx = self._class_index.get(road_class.removesuffix("_link"))
        if idx is None:
            idx = self._class_index.get(OTHER)
        if idx is None:
            raise InputError(
                f"unknown road class {road_class!r} and the profile has no {OTHER!r} row",
                where="road_class",
            )
        return idx

    def day_index(self, day_type: str) -> int:
        try:
            return self._day_index[day_type]
        except KeyError:
            known = ", ".join(self.day_types)
            raise InputError(
                f"unknown day type {day_type!r} (use {known})", where="day_type"
            ) from None

    def factor(self, day_type: str, road_class: str, t: float) -> float:
        """The factor at ``t`` seconds after midnight (taken modulo one day)."""
        k = int((t % DAY_S) // self.slice_s)
        return float(self.factors[self.day_index(day_type), self.class_index(road_class), k])

    def class_rows(self, class_names: Sequence[str]) -> npt.NDArray[np.int64]:
        """Profile row for each of a network's road class names."""
        return np.array([self.class_index(n) for n in class_names], dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"TrafficProfile({len(self.day_types)} day types x {len(self.road_classes)} "
            f"road classes x {self.slices_per_day} slices of {self.slice_s} s, "
            f"factors {self.factors.min():.2f}..{self.factors.max():.2f})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrafficProfile):
            return NotImplemented
        return (
            self.slice_s == other.slice_s
            and self.day_types == other.day_types
            and self.road_classes == other.road_classes
            and bool(np.array_equal(self.factors, other.factors))
        )

    __hash__ = None  # type: ignore[assignment]
