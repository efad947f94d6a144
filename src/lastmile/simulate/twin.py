"""The digital twin: a plan driven through a day with noise, failures and incidents.

:func:`simulate_day` drives every route of a plan and returns a
:class:`TwinResult` holding the day's :class:`~lastmile.domain.day.DayRecord`.
It is a loop over :class:`Twin`, the steppable core: :meth:`Twin.advance_to`
moves the clock and yields what happened, in time order, as
:class:`TwinEvent` s (pings, departures, arrivals, deliveries, failures with
their reason, breaks, incidents); :meth:`Twin.replace_plan` and
:meth:`Twin.replace_route` change what vehicles do next, as a service does
after inserting an order or re-planning. docs/simulation.md describes the
model and every event.

How a leg goes. A vehicle leaving row ``a`` for row ``b`` at ``t`` takes
``truth(a, b, t) * X / weather`` seconds: ``truth`` is the true travel time
at that time of day (:mod:`lastmile.simulate.truth`: the plan's matrices, or
the time-dependent road network), ``X`` a factor drawn from
:class:`~lastmile.travel.noise.TravelNoise` (``config.noise``), ``weather``
the speed multiplier of ``config.weather``. At the stop it follows the
planner's timing rule (:func:`lastmile.planning.build_route`): waits for the
window, spends setup (when the place changes) and service, takes breaks on
the way. Without noise, weather and incidents, a plan is driven exactly as
planned.

Each vehicle commits to a leg when it leaves: the leg, the breaks on it and
the stop at its end (the customer's absence, the parcel's scan) are drawn
then. A stop whose arrival would come after the shift's end (plus
``overtime_s``) is not driven to: the vehicle goes home and the rest of its
stops are ``NOT_REACHED``. Draws come from streams of their own (per
vehicle for travel and GPS, per stop for failures), so the same seed gives
the same record, and a stop's customer is absent whichever plan serves it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import math
import zlib
import zoneinfo
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from lastmile.domain import (
    Order,
    OrderKind,
    Plan,
    Route,
    TimeWindow,
    Unassigned,
    Vehicle,
    Visit,
    VisitKind,
)
from lastmile.domain.day import (
    DayRecord,
    EtaSample,
    Incident,
    Position,
    RouteOutcome,
    StopOutcome,
    StopStatus,
)
from lastmile.domain.time import HORIZON, earliest_start
from lastmile.exceptions import InputError, LastmileError
from lastmile.operations.eta import recompute_etas
from lastmile.operations.notify import promise_s
from lastmile.operations.position import Origin, vehicle_position
from lastmile.operations.progress import (
    StopEventKind,
    StopEventRecord,
    route_progress,
    tracked_stops,
)
from lastmile.planning.live import LivePlan, VehicleState
from lastmile.planning.problem import PlanningProblem
from lastmile.simulate.config import TwinConfig as TwinConfig
from lastmile.simulate.events import DrivenLeg as DrivenLeg
from lastmile.simulate.events import EventKind as EventKind
from lastmile.simulate.events import TwinEvent as TwinEvent
from lastmile.simulate.events import TwinResult as TwinResult
from lastmile.simulate.incidents import (
    BREAKDOWN,
    ROAD_CLOSED,
    URGENT_ORDER,
    Scheduled,
    schedule_incidents,
)
from lastmile.simulate.truth import Closures, Geometry, MatrixTruth, NetworkTruth, TrueTravel
from lastmile.travel.time_dependent import BoundModel

StopKey = tuple[str, VisitKind]

#: The day of a record when neither the config nor the truth gives one (a Monday).
DEFAULT_DAY = dt.date(2025, 1, 6)
_METRES_PER_DEGREE = 111_320.0
#: How long after it opens a window without an end is taken to close, for promises.
_OPEN_END_S = 30 * 86_400
_TASKS = (VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY)

ABSENT = "customer absent"
SCAN = "parcel failed the scan"
SHIFT_OVER = "shift over before the stop"
BROKE_DOWN = "vehicle broke down"
#: Code of the plan's unassigned entries for stops the twin's vehicles did not reach.
NOT_REACHED_CODE = "not_reached"


# -- internal state ---------------------------------------------------------------------


@dataclass
class _Entry:
    """One stop on one vehicle's route, filled in as the day goes."""

    order_id: str
    vehicle_id: str
    kind: VisitKind
    planned_arrival: int
    planned_start: int
    planned_departure: int
    window: tuple[int | None, int | None]
    leg_planned_distance_m: int
    leg_planned_travel_s: int
    inserted: bool
    lon: float | None
    lat: float | None
    depot_id: str | None
    status: StopStatus | None = None
    arrival: int | None = None
    start: int | None = None
    departure: int | None = None
    reason: str | None = None
    leg_distance_m: int | None = None
    leg_travel_s: int | None = None
    promised: tuple[int, int] | None = None


@dataclass
class _Segment:
    """A committed leg: from ``origin`` at ``t0`` to ``target`` (breaks on the way)."""

    target: Visit
    origin: int | None
    t0: int
    arrival: int
    start: int
    end: int
    duration_s: int
    distance_m: int
    motion: list[tuple[int, float]]
    geometry: Geometry | None
    outcome: StopStatus | None = None
    reason: str | None = None
    events: list[TwinEvent] = field(default_factory=list)
    #: The leg on the road network, booked when the vehicle arrives.
    driven: DrivenLeg | None = None


@dataclass
class _Car:
    vehicle: Vehicle
    index: int
    noise_rng: np.random.Generator
    gps_rng: np.random.Generator
    queue: deque[Visit] = field(default_factory=deque)
    start_at: int | None = None
    start_row: int | None = None
    started: bool = False
    finished: bool = False
    broken: bool = False
    going_home: bool = False
    loc: int | None = None
    t: int = 0
    last: Visit | None = None
    pending: deque[TwinEvent] = field(default_factory=deque)
    segment: _Segment | None = None
    done: dict[StopKey, StopStatus] = field(default_factory=dict)
    taken_breaks: set[str] = field(default_factory=set)
    reports: list[StopEventRecord] = field(default_factory=list)
    travel_s: int = 0
    distance_m: int = 0
    wait_s: int = 0
    actual_start: int | None = None
    actual_end: int | None = None
    planned: Route | None = None
    version: int = 0
    #: A route with stops ahead given to the vehicle on its way home: driven once
    #: it is back.
    resume: Route | None = None

    @property
    def on_road(self) -> bool:
        return self.started and not self.finished and not self.broken

    def committed(self) -> dict[StopKey, StopStatus]:
        """Stops behind the vehicle, with the one it is driving to (its outcome drawn)."""
        out = dict(self.done)
        seg = self.segment
        if seg is not None and seg.target.is_task and seg.outcome is not None:
            out[_key(seg.target)] = seg.outcome
        return out


def _key(visit: Visit) -> StopKey:
    return (visit.order_id or "", visit.kind)


def _stream(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *parts])


_RANK = {
    EventKind.DEPARTED: 0,
    EventKind.BREAK_STARTED: 1,
    EventKind.BREAK_ENDED: 1,
    EventKind.PING: 2,
    EventKind.ARRIVED: 3,
    EventKind.DELIVERED: 4,
    EventKind.PICKED_UP: 4,
    EventKind.FAILED: 4,
    EventKind.FINISHED: 4,
}


class Twin:
    """A delivery day being simulated; :meth:`advance_to` moves it on.

    ``truth`` is the true travel (:class:`~lastmile.simulate.truth.TrueTravel`,
    or a mapping ``profile -> BoundModel`` for a road network); by default the
    plan's own matrices. ``incidents``: the caller's own, besides those the
    config draws.
    """

    def __init__(
        self,
        problem: PlanningProblem,
        plan: Plan,
        *,
        config: TwinConfig | None = None,
        seed: int = 0,
        truth: TrueTravel | Mapping[str, BoundModel] | None = None,
        incidents: Sequence[Scheduled] = (),
    ) -> None:
        self.config = config or TwinConfig()
        self.seed = int(seed)
        self.problem = problem
        self.plan = plan
        self.initial_plan = plan
        if truth is None:
            truth = MatrixTruth(
                problem.matrices, problem.locations, slowdown=self.config.closure_slowdown
            )
        elif isinstance(truth, Mapping):
            truth = NetworkTruth(truth, problem.locations)
        self.truth: TrueTravel = truth
        self.weather = self.config.weather_multiplier
        self.closures = Closures()
        self.now = -(2**40)
        self._seq = 0
        self._heap: list[tuple[int, int, int, str, int, int]] = []
        self._ledger: dict[tuple[str, VisitKind, str], _Entry] = {}
        self._legs: list[DrivenLeg] = []
        self._positions: list[Position] = []
        self._incidents: list[Incident] = []
        self._predictions: list[tuple[str, VisitKind, str, int, int]] = []
        self._unassigned: dict[str, Unassigned] = {u.order_id: u for u in plan.unassigned}
        self._urgent: set[str] = set()
        self._promised: dict[StopKey, tuple[int, int]] = {}
        self.day: dt.date = self.config.day or getattr(self.truth, "day", None) or DEFAULT_DAY
        self.epoch = self._epoch()
        self._events = 0
        self._initial_orders = problem.orders
        self._cars: dict[str, _Car] = {}
        for i, vehicle in enumerate(problem.vehicles):
            self._cars[vehicle.id] = _Car(
                vehicle, i, _stream(self.seed, 1, i), _stream(self.seed, 3, i)
            )
        for route in plan.routes:
            if route.vehicle_id not in self._cars:
                raise InputError(
                    "no such vehicle in the problem", where=f"route {route.vehicle_id!r}"
                )
            if route.tasks:
                self._set_route(self._cars[route.vehicle_id], route, inserted=frozenset())
        c = self.config
        self._scheduled = schedule_incidents(
            problem,
            plan,
            breakdowns=c.breakdowns,
            road_closures=c.road_closures,
            urgent_orders=c.urgent_orders,
            window=c.incident_window,
            urgent_window_s=c.urgent_window_s,
            urgent_service_s=c.urgent_service_s,
            rng=_stream(self.seed, 2),
        )
        self._scheduled += self._checked(incidents)
        self._scheduled.sort(
            key=lambda s: (s.t, s.kind, s.vehicle_id or "", s.order.id if s.order else "")
        )
        for k, s in enumerate(self._scheduled):
            self._push(s.t, 2, "incident", k, 0)
        starts = [car.start_at for car in self._cars.values() if car.start_at is not None]
        if c.eta_every_s and starts:
            first = (min(starts) // c.eta_every_s + 1) * c.eta_every_s
            self._push(first, 1, "clock", 0, 0)

    def _epoch(self) -> dt.datetime:
        """When the day's clock reads 0: the truth's epoch, else the day's local midnight."""
        epoch = getattr(self.truth, "epoch", None)
        if isinstance(epoch, dt.datetime) and epoch.tzinfo is not None:
            return epoch
        zone = zoneinfo.ZoneInfo(self.config.timezone)  # checked by the config
        return dt.datetime.combine(self.day, dt.time(), zone)

    def _checked(self, incidents: Sequence[Scheduled]) -> list[Scheduled]:
        """The caller's own incidents, each checked (a wrong one names itself)."""
        known = {o.id for o in self.problem.orders}
        for i, s in enumerate(incidents):
            where = f"incidents[{i}]"
            if s.kind == BREAKDOWN and s.vehicle_id not in self._cars:
                raise InputError(f"no vehicle {s.vehicle_id!r}", where=f"{where}.vehicle_id")
            if s.kind == URGENT_ORDER and (s.order is None or s.order.id in known):
                raise InputError("needs a new order", where=f"{where}.order")
            if s.kind not in (BREAKDOWN, ROAD_CLOSED, URGENT_ORDER):
                known_kinds = f"{BREAKDOWN}, {ROAD_CLOSED}, {URGENT_ORDER}"
                raise InputError(f"{s.kind!r} is not one of {known_kinds}", where=f"{where}.kind")
        return list(incidents)

    # -- the clock ------------------------------------------------------------------------

    def _push(self, t: int, prio: int, kind: str, ref: int, version: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, kind, ref, version))

    def _schedule_car(self, car: _Car) -> None:
        times = [car.pending[0].t] if car.pending else []
        if not car.started and car.start_at is not None and not car.broken:
            times.append(car.start_at)
        if times:
            self._push(min(times), 0, "car", car.index, car.version)

    def busy(self, vehicle_id: str) -> bool:
        """Whether events of ``vehicle_id`` already decided are still to come (e.g.
        the outcome of the stop it is at)."""
        car = self._cars.get(vehicle_id)
        return car is not None and bool(car.pending)

    @property
    def finished(self) -> bool:
        """Whether nothing is left to happen."""
        return not self._heap

    def advance_to(self, until: int | None = None) -> Iterator[TwinEvent]:
        """Everything that happens up to ``until`` (seconds since the epoch; None:
        to the end of the day), in time order."""
        limit = HORIZON if until is None else int(until)
        cars = list(self._cars.values())
        while self._heap and self._heap[0][0] <= limit:
            t, _, _, kind, ref, version = heapq.heappop(self._heap)
            self.now = max(self.now, t)
            if kind == "car":
                car = cars[ref]
                if version != car.version:
                    continue
                yield from self._step_car(car)
            elif kind == "clock":
                self._sample_etas(t)
                if any(c.on_road or (not c.started and c.start_at is not None) for c in cars):
                    self._push(t + self.config.eta_every_s, 1, "clock", 0, 0)
            else:
                yield from self._incident(self._scheduled[ref])
        if until is not None:
            self.now = max(self.now, limit)

    def _emit(self, event: TwinEvent) -> TwinEvent:
        self._events += 1
        if event.kind is EventKind.PING and event.vehicle_id and event.lon is not None:
            assert event.lat is not None
            self._positions.append(Position(event.vehicle_id, event.t, event.lon, event.lat))
        return event

    def _step_car(self, car: _Car) -> Iterator[TwinEvent]:
        waiting = not car.started and car.start_at is not None and not car.broken
        if car.pending and (not waiting or car.pending[0].t <= (car.start_at or 0)):
            event = car.pending.popleft()
            self._apply(car, event)
            yield self._emit(event)
            if car.started and not car.pending and not car.finished and not car.broken:
                self._next_segment(car)
        elif waiting:
            car.started = True
            car.t = car.start_at if car.start_at is not None else self.now
            car.loc = car.start_row
            car.actual_start = car.t
            car.last = None
            self._next_segment(car)
        self._schedule_car(car)
        idle = car.started and not car.pending and car.segment is None
        if idle and not car.finished and not car.broken:
            # Started with nothing to do (e.g. every stop moved away): the day is over.
            car.finished = True
            car.actual_end = car.t

    # -- driving ------------------------------------------------------------------------

    def _limit(self, vehicle: Vehicle) -> int:
        hours = self.problem.working_hours(vehicle)
        end = hours.end if hours is not None else vehicle.shift.end
        return HORIZON if end >= HORIZON else end + self.config.overtime_s

    def _next_segment(self, car: _Car) -> None:
        """Commit to the next leg and stop; queue its events."""
        car.segment = None
        breaks: list[Visit] = []
        while car.queue:
            v = car.queue[0]
            if v.kind is VisitKind.BREAK:
                car.queue.popleft()
                if v.break_id not in car.taken_breaks:
                    breaks.append(v)
                continue
            if (
                v.kind is VisitKind.DELIVERY
                and car.done.get((v.order_id or "", VisitKind.PICKUP)) is not StopStatus.DONE
            ):
                car.queue.popleft()
                self._not_reached(car, v, "its pickup was not made")
                continue
            break
        if not car.queue:
            self._finish(car, car.t)
            return
        seg = self._drive(car, car.queue[0], breaks)
        if seg.target.is_task and seg.arrival > self._limit(car.vehicle):
            # Too late for this stop: home, and the rest is not reached.
            for v in list(car.queue):
                if v.is_task:
                    self._not_reached(car, v, SHIFT_OVER)
            self._drop_from_plan(car, SHIFT_OVER)
            end = [v for v in car.queue if v.kind is VisitKind.END]
            car.queue = deque(end)
            car.going_home = True
            if not end:
                self._finish(car, car.t)
                return
            seg = self._drive(car, end[0], [])
        car.queue.popleft()
        car.segment = seg
        if seg.target.kind is VisitKind.END:
            car.going_home = True  # no new work once on the way back
        for b in breaks:
            car.taken_breaks.add(b.break_id or "")
        self._queue_events(car, seg)

    def _drive(self, car: _Car, target: Visit, breaks: list[Visit]) -> _Segment:
        """The leg to ``target`` leaving now, breaks on the way, and the stop."""
        vehicle, t0, here = car.vehicle, car.t, car.loc
        geometry: Geometry | None = None
        driven_leg: DrivenLeg | None = None
        if here is None:
            duration = distance = 0
        else:
            leg = self.truth.leg(vehicle, here, target.location, t0, self.closures)
            factor = self.config.noise.sample(car.noise_rng, leg.duration_s, t0) / self.weather
            duration = round(leg.duration_s * factor)
            distance = round(leg.distance_m)
            geometry = leg.geometry
            if geometry is not None and geometry.edges and duration > 0:
                lo, hi = geometry.road_share
                driven_leg = DrivenLeg(
                    vehicle.id,
                    here,
                    target.location,
                    geometry.edges,
                    t0 + lo * duration,
                    (hi - lo) * duration,
                    float(distance),
                    self.weather,
                )
        own = {b.id: b for b in vehicle.breaks}
        motion: list[tuple[int, float]] = [(t0, 0.0)]
        extra: list[TwinEvent] = []
        t, driven = t0, 0
        for b in breaks:
            brk = own.get(b.break_id or "")
            if brk is None:
                continue
            begin = earliest_start(brk.time_windows, t)
            begin = t if begin is None else begin
            drive = min(duration - driven, begin - t)
            driven += drive
            share = driven / duration if duration else 0.0
            motion.append((t + drive, share))
            motion.append((begin + brk.duration, share))
            extra.append(TwinEvent(begin, EventKind.BREAK_STARTED, vehicle.id, reason=brk.id))
            extra.append(
                TwinEvent(begin + brk.duration, EventKind.BREAK_ENDED, vehicle.id, reason=brk.id)
            )
            t = begin + brk.duration
        arrival = t + duration - driven
        motion.append((arrival, 1.0))
        seg = _Segment(
            target, here, t0, arrival, arrival, arrival, duration, distance, motion, geometry
        )
        seg.events = extra
        seg.driven = driven_leg
        if target.kind is VisitKind.END:
            return seg
        if target.kind is VisitKind.RELOAD:
            depot = self.problem.depots[target.depot if target.depot is not None else 0]
            windows: tuple[TimeWindow, ...] = (depot.time_window,)
            work = depot.reload_time
        else:
            stop = self._stop(target)
            windows = stop.time_windows
            work = stop.service + (stop.setup if target.location != here else 0)
        begin = earliest_start(windows, arrival)
        seg.start = arrival if begin is None else begin
        seg.end = seg.start + work
        if target.is_task:
            seg.outcome, seg.reason = self._draw_outcome(target)
            if seg.outcome is StopStatus.FAILED:
                seg.end = seg.start + min(work, self.config.failed_attempt_s)
        return seg

    def _stop(self, visit: Visit) -> Any:
        order = self.problem.order(visit.order_id or "")
        if visit.kind is VisitKind.JOB:
            return order.single_stop
        return order.pickup if visit.kind is VisitKind.PICKUP else order.delivery

    def _draw_outcome(self, visit: Visit) -> tuple[StopStatus, str | None]:
        """The stop's fate, from a stream of its own (the same whoever serves it)."""
        order = self.problem.order(visit.order_id or "")
        salt = zlib.crc32(f"{order.id}/{visit.kind.value}".encode())
        rng = _stream(self.seed, 4, salt)
        absent, scan = rng.uniform(), rng.uniform()
        at_customer = visit.kind in (VisitKind.JOB, VisitKind.DELIVERY)
        drops = visit.kind is VisitKind.DELIVERY or (
            visit.kind is VisitKind.JOB and order.kind is OrderKind.DELIVERY
        )
        if at_customer and absent < self.config.absent_rate:
            return StopStatus.FAILED, ABSENT
        if drops and scan < self.config.scan_failure_rate:
            return StopStatus.FAILED, SCAN
        return StopStatus.DONE, None

    def _place(self, row: int | None) -> tuple[float | None, float | None]:
        if row is None:
            return None, None
        loc = self.problem.locations[row]
        if loc.lon is None or loc.lat is None or loc.planar:
            return None, None
        return float(loc.lon), float(loc.lat)

    def _where(self, car: _Car, seg: _Segment, t: int) -> tuple[float | None, float | None]:
        """Where the vehicle is at ``t`` during ``seg`` (no GPS noise)."""
        if t >= seg.arrival or seg.geometry is None:
            if t >= seg.arrival:
                return self._place(seg.target.location)
            return self._place(seg.origin)
        times = [m[0] for m in seg.motion]
        shares = [m[1] for m in seg.motion]
        share = float(np.interp(t, times, shares))
        return seg.geometry.at(share)

    def _queue_events(self, car: _Car, seg: _Segment) -> None:
        vid = car.vehicle.id
        target = seg.target
        events = [*car.pending, *seg.events]
        car.pending.clear()
        if seg.origin is not None:
            last = car.last
            lon, lat = self._place(seg.origin)
            events.append(
                TwinEvent(
                    seg.t0,
                    EventKind.DEPARTED,
                    vid,
                    last.order_id if last is not None else None,
                    last.kind if last is not None else VisitKind.START,
                    lon,
                    lat,
                )
            )
        lon, lat = self._place(target.location)
        events.append(
            TwinEvent(seg.arrival, EventKind.ARRIVED, vid, target.order_id, target.kind, lon, lat)
        )
        if target.kind is VisitKind.END:
            events.append(
                TwinEvent(seg.arrival, EventKind.FINISHED, vid, None, target.kind, lon, lat)
            )
        elif target.is_task:
            if seg.outcome is StopStatus.FAILED:
                kind = EventKind.FAILED
            elif target.kind is VisitKind.PICKUP or (
                target.kind is VisitKind.JOB
                and self.problem.order(target.order_id or "").kind is OrderKind.PICKUP
            ):
                kind = EventKind.PICKED_UP
            else:
                kind = EventKind.DELIVERED
            events.append(
                TwinEvent(seg.end, kind, vid, target.order_id, target.kind, lon, lat, seg.reason)
            )
        every = self.config.ping_every_s
        if every:
            first = (seg.t0 // every + 1) * every
            sigma = self.config.gps_sigma_m
            for t in range(first, seg.end + 1, every):
                plon, plat = self._where(car, seg, t)
                if plon is None or plat is None:
                    break
                if sigma:
                    east, north = car.gps_rng.normal(0.0, sigma, 2)
                    plat += north / _METRES_PER_DEGREE
                    plon += east / (_METRES_PER_DEGREE * math.cos(math.radians(plat)))
                events.append(TwinEvent(t, EventKind.PING, vid, lon=plon, lat=plat))
        events.sort(key=lambda e: (e.t, _RANK.get(e.kind, 5)))
        car.pending.extend(events)

    def _apply(self, car: _Car, event: TwinEvent) -> None:
        """Book an event as it happens."""
        seg = car.segment
        kind = event.kind
        if kind is EventKind.ARRIVED and seg is not None:
            if seg.driven is not None:
                self._legs.append(seg.driven)
            car.travel_s += seg.duration_s
            car.distance_m += seg.distance_m
            car.wait_s += seg.start - seg.arrival
            car.loc = seg.target.location
            car.t = seg.end
            car.last = seg.target
            if seg.target.is_task:
                car.reports.append(
                    StopEventRecord(
                        seg.target.order_id or "", seg.target.kind, StopEventKind.ARRIVED, event.t
                    )
                )
        elif kind in (EventKind.DELIVERED, EventKind.PICKED_UP, EventKind.FAILED):
            assert seg is not None and seg.outcome is not None
            key = _key(seg.target)
            car.done[key] = seg.outcome
            entry = self._ledger.get((key[0], key[1], car.vehicle.id))
            if entry is not None:
                entry.status = seg.outcome
                entry.arrival, entry.start, entry.departure = seg.arrival, seg.start, seg.end
                entry.reason = seg.reason
                entry.leg_travel_s, entry.leg_distance_m = seg.duration_s, seg.distance_m
            report = {
                EventKind.DELIVERED: StopEventKind.DELIVERED,
                EventKind.PICKED_UP: StopEventKind.PICKED_UP,
                EventKind.FAILED: StopEventKind.FAILED,
            }[kind]
            car.reports.append(StopEventRecord(key[0], key[1], report, event.t))
        elif kind is EventKind.FINISHED:
            self._finish(car, event.t)

    def _finish(self, car: _Car, t: int) -> None:
        car.finished = True
        car.segment = None
        if car.actual_end is None:
            car.actual_end = t
        if car.resume is not None and not car.broken:
            self._resume(car, schedule=False)

    def _not_reached(self, car: _Car, visit: Visit, reason: str) -> None:
        entry = self._ledger.get((visit.order_id or "", visit.kind, car.vehicle.id))
        if entry is not None and entry.status is None:
            entry.status = StopStatus.NOT_REACHED
            entry.reason = reason
        event = TwinEvent(
            max(car.t, self.now),
            EventKind.NOT_REACHED,
            car.vehicle.id,
            visit.order_id,
            visit.kind,
            reason=reason,
        )
        items = [*car.pending, event]
        items.sort(key=lambda e: (e.t, _RANK.get(e.kind, 5)))
        car.pending = deque(items)

    def _drop_from_plan(self, car: _Car, reason: str) -> None:
        """Take the stops ``car`` will not reach out of the plan (they are unassigned)."""
        route = self.plan.route_of(car.vehicle.id)
        if route is None:
            return
        done = car.committed()
        kept = tuple(v for v in route.visits if not v.is_task or _key(v) in done)
        dropped = {v.order_id for v in route.visits if v.is_task and _key(v) not in done}
        routes = tuple(
            dataclasses.replace(r, visits=kept) if r.vehicle_id == car.vehicle.id else r
            for r in self.plan.routes
        )
        unassigned = tuple(self.plan.unassigned) + tuple(
            Unassigned(oid, reason, NOT_REACHED_CODE)
            for oid in sorted(o for o in dropped if o)
            if all(u.order_id != oid for u in self.plan.unassigned)
        )
        self.plan = dataclasses.replace(self.plan, routes=routes, unassigned=unassigned)

    # -- routes ---------------------------------------------------------------------------

    def replace_route(self, route: Route) -> None:
        """``route`` (a full route of the current problem, as a re-planned plan holds
        it, or what is left of one) is what its vehicle does from now on: the
        stops behind it and the one it is driving to stay; the rest is replaced.
        Stops taken off the route are ``NOT_REACHED`` there (moved)."""
        car = self._cars.get(route.vehicle_id)
        if car is None:
            raise InputError("no such vehicle", where=f"route {route.vehicle_id!r}")
        if car.broken or car.finished:
            raise InputError(
                "the vehicle is no longer on the road", where=f"route {route.vehicle_id!r}"
            )
        routes = tuple(r for r in self.plan.routes if r.vehicle_id != route.vehicle_id)
        self.plan = dataclasses.replace(self.plan, routes=(*routes, route))
        self._set_route(car, route, inserted=frozenset(self._urgent))

    def replace_plan(self, problem: PlanningProblem, plan: Plan) -> None:
        """A new full plan (e.g. after an insertion or a re-plan) over ``problem``
        (the same problem, or one with orders added): every vehicle still on the
        road or yet to start follows its new route."""
        self.problem = problem
        self.plan = plan
        new_orders = {o.id for o in problem.orders} - {o.id for o in self.initial_plan_orders}
        self._urgent |= new_orders
        owners: dict[StopKey, str] = {}
        for r in plan.routes:
            for v in r.visits:
                if v.is_task:
                    owners[_key(v)] = r.vehicle_id
        for u in plan.unassigned:
            if u.code != NOT_REACHED_CODE:
                self._unassigned.setdefault(u.order_id, u)
        # An order left to nobody (an urgent order with replan off) that the new
        # plan routes is no longer unassigned.
        for oid, _kind in owners:
            self._unassigned.pop(oid, None)
        for car in self._cars.values():
            if car.broken:
                continue
            route = plan.route_of(car.vehicle.id)
            if car.finished or car.going_home:
                # Back from its round (or on its way back) and given stops again:
                # it sets off from its depot once there, as a service sends it.
                if route is not None and self._ahead(car, route):
                    car.resume = route
                    if car.finished:
                        self._resume(car, schedule=True)
                continue
            if route is None:
                route = Route(car.vehicle.id, ())
            self._set_route(car, route, inserted=frozenset(self._urgent), owners=owners)

    @staticmethod
    def _ahead(car: _Car, route: Route) -> bool:
        """Whether ``route`` has stops the vehicle has not done."""
        behind = car.committed()
        return any(v.is_task and _key(v) not in behind for v in route.visits)

    def _resume(self, car: _Car, *, schedule: bool) -> None:
        """The vehicle, back at its depot, drives its new route (:attr:`_Car.resume`)
        from now (``schedule``: its next event is queued here, not by the step
        that finished it)."""
        route, car.resume = car.resume, None
        assert route is not None
        car.finished = car.going_home = False
        car.actual_end = None
        car.t = max(car.t, self.now)
        self._set_route(car, route, inserted=frozenset(self._urgent))
        self._next_segment(car)
        if schedule:
            self._schedule_car(car)
            clock = any(kind == "clock" for _, _, _, kind, _, _ in self._heap)
            if self.config.eta_every_s and not clock:
                self._push(self.now + self.config.eta_every_s, 1, "clock", 0, 0)

    @property
    def initial_plan_orders(self) -> tuple[Order, ...]:
        return self._initial_orders

    def _set_route(
        self,
        car: _Car,
        route: Route,
        *,
        inserted: frozenset[str],
        owners: Mapping[StopKey, str] | None = None,
    ) -> None:
        visits = route.visits
        if not car.started:
            rest = [v for v in visits if v.kind is not VisitKind.START]
            if visits:
                first = visits[0]
                car.start_at = first.departure if first.kind is VisitKind.START else first.arrival
                car.start_row = first.location if first.kind is VisitKind.START else None
            if not any(v.is_task for v in rest):
                rest = []
                car.start_at = None
            if car.planned is None and rest:
                car.planned = route
        else:
            behind = car.committed()
            cut = 0
            for i, v in enumerate(visits):
                if v.is_task and _key(v) in behind:
                    cut = i + 1
            rest = [
                v
                for v in visits[cut:]
                if v.kind is not VisitKind.START
                and not (v.kind is VisitKind.BREAK and v.break_id in car.taken_breaks)
                and not (v.is_task and _key(v) in behind)
            ]
        old = {_key(v): v for v in car.queue if v.is_task}
        new = {_key(v) for v in rest if v.is_task}
        for key, v in old.items():
            if key not in new:
                other = (owners or {}).get(key)
                moved = other is not None and other != car.vehicle.id
                self._not_reached(car, v, f"moved to {other}" if moved else "taken off the route")
        previous: Visit | None = None
        for v in visits:
            if v.is_task and _key(v) in new:
                entry = self._ledger.get((v.order_id or "", v.kind, car.vehicle.id))
                if entry is None or entry.status is StopStatus.NOT_REACHED:
                    self._ledger[(v.order_id or "", v.kind, car.vehicle.id)] = self._entry(
                        car, v, previous, (v.order_id or "") in inserted
                    )
            if v.kind is not VisitKind.BREAK:
                previous = v
        car.queue = deque(rest)
        car.version += 1
        if car.started:
            if car.pending:
                self._schedule_car(car)
        else:
            self._schedule_car(car)

    def _entry(self, car: _Car, visit: Visit, previous: Visit | None, inserted: bool) -> _Entry:
        stop = self._stop(visit)
        window: tuple[int | None, int | None] = (None, None)
        if stop.time_windows:
            inside = [w for w in stop.time_windows if w.start <= visit.start <= w.end]
            w = inside[0] if inside else stop.time_windows[0]
            window = (w.start if w.start > 0 else None, w.end if w.end < HORIZON else None)
        lon, lat = self._place(visit.location)
        vehicle = car.vehicle
        depot = vehicle.start_depot if vehicle.start_depot is not None else vehicle.end_depot
        key = _key(visit)
        if key not in self._promised:
            self._promised[key] = self._promise(car, visit, stop.time_windows)
        return _Entry(
            order_id=visit.order_id or "",
            vehicle_id=vehicle.id,
            kind=visit.kind,
            planned_arrival=visit.arrival,
            planned_start=visit.start,
            planned_departure=visit.departure,
            window=window,
            leg_planned_distance_m=visit.distance - (previous.distance if previous else 0),
            leg_planned_travel_s=visit.travel - (previous.travel if previous else 0),
            inserted=inserted,
            lon=lon,
            lat=lat,
            depot_id=self.problem.depots[depot].id if depot is not None else None,
            promised=self._promised[key],
        )

    def _promise(self, car: _Car, visit: Visit, windows: Sequence[TimeWindow]) -> tuple[int, int]:
        """The range the customer is told, as the service tells it
        (:func:`lastmile.operations.notify.promise`): from the planned arrival,
        when the vehicle sets out (its planned departure; for an order added
        during the day, when it is added, if the vehicle is on the road)."""
        told_at = self.now if car.started or car.start_at is None else max(self.now, car.start_at)
        # An open end ("from 08:00 on") is a window closing long after the day.
        spans = [(w.start, min(w.end, w.start + _OPEN_END_S)) for w in windows if w.is_bounded]
        return promise_s(visit.arrival, spans, now_s=told_at, epoch=self.epoch)

    # -- re-planning ----------------------------------------------------------------------

    def _live(self, t: int, *, breaking: str | None = None) -> LivePlan:
        """The plan as the service would see it at ``t``: vehicles on the road where
        they are (committed to the stop they drive to), those back from their round
        (or on their way back) at their depot while their shift lasts, other done
        ones out of the game; ``breaking`` (a vehicle breaking down now) keeps its
        stops for the re-plan."""
        states: list[VehicleState] = []
        unavailable: list[str] = []
        for car in self._cars.values():
            vid = car.vehicle.id
            if not car.started:
                if car.broken:
                    unavailable.append(vid)
                continue
            behind = car.committed()
            seg = car.segment
            if car.broken:
                location, ready = car.loc, t
            elif seg is not None:
                location, ready = seg.target.location, seg.end
            else:
                location, ready = car.loc, car.t
            if location is None:
                continue
            done = car.finished or car.going_home
            end = car.vehicle.end_depot
            home = (
                done
                and not car.broken
                and end is not None
                and location == self.problem.depots[end].location
                and max(ready, t) < car.vehicle.shift.end
            )
            if (car.broken and vid != breaking) or (done and not home):
                unavailable.append(vid)
            states.append(
                VehicleState(
                    vid,
                    location,
                    max(ready, t),
                    frozenset(k for k, s in behind.items() if s is StopStatus.DONE),
                    frozenset(k for k, s in behind.items() if s is not StopStatus.DONE),
                    at_depot=home,
                )
            )
        # A vehicle out of the game keeps what it did and takes no break it has not
        # taken (the service leaves broken-down routes out of every change the same way).
        out = set(unavailable)
        routes = tuple(self._retired(r) if r.vehicle_id in out else r for r in self.plan.routes)
        plan = dataclasses.replace(self.plan, routes=routes)
        taken = {
            r.vehicle_id: {v.break_id for v in r.visits if v.kind is VisitKind.BREAK}
            for r in routes
        }
        vehicles = tuple(
            dataclasses.replace(
                v, breaks=tuple(b for b in v.breaks if b.id in taken.get(v.id, set()))
            )
            if v.id in out and v.breaks
            else v
            for v in self.problem.vehicles
        )
        problem = self.problem
        if vehicles != problem.vehicles:
            problem = dataclasses.replace(problem, vehicles=vehicles)
        return LivePlan.build(problem, plan, now_s=t, states=states, unavailable=unavailable)

    def _retired(self, route: Route) -> Route:
        """The route of a vehicle out of the game: what it did, and its end."""
        car = self._cars[route.vehicle_id]
        behind = car.committed()
        last = max(
            (i for i, v in enumerate(route.visits) if v.is_task and _key(v) in behind),
            default=0,
        )
        kept = tuple(
            v
            for i, v in enumerate(route.visits)
            if v.kind in (VisitKind.START, VisitKind.END)
            or (v.is_task and _key(v) in behind)
            or (v.kind is VisitKind.BREAK and v.break_id in car.taken_breaks)
            or (v.kind is VisitKind.RELOAD and i < last)
        )
        return dataclasses.replace(route, visits=kept)

    def _incident(self, s: Scheduled) -> Iterator[TwinEvent]:
        if s.kind == BREAKDOWN:
            yield from self._breakdown(s)
        elif s.kind == ROAD_CLOSED:
            yield from self._close_road(s)
        elif s.kind == URGENT_ORDER:
            yield from self._urgent_order(s)

    def _report(
        self, incident: Incident, where: tuple[float | None, float | None] = (None, None)
    ) -> TwinEvent:
        self._incidents.append(incident)
        lon, lat = where
        car = self._cars.get(incident.vehicle_id or "")
        if lon is None and car is not None and car.segment is not None:
            lon, lat = self._where(car, car.segment, incident.t)
        return self._emit(
            TwinEvent(
                incident.t,
                EventKind.INCIDENT,
                incident.vehicle_id,
                incident.order_id,
                lon=lon,
                lat=lat,
                reason=incident.kind,
                incident=incident,
            )
        )

    def _breakdown(self, s: Scheduled) -> Iterator[TwinEvent]:
        car = self._cars[s.vehicle_id or ""]
        t = s.t
        vid = car.vehicle.id
        if car.finished or car.broken:
            yield self._report(Incident(t, BREAKDOWN, "after its route ended: no effect", vid))
            return
        seg = car.segment
        where = ""
        position: tuple[float | None, float | None] = (None, None)
        cut = seg is not None and t < seg.arrival
        if seg is not None and cut:
            position = lon, lat = self._where(car, seg, t)
            share = float(np.interp(t, [m[0] for m in seg.motion], [m[1] for m in seg.motion]))
            car.travel_s += int(seg.duration_s * share)
            car.distance_m += int(seg.distance_m * share)
            car.pending = deque(e for e in car.pending if e.t <= t)
            for e in seg.events:
                if e.kind is EventKind.BREAK_STARTED and e.t > t:
                    car.taken_breaks.discard(e.reason or "")
            car.segment = None
            if lon is not None:
                where = f" at {lon:.5f},{lat:.5f}"
        else:
            # At a stop: the stop is finished; the vehicle goes no further.
            car.pending = deque(e for e in car.pending if e.t <= t or e.kind is not EventKind.PING)
        remaining = [v for v in car.queue if v.is_task]
        car.queue.clear()
        car.broken = True
        car.actual_end = t if car.started else None
        car.version += 1
        self._schedule_car(car)
        incident = Incident(t, BREAKDOWN, f"{vid} broke down{where}", vid)
        yield self._report(incident, position)
        if seg is not None and cut and seg.target.is_task:
            remaining.insert(0, seg.target)
        moved: dict[StopKey, str] = {}
        if self.config.replan and remaining:
            try:
                live = self._live(t, breaking=vid)
                live = live.without_vehicle(vid, transfer_s=self.config.transfer_s)
                self.replace_plan(live.problem, live.plan)
                for r in live.plan.routes:
                    for v in r.visits:
                        if v.is_task and r.vehicle_id != vid:
                            moved[(v.order_id or "", v.kind)] = r.vehicle_id
                            # Goods handed over travel on as a shipment: same order.
                            moved.setdefault((v.order_id or "", VisitKind.JOB), r.vehicle_id)
            except LastmileError as exc:
                self._incidents.append(
                    Incident(t, "replan_failed", f"re-planning after {vid}'s breakdown: {exc}", vid)
                )
        else:
            self._drop_from_plan(car, BROKE_DOWN)
        for v in remaining:
            other = moved.get(_key(v))
            self._not_reached(car, v, f"{BROKE_DOWN}; moved to {other}" if other else BROKE_DOWN)
        car.version += 1
        self._schedule_car(car)

    def _close_road(self, s: Scheduled) -> Iterator[TwinEvent]:
        t = s.t
        rng = _stream(self.seed, 5, t)
        cars = [c for c in self._cars.values() if c.on_road and c.segment is not None and c.queue]
        until = t + self.config.closure_s
        detail = None
        # The next leg of a vehicle on the road, taken at random until one has a
        # road that can be closed (somewhere to go round it).
        for k in rng.permutation(len(cars)):
            car = cars[int(k)]
            seg = car.segment
            assert seg is not None
            nxt = next((v for v in car.queue if v.kind is not VisitKind.BREAK), None)
            if nxt is None:
                continue
            closed = self.truth.close(
                car.vehicle, seg.target.location, nxt.location, t, until, self.closures
            )
            if closed is not None:
                detail = f"{closed} until {_clock(until)}"
                break
        if detail is None:
            detail = "none closed: no vehicle on the road has a leg ahead to close"
        yield self._report(Incident(t, ROAD_CLOSED, detail))

    def _urgent_order(self, s: Scheduled) -> Iterator[TwinEvent]:
        order = s.order
        assert order is not None
        t = s.t
        self._urgent.add(order.id)
        if not self.config.replan:
            self._unassigned[order.id] = Unassigned(order.id, "nobody inserted it", "twin")
            yield self._report(Incident(t, URGENT_ORDER, "arrived", order_id=order.id))
            return
        try:
            result = self._live(t).insert(order)
        except LastmileError as exc:
            self._unassigned[order.id] = Unassigned(order.id, f"insertion failed: {exc}", "twin")
            yield self._report(
                Incident(t, URGENT_ORDER, f"insertion failed: {exc}", order_id=order.id)
            )
            return
        if isinstance(result, Unassigned):
            self._unassigned[order.id] = result
            yield self._report(
                Incident(t, URGENT_ORDER, f"not inserted: {result.reason}", order_id=order.id)
            )
            return
        self.replace_plan(result.problem, result.plan)
        owner = next(
            (r.vehicle_id for r in result.plan.routes for v in r.visits if v.order_id == order.id),
            None,
        )
        yield self._report(
            Incident(t, URGENT_ORDER, f"inserted on {owner}", vehicle_id=owner, order_id=order.id)
        )

    # -- ETAs -----------------------------------------------------------------------------

    def _sample_etas(self, t: int) -> None:
        """Predict the remaining stops' arrivals as the service would at ``t``: from
        the stop reports so far and the vehicle's position (the share of its leg
        driven), with the plan's travel times."""
        for car in self._cars.values():
            if not car.on_road:
                continue
            route = self.plan.route_of(car.vehicle.id)
            if route is None or not route.visits:
                continue
            stops = tracked_stops(self.problem, route)
            reports = [r for r in car.reports if r.at_s <= t]
            progress = route_progress(stops, reports)
            first = route.visits[0]
            start = Origin(first.location, first.departure)
            origin = vehicle_position(stops, progress, now_s=t, fix=None, start=start)
            # A numpy matrix reads like nested sequences (rows, then columns).
            matrix = self.problem.matrix_for(car.vehicle).durations
            durations = cast(Sequence[Sequence[int]], matrix)
            seg = car.segment
            if seg is not None and seg.origin is not None and seg.t0 <= t < seg.arrival:
                # The GPS fix: the share of the leg driven so far, the rest at the
                # plan's travel time (as the service times a fix to the next stop).
                times, shares = zip(*seg.motion, strict=True)
                share = float(np.interp(t, times, shares))
                # Said as "left the last place that long ago", so the next stop's
                # setup still counts (the fix is not at the stop).
                planned = int(matrix[seg.origin, seg.target.location])
                left = round(planned * (1 - share))
                origin = Origin(seg.origin, t + left - planned, "position")
            eta = recompute_etas(stops, progress, durations=durations, now_s=t, origin=origin)
            for s in eta.stops:
                visit = route.visits[s.sequence]
                if visit.is_task and progress.stops[s.sequence].arrived_s is None:
                    self._predictions.append(
                        (visit.order_id or "", visit.kind, car.vehicle.id, t, int(s.arrival_s))
                    )

    # -- the record -----------------------------------------------------------------------

    def record(self, *, source: str | None = None) -> DayRecord:
        """The day so far as a :class:`DayRecord` (stops not finished yet are
        ``NOT_REACHED``)."""
        stops: list[StopOutcome] = []
        actual: dict[tuple[str, VisitKind, str], int] = {}
        for (oid, kind, vid), e in self._ledger.items():
            status = e.status or StopStatus.NOT_REACHED
            if status is not StopStatus.NOT_REACHED and e.arrival is not None:
                actual[(oid, kind, vid)] = e.arrival
            stops.append(
                StopOutcome(
                    order_id=oid,
                    vehicle_id=vid,
                    kind=kind,
                    status=status,
                    planned_arrival=e.planned_arrival,
                    planned_start=e.planned_start,
                    planned_departure=e.planned_departure,
                    window_start=e.window[0],
                    window_end=e.window[1],
                    arrival=e.arrival if status is not StopStatus.NOT_REACHED else None,
                    start=e.start if status is not StopStatus.NOT_REACHED else None,
                    departure=e.departure if status is not StopStatus.NOT_REACHED else None,
                    failure_reason=e.reason if e.status is not None else "day not over",
                    leg_planned_distance_m=e.leg_planned_distance_m,
                    leg_planned_travel_s=e.leg_planned_travel_s,
                    leg_distance_m=e.leg_distance_m,
                    leg_travel_s=e.leg_travel_s,
                    depot_id=e.depot_id,
                    inserted=e.inserted,
                    lon=e.lon,
                    lat=e.lat,
                    promised_start=e.promised[0] if e.promised is not None else None,
                    promised_end=e.promised[1] if e.promised is not None else None,
                )
            )
        stops.sort(key=lambda s: (s.vehicle_id, s.planned_start, s.order_id, s.kind.value))
        routes: list[RouteOutcome] = []
        for car in self._cars.values():
            planned = car.planned
            if planned is None or not planned.visits:
                continue
            vehicle = car.vehicle
            depot = vehicle.start_depot if vehicle.start_depot is not None else vehicle.end_depot
            dlon, dlat = (None, None)
            if depot is not None:
                dlon, dlat = self._place(self.problem.depots[depot].location)
            hours = self.problem.working_hours(vehicle)
            shift = (hours.start, hours.end) if hours is not None and hours.end < HORIZON else None
            dims = len(self.problem.dimensions)
            peak = tuple(
                max((v.load[d] for v in planned.visits if len(v.load) == dims), default=0)
                for d in range(dims)
            )
            routes.append(
                RouteOutcome(
                    vehicle_id=vehicle.id,
                    planned_start=planned.start_time,
                    planned_end=planned.end_time,
                    planned_distance_m=planned.distance,
                    planned_travel_s=planned.travel,
                    planned_wait_s=planned.wait,
                    actual_start=car.actual_start,
                    actual_end=car.actual_end,
                    distance_m=car.distance_m if car.started else None,
                    travel_s=car.travel_s if car.started else None,
                    wait_s=car.wait_s if car.started else None,
                    depot_id=self.problem.depots[depot].id if depot is not None else None,
                    vehicle_type=vehicle.type.id,
                    profile=vehicle.type.profile,
                    capacity=vehicle.capacity,
                    peak_load=peak,
                    fixed_cost=vehicle.type.fixed_cost,
                    cost_per_hour=vehicle.type.cost_per_hour,
                    cost_per_km=vehicle.type.cost_per_km,
                    paid_waiting=self.problem.cost_waiting,
                    depot_lon=dlon,
                    depot_lat=dlat,
                    shift_start=shift[0] if shift is not None else None,
                    shift_end=shift[1] if shift is not None else None,
                )
            )
        samples = tuple(
            EtaSample(oid, vid, asked, predicted, actual[(oid, kind, vid)])
            for oid, kind, vid, asked, predicted in self._predictions
            if (oid, kind, vid) in actual
        )
        # A stop not reached on one vehicle but planned on another was moved there.
        # (Goods on board handed over come back as a pickup and a delivery: same order.)
        planned_on: dict[str, set[str]] = {}
        for s in stops:
            planned_on.setdefault(s.order_id, set()).add(s.vehicle_id)
        stops = [
            dataclasses.replace(s, status=StopStatus.MOVED)
            if s.status is StopStatus.NOT_REACHED and planned_on[s.order_id] - {s.vehicle_id}
            else s
            for s in stops
        ]
        served = {s.order_id for s in stops if s.reached}
        unassigned = tuple(u for oid, u in sorted(self._unassigned.items()) if oid not in served)
        return DayRecord(
            day=self.day,
            timezone=self.config.timezone,
            routes=tuple(routes),
            stops=tuple(stops),
            unassigned=unassigned,
            eta_samples=samples,
            positions=tuple(self._positions),
            incidents=tuple(self._incidents),
            dimensions=self.problem.dimensions,
            source=source or f"twin seed={self.seed}",
            travel=f"{self.truth.description}; {self.config.describe()}",
        )

    def result(self) -> TwinResult:
        return TwinResult(
            record=self.record(),
            legs=tuple(self._legs),
            plan=self.plan,
            problem=self.problem,
            events=self._events,
            epoch=getattr(self.truth, "epoch", None),
        )


def _clock(t: int) -> str:
    hh, rem = divmod(int(t) % 86_400, 3600)
    return f"{hh:02d}:{rem // 60:02d}"


def simulate_day(
    problem: PlanningProblem,
    plan: Plan,
    *,
    config: TwinConfig | None = None,
    seed: int = 0,
    truth: TrueTravel | Mapping[str, BoundModel] | None = None,
    incidents: Sequence[Scheduled] = (),
) -> TwinResult:
    """Drive ``plan`` through one simulated day (see the module docstring).

    ``truth``: the true travel (default: the plan's matrices; a mapping
    ``profile -> BoundModel`` drives on the road network with its traffic).
    ``incidents`` are the caller's own (a given van breaking down at a given time,
    ...: :class:`~lastmile.simulate.incidents.Scheduled`), besides those the config
    draws. The same arguments and ``seed`` give the same record.
    """
    twin = Twin(problem, plan, config=config, seed=seed, truth=truth, incidents=incidents)
    for _ in twin.advance_to(None):
        pass
    return twin.result()
