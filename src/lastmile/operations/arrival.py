"""Arrivals and departures from a route's GPS fixes: a streaming detector.

Drivers forget to press "arrived", and never press "left". The detector reads
the route's fixes one at a time (:meth:`ArrivalDetector.feed`) and says when
the vehicle has **arrived** at a stop (it came inside the stop's geofence and
stayed there for the dwell time) and when it has **departed** (it went
clearly outside). What the driver reports (:meth:`ArrivalDetector.report`)
takes precedence: a stop the driver said they reached is not detected again,
a departure the driver reported is not detected, and a stop finished by the
driver while the vehicle still stands inside the geofence of the next one
makes that next stop arrived at once (two customers in one building).

Why it holds up on real GPS:

* **Jitter**: a fix counts as inside when ``distance - accuracy <= radius``
  and as outside only when ``distance - accuracy > exit_radius`` (a wider
  circle): fixes wandering around the edge neither end a stay nor start a
  departure. A fix that reports no accuracy (or 0) is taken as accurate to
  15 m, as a phone's fix at best. Fixes whose reported accuracy is worse than ``max_accuracy_m``
  are ignored, as are jumps implying more than ``max_speed_mps`` from the
  last fix kept (multipath, a cell-tower fix), unless the next fixes agree
  with the jump.
* **Driving past**: only a stay of ``dwell_s`` inside the circle, over at
  least ``min_fixes`` fixes (the last may be around the edge, not clearly
  outside, when the others were inside), without moving faster than
  ``max_stay_speed_mps`` since coming in, is an arrival. A van passing at 30 km/h crosses a 120 m
  circle in 15 s; one crawling in traffic moves on.
* **Close neighbours**: only the next ``lookahead`` stops not yet reached
  (in route order) are candidates, so a stop planned for the afternoon next
  door to a morning one is not "arrived" in the morning; when several
  candidates qualify, the earliest in route order wins. While the vehicle is
  at a stop the driver has not finished, no other stop is detected, unless
  the vehicle has clearly moved over to a candidate next door: it stayed
  inside the candidate's geofence as for an arrival, every fix since it came
  in nearer to the candidate than to the unfinished stop by twice the fixes'
  noise (a neighbour closer than the departure circle is never left by it:
  without the driver's reports it would never be detected). The unfinished
  stop is then departed and the candidate arrived at, both dated at the
  first of those fixes.
* **Out of order**: any of the candidates may be reached first.

Fixes must come in time order; one older than the last fix read is ignored
(:attr:`DetectorState.last_t`). The state is plain data
(:meth:`ArrivalDetector.state`, :meth:`ArrivalDetector.from_state`), so a
service can keep it between batches of fixes. Pure: no I/O, no clock; times
are seconds (any epoch, the same for fixes and reports).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lastmile.exceptions import InputError

_EARTH_RADIUS_M = 6_371_008.8
#: Fixes rejected in a row as jumps before the next one is believed.
_MAX_JUMPS = 2
#: The least noise assumed of a fix (metres) when judging whether the vehicle moved,
#: and the accuracy of a fix that reports none: as noisy as a phone's.
_NOISE_FLOOR_M = 15.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class ArrivalSettings:
    """Thresholds of the detector (every field checked; a bad one names itself).

    ``radius_m``: the stop's geofence; ``exit_radius_m``: the wider circle the
    vehicle must leave for a departure (hysteresis against jitter);
    ``dwell_s`` and ``min_fixes``: how long, and over how many fixes, the
    vehicle must stay inside for an arrival; ``max_accuracy_m``: fixes
    reporting a worse accuracy are ignored; ``max_speed_mps``: a fix implying
    a faster move from the last one kept is ignored as a jump (two in a row at
    most: then the last one kept was the wrong one); ``lookahead``: how many
    of the next stops not yet reached are candidates; ``max_gap_s``: a stay
    with no fix for longer is forgotten (nothing says the vehicle stayed);
    ``max_stay_speed_mps``: a vehicle that moved faster than this since it
    came inside (beyond what the fixes' accuracy explains) is passing, not
    stopping.
    """

    radius_m: float = 60.0
    exit_radius_m: float = 120.0
    dwell_s: int = 25
    min_fixes: int = 2
    max_accuracy_m: float = 100.0
    max_speed_mps: float = 50.0
    lookahead: int = 3
    max_gap_s: int = 300
    max_stay_speed_mps: float = 2.0

    def __post_init__(self) -> None:
        for name in (
            "radius_m",
            "exit_radius_m",
            "max_accuracy_m",
            "max_speed_mps",
            "max_stay_speed_mps",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(f"{value!r} is not a number > 0", where=name)
        if self.exit_radius_m < self.radius_m:
            raise InputError(
                f"{self.exit_radius_m!r} is smaller than radius_m ({self.radius_m!r})",
                where="exit_radius_m",
            )
        for name, low in (("dwell_s", 0), ("min_fixes", 1), ("lookahead", 1), ("max_gap_s", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InputError(f"{value!r} is not a whole number >= {low}", where=name)


@dataclass(frozen=True, slots=True)
class GeoStop:
    """An order stop of the route: its visit ``sequence`` and where it is."""

    sequence: int
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix at ``t`` seconds; ``accuracy_m`` as the device reports it (None: unknown)."""

    t: float
    lon: float
    lat: float
    accuracy_m: float | None = None


class Movement(StrEnum):
    ARRIVED = "arrived"
    DEPARTED = "departed"


class Report(StrEnum):
    """What the driver reported at a stop, as the detector needs it."""

    ARRIVED = "arrived"
    #: Any final outcome: delivered, picked up, failed, not attempted.
    FINISHED = "finished"
    DEPARTED = "departed"


@dataclass(frozen=True, slots=True)
class Detection:
    """The vehicle ``kind`` (arrived/departed) at the stop ``sequence`` at ``at``
    (the first fix inside for an arrival, the first fix clearly outside for a
    departure); ``decided_at`` is the fix that settled it."""

    kind: Movement
    sequence: int
    at: float
    decided_at: float


@dataclass
class DetectorState:
    """What the detector remembers between fixes (plain data: JSON as :meth:`to_json`).

    ``reached``: stops arrived at (detected or reported) or finished;
    ``finished``: stops the driver finished; ``present``: stops the vehicle is
    at (arrived, not departed); ``gone``: stops departed; ``stays``: for each
    candidate the vehicle is inside of, ``[first fix inside, fixes inside]``;
    ``last``: the last fix kept ``[t, lon, lat]``; ``last_t``: the last fix
    read; ``free_at``: when the driver last finished a stop (no arrival
    elsewhere is dated before it); ``over``: while the vehicle is at a stop the
    driver has not finished, for each candidate it may have moved over to,
    ``[first fix clearly nearer to it and inside, fixes inside, last fix inside
    (1/0), lon, lat of the first]``.
    """

    reached: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    present: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)
    stays: dict[int, list[float]] = field(default_factory=dict)
    last: tuple[float, float, float] | None = None
    last_t: float | None = None
    free_at: float | None = None
    jumps: int = 0
    last_accuracy: float = 0.0
    over: dict[int, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "reached": sorted(self.reached),
            "finished": sorted(self.finished),
            "present": sorted(self.present),
            "gone": sorted(self.gone),
            "stays": {str(k): v for k, v in self.stays.items()},
            "last": list(self.last) if self.last is not None else None,
            "last_t": self.last_t,
            "free_at": self.free_at,
            "jumps": self.jumps,
            "last_accuracy": self.last_accuracy,
            "over": {str(k): v for k, v in self.over.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DetectorState:
        if not data:
            return cls()
        last = data.get("last")
        return cls(
            reached=set(data.get("reached", ())),
            finished=set(data.get("finished", ())),
            present=set(data.get("present", ())),
            gone=set(data.get("gone", ())),
            stays={int(k): [float(x) for x in v] for k, v in data.get("stays", {}).items()},
            last=(float(last[0]), float(last[1]), float(last[2])) if last else None,
            last_t=data.get("last_t"),
            free_at=data.get("free_at"),
            jumps=int(data.get("jumps", 0)),
            last_accuracy=float(data.get("last_accuracy", 0.0)),
            over={int(k): [float(x) for x in v] for k, v in data.get("over", {}).items()},
        )


class ArrivalDetector:
    """The streaming detector for one route (see the module's docstring)."""

    def __init__(
        self,
        stops: Sequence[GeoStop],
        settings: ArrivalSettings | None = None,
        state: DetectorState | None = None,
    ) -> None:
        self.stops = sorted(stops, key=lambda s: s.sequence)
        self._by_seq = {s.sequence: s for s in self.stops}
        self.settings = settings or ArrivalSettings()
        self._s = state if state is not None else DetectorState()

    @property
    def state(self) -> DetectorState:
        return self._s

    def candidates(self) -> list[GeoStop]:
        """The next stops not yet reached, in route order (at most ``lookahead``)."""
        out: list[GeoStop] = []
        for stop in self.stops:
            if stop.sequence not in self._s.reached:
                out.append(stop)
                if len(out) == self.settings.lookahead:
                    break
        return out

    def report(self, sequence: int, what: Report, at: float) -> list[Detection]:
        """The driver reported ``what`` at stop ``sequence``. A finished stop may
        let the vehicle be at the next one at once (it is already standing
        inside its geofence long enough): that arrival is returned."""
        s = self._s
        if sequence not in self._by_seq:
            return []
        if what is Report.DEPARTED:
            s.reached.add(sequence)
            s.present.discard(sequence)
            s.gone.add(sequence)
            s.stays.pop(sequence, None)
            return []
        # The vehicle is there if the last fix says so: its departure will be seen.
        if (
            sequence not in s.reached
            and sequence not in s.gone
            and (
                s.last is None
                or self._distance(sequence, s.last[1], s.last[2]) <= self.settings.exit_radius_m
            )
        ):
            s.present.add(sequence)
        s.reached.add(sequence)
        s.stays.pop(sequence, None)
        if what is Report.FINISHED:
            s.finished.add(sequence)
            s.free_at = at if s.free_at is None else max(s.free_at, at)
            return self._settle(at)
        return []

    def feed(self, fix: Fix) -> list[Detection]:
        """Read one fix; what it settles (departures first, then an arrival)."""
        s, cfg = self._s, self.settings
        if s.last_t is not None and fix.t < s.last_t:
            return []
        s.last_t = fix.t
        if fix.accuracy_m is not None and fix.accuracy_m > cfg.max_accuracy_m:
            return []
        # A fix that does not say how accurate it is (or says 0) is as noisy as a phone's.
        accuracy = fix.accuracy_m or _NOISE_FLOOR_M
        if s.last is not None and s.jumps < _MAX_JUMPS:
            dt = fix.t - s.last[0]
            jump = distance_m(s.last[1], s.last[2], fix.lon, fix.lat) - accuracy
            if jump > cfg.max_speed_mps * max(dt, 1.0):
                s.jumps += 1
                return []
        # Fixes that keep disagreeing with the last one kept are right, and it was wrong.
        s.jumps = 0
        s.last = (fix.t, fix.lon, fix.lat)
        s.last_accuracy = accuracy
        out: list[Detection] = []
        for seq in sorted(s.present):
            if self._distance(seq, fix.lon, fix.lat) - accuracy > cfg.exit_radius_m:
                s.present.discard(seq)
                s.gone.add(seq)
                out.append(Detection(Movement.DEPARTED, seq, fix.t, fix.t))
        candidates = self.candidates()
        wanted = {c.sequence for c in candidates}
        for seq in list(s.stays):
            if seq not in wanted:
                del s.stays[seq]
        for stop in candidates:
            d = self._distance(stop.sequence, fix.lon, fix.lat)
            stay = s.stays.get(stop.sequence)
            if stay is not None and fix.t - stay[3] > cfg.max_gap_s:
                del s.stays[stop.sequence]  # no news for too long: not known to have stayed
                stay = None
            if d - accuracy <= cfg.radius_m:
                if stay is None:
                    stay = s.stays[stop.sequence] = [fix.t, 0.0, 0.0, fix.t, fix.lon, fix.lat]
                stay[1] += 1
                stay[2] = 1.0
                stay[3] = fix.t
            elif stay is not None:
                if d - accuracy > cfg.radius_m + max(accuracy, cfg.radius_m / 2):
                    # Clearly outside (not a fix wandering around the edge): the stay ends.
                    del s.stays[stop.sequence]
                else:
                    stay[2] = 0.0
        self._moving_over(fix, accuracy, candidates)
        out.extend(self._settle(fix.t))
        return out

    def _moving_over(self, fix: Fix, accuracy: float, candidates: list[GeoStop]) -> None:
        """Follow, while the vehicle is at a stop the driver has not finished, the
        fixes clearly nearer to a candidate (see ``DetectorState.over``)."""
        s, cfg = self._s, self.settings
        held = [seq for seq in s.present if seq not in s.finished]
        if not held:
            s.over.clear()
            return
        margin = 2 * max(accuracy, _NOISE_FLOOR_M)
        wanted = {c.sequence for c in candidates}
        for seq in list(s.over):
            if seq not in wanted:
                del s.over[seq]
        for stop in candidates:
            d = self._distance(stop.sequence, fix.lon, fix.lat)
            clear = all(self._distance(h, fix.lon, fix.lat) - d > margin for h in held)
            inside = d - accuracy <= cfg.radius_m
            run = s.over.get(stop.sequence)
            if not clear:
                s.over.pop(stop.sequence, None)
            elif run is not None:
                run[1] += 1 if inside else 0
                run[2] = 1.0 if inside else 0.0
            elif inside:
                s.over[stop.sequence] = [fix.t, 1.0, 1.0, fix.lon, fix.lat]

    def feed_all(self, fixes: Iterable[Fix]) -> list[Detection]:
        out: list[Detection] = []
        for fix in fixes:
            out.extend(self.feed(fix))
        return out

    def _busy(self) -> bool:
        """The vehicle stands at a stop the driver has not finished."""
        return any(seq not in self._s.finished for seq in self._s.present)

    def _stayed(self, first: float, count: float, lon: float, lat: float, now: float) -> bool:
        """Whether a stay that began at ``first`` (at ``lon``, ``lat``), with ``count``
        fixes inside, is long enough and slow enough to be an arrival."""
        s, cfg = self._s, self.settings
        assert s.last is not None
        if now - first < cfg.dwell_s or count < cfg.min_fixes:
            return False
        # Crawling through the circle (traffic) is not stopping: the vehicle must
        # not have moved further than GPS noise explains since it came in.
        noise = max(s.last_accuracy, _NOISE_FLOOR_M)
        moved = distance_m(lon, lat, s.last[1], s.last[2]) - 2 * noise
        return moved <= cfg.max_stay_speed_mps * max(now - first, 1.0)

    def _moved_over(self, now: float) -> list[Detection]:
        """The vehicle, at a stop the driver has not finished, has clearly moved over
        to a candidate: departed from the one, arrived at the other."""
        s = self._s
        for stop in self.candidates():
            run = s.over.get(stop.sequence)
            if run is None or not run[2]:
                continue
            first, count, _, lon, lat = run
            if not self._stayed(first, count, lon, lat, now):
                continue
            out = []
            for seq in sorted(q for q in s.present if q not in s.finished):
                s.present.discard(seq)
                s.gone.add(seq)
                out.append(Detection(Movement.DEPARTED, seq, first, now))
            s.reached.add(stop.sequence)
            s.present.add(stop.sequence)
            s.stays.clear()
            s.over.clear()
            return [*out, Detection(Movement.ARRIVED, stop.sequence, first, now)]
        return []

    def _settle(self, now: float) -> list[Detection]:
        s = self._s
        if s.last is None:
            return []
        if self._busy():
            return self._moved_over(now)
        for stop in self.candidates():
            stay = s.stays.get(stop.sequence)
            if stay is None:
                continue
            first, count, inside, _, lon, lat = stay
            # A fix around the edge (not clearly outside) after fixes inside still
            # says the vehicle is there: it counts towards the fixes of the stay.
            if self._stayed(first, count + (0.0 if inside else 1.0), lon, lat, now):
                s.reached.add(stop.sequence)
                s.present.add(stop.sequence)
                s.stays.clear()
                since = first if s.free_at is None else max(first, s.free_at)
                return [Detection(Movement.ARRIVED, stop.sequence, since, now)]
        return []

    def _distance(self, sequence: int, lon: float, lat: float) -> float:
        stop = self._by_seq[sequence]
        return distance_m(stop.lon, stop.lat, lon, lat)
