"""Live tracking logic: route progress from stop events, ETAs for the stops still
ahead, and stops predicted late. Pure functions over plain values; no I/O.

The timing rule is the planner's (:func:`lastmile.planning.schedule.build_route`),
applied from where the vehicle is now instead of from the depot:

* arrival = previous departure + travel duration (from the durations matrix);
* service starts at the earliest time >= arrival inside one of the stop's
  windows (no windows: at arrival; after every window: at arrival, late);
* setup is spent only when the previous place differs; departure = start +
  setup + service;
* a break is taken on the way to the next place: the driver drives until the
  break's window opens (or arrives first and waits), rests ``service_s``
  seconds, then drives the rest of the leg.

A stop is **predicted late** when its predicted arrival is after the end of its
last window minus a margin: ``arrival_s > window_end_s - margin_s``. With the
margin the flag goes up before the window is actually missed.

Times are integer seconds since the plan's epoch; durations come from a
matrix whose rows are the places involved (the caller builds it with the plan's
travel model, adding the vehicle's current position as a row).

Typical use::

    progress = route_progress(stops, events)
    origin = choose_origin(stops, progress, now_s=now, fix=fix, start=depot_origin)
    eta = recompute_etas(stops, progress, durations=rows, now_s=now, origin=origin,
                         margin_s=600)
    eta.late  # the remaining stops predicted late
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from lastmile.domain import OrderKind, Route, TimeWindow, VisitKind
from lastmile.domain.time import HORIZON
from lastmile.exceptions import InputError
from lastmile.operations.lifecycle import OrderEvent

if TYPE_CHECKING:
    from lastmile.planning.problem import PlanningProblem

_TASKS = frozenset((VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY))


class StopEventKind(StrEnum):
    """What a driver reports at a stop."""

    ARRIVED = "arrived"
    DELIVERED = "delivered"
    PICKED_UP = "picked_up"
    FAILED = "failed"


class StopState(StrEnum):
    """Where a stop is in the day."""

    PENDING = "pending"
    ARRIVED = "arrived"
    DONE = "done"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        return self in (StopState.DONE, StopState.FAILED)


def order_event_for(
    *, event: StopEventKind, visit_kind: VisitKind, order_kind: OrderKind
) -> OrderEvent | None:
    """The lifecycle event a stop event means for the order (None: no change).

    ``delivered`` completes a delivery order or a shipment at its delivery
    stop; ``picked_up`` completes a pickup order and is the first half
    (``pick_up``) of a shipment at its pickup stop; ``failed`` fails the order;
    ``arrived`` changes nothing. Any other combination is an :class:`InputError`.
    """
    if event is StopEventKind.ARRIVED:
        return None
    if event is StopEventKind.FAILED:
        return OrderEvent.FAIL
    where = "kind"
    if event is StopEventKind.DELIVERED:
        if visit_kind is VisitKind.DELIVERY or (
            visit_kind is VisitKind.JOB and order_kind is OrderKind.DELIVERY
        ):
            return OrderEvent.COMPLETE
        raise InputError(
            f"delivered does not apply to the {_stop_name(visit_kind, order_kind)}: use picked_up",
            where=where,
        )
    if visit_kind is VisitKind.PICKUP:
        return OrderEvent.PICK_UP
    if visit_kind is VisitKind.JOB and order_kind is OrderKind.PICKUP:
        return OrderEvent.COMPLETE
    raise InputError(
        f"picked_up does not apply to the {_stop_name(visit_kind, order_kind)}: use delivered",
        where=where,
    )


def _stop_name(visit_kind: VisitKind, order_kind: OrderKind) -> str:
    if visit_kind is VisitKind.JOB:
        return f"stop of a {order_kind.value} order"
    return f"{visit_kind.value} stop of a {order_kind.value} order"


@dataclass(frozen=True, slots=True)
class TrackedStop:
    """One visit of a route, as tracking needs it.

    ``location`` is the visit's row in the durations matrix. For a break,
    ``service_s`` is its duration and ``windows`` its windows; for the end of
    the route, ``windows`` may hold the shift (its end is what lateness is
    measured against). ``order_id`` ties task visits to stop events.
    """

    sequence: int
    kind: VisitKind
    location: int
    windows: tuple[TimeWindow, ...] = ()
    service_s: int = 0
    setup_s: int = 0
    order_id: str | None = None

    @property
    def is_task(self) -> bool:
        return self.kind in _TASKS


def tracked_stops(problem: PlanningProblem, route: Route) -> tuple[TrackedStop, ...]:
    """The visits of a planned ``route`` as :class:`TrackedStop` s, locations being
    rows of ``problem``'s matrices (so its durations can be used directly).

    Task visits take their stop's windows, service and setup; breaks their
    windows and duration; reloads the depot's hours and reload time; the end
    the vehicle's shift.
    """
    vehicle = problem.vehicle(route.vehicle_id)
    breaks = {b.id: b for b in vehicle.breaks}
    out: list[TrackedStop] = []
    for seq, v in enumerate(route.visits):
        kind = v.kind
        if kind in _TASKS:
            order = problem.order(v.order_id or "")
            if kind is VisitKind.JOB:
                stop = order.single_stop
            else:
                found = order.pickup if kind is VisitKind.PICKUP else order.delivery
                assert found is not None
                stop = found
            out.append(
                TrackedStop(
                    seq,
                    kind,
                    v.location,
                    stop.time_windows,
                    stop.service,
                    stop.setup,
                    order.id,
                )
            )
        elif kind is VisitKind.BREAK:
            brk = breaks[v.break_id or ""]
            out.append(TrackedStop(seq, kind, v.location, brk.time_windows, brk.duration))
        elif kind is VisitKind.RELOAD:
            depot = problem.depots[v.depot if v.depot is not None else 0]
            out.append(TrackedStop(seq, kind, v.location, (depot.time_window,), depot.reload_time))
        elif kind is VisitKind.END:
            out.append(TrackedStop(seq, kind, v.location, (vehicle.shift,)))
        else:
            out.append(TrackedStop(seq, kind, v.location))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class StopEventRecord:
    """A reported stop event: ``kind`` at the ``visit_kind`` stop of ``order_id``."""

    order_id: str
    visit_kind: VisitKind
    kind: StopEventKind
    at_s: int


@dataclass(frozen=True, slots=True)
class StopProgress:
    """The state of one visit; times are when the driver reported them."""

    sequence: int
    state: StopState
    arrived_s: int | None = None
    finished_s: int | None = None


@dataclass(frozen=True, slots=True)
class RouteProgress:
    """Progress of a route: one :class:`StopProgress` per visit (same order as the
    stops given), where the vehicle is, and how far the reports reach.

    ``current`` is the index of the stop the driver is at (arrived, not
    finished); ``last_finished`` the index of the stop finished last (by report
    time); ``frontier`` the highest index with a report of its own (breaks and
    reloads before it count as taken). ``ignored`` counts events that matched
    no stop of the route.
    """

    stops: tuple[StopProgress, ...]
    current: int | None
    last_finished: int | None
    frontier: int
    ignored: int = 0

    @property
    def done(self) -> int:
        return sum(1 for s in self.stops if s.state is StopState.DONE)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.stops if s.state is StopState.FAILED)


def route_progress(
    stops: Sequence[TrackedStop], events: Sequence[StopEventRecord]
) -> RouteProgress:
    """Replay ``events`` (in time order; ties keep the given order) over the route.

    ``arrived`` marks a pending stop; ``delivered``/``picked_up`` finish it as
    done and ``failed`` as failed (a finished stop stays finished). A failed
    order cannot go on: its other stops on the route fail with it.
    """
    index: dict[tuple[str, VisitKind], int] = {}
    by_order: dict[str, list[int]] = {}
    for i, s in enumerate(stops):
        if s.order_id is not None and s.is_task:
            index[(s.order_id, s.kind)] = i
            by_order.setdefault(s.order_id, []).append(i)
    n = len(stops)
    state = [StopState.PENDING] * n
    arrived: list[int | None] = [None] * n
    finished: list[int | None] = [None] * n
    frontier = -1
    ignored = 0
    last_finished: int | None = None
    for ev in sorted(events, key=lambda e: e.at_s):
        found = index.get((ev.order_id, ev.visit_kind))
        if found is None:
            ignored += 1
            continue
        i = found
        frontier = max(frontier, i)
        if state[i].is_finished:
            continue
        if ev.kind is StopEventKind.ARRIVED:
            state[i] = StopState.ARRIVED
            arrived[i] = ev.at_s
            continue
        if arrived[i] is None:
            arrived[i] = ev.at_s
        finished[i] = ev.at_s
        last_finished = i
        if ev.kind is StopEventKind.FAILED:
            for j in by_order[ev.order_id]:
                if not state[j].is_finished:
                    state[j] = StopState.FAILED
                    finished[j] = ev.at_s
        else:
            state[i] = StopState.DONE
    # The driver is at the stop reported arrived most recently and not finished.
    current: int | None = None
    latest: int | None = None
    for i in range(n):
        a = arrived[i]
        if state[i] is StopState.ARRIVED and a is not None and (latest is None or a >= latest):
            current, latest = i, a
    return RouteProgress(
        stops=tuple(
            StopProgress(stops[i].sequence, state[i], arrived[i], finished[i]) for i in range(n)
        ),
        current=current,
        last_finished=last_finished,
        frontier=frontier,
        ignored=ignored,
    )


@dataclass(frozen=True, slots=True)
class Fix:
    """The vehicle's last reported position: its row in the durations matrix and when."""

    location: int
    at_s: int


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the vehicle sets off for the remaining stops, and from when.

    ``why`` says which report it comes from: ``at_stop`` (the driver is at a
    stop), ``position`` (a GPS fix), ``last_stop`` (the stop finished last) or
    ``start`` (nothing reported yet: the route's start).
    """

    location: int
    ready_s: int
    why: str = "start"


def _earliest(windows: tuple[TimeWindow, ...], t: int) -> int:
    """Service start for an arrival at ``t`` (at ``t`` itself when every window has ended)."""
    for w in windows:
        if t <= w.end:
            return w.start if t < w.start else t
    return t


def choose_origin(
    stops: Sequence[TrackedStop],
    progress: RouteProgress,
    *,
    now_s: int,
    fix: Fix | None,
    start: Origin,
) -> Origin:
    """Where the remaining stops are reached from.

    In order of preference: the stop the driver is at (leaving when service
    there ends, not before now); a GPS fix newer than the last finished stop;
    the stop finished last (left when it was finished); the route's ``start``
    (not before now).
    """
    if progress.current is not None:
        stop = stops[progress.current]
        arrived_s = progress.stops[progress.current].arrived_s
        assert arrived_s is not None
        done_s = _earliest(stop.windows, arrived_s) + stop.setup_s + stop.service_s
        return Origin(stop.location, max(now_s, done_s), "at_stop")
    last = progress.last_finished
    finished_s = progress.stops[last].finished_s if last is not None else None
    if fix is not None and (finished_s is None or fix.at_s >= finished_s):
        return Origin(fix.location, fix.at_s, "position")
    if last is not None and finished_s is not None:
        return Origin(stops[last].location, finished_s, "last_stop")
    return Origin(start.location, max(now_s, start.ready_s), start.why)


@dataclass(frozen=True, slots=True)
class StopEta:
    """Predicted timing of one remaining visit.

    ``slack_s`` is ``window_end_s - arrival_s`` (negative: the window will be
    missed by that much); both are None for visits without a bounded window.
    """

    sequence: int
    kind: VisitKind
    arrival_s: int
    start_s: int
    departure_s: int
    window_end_s: int | None
    slack_s: int | None
    late: bool


@dataclass(frozen=True, slots=True)
class RouteEta:
    """ETAs of the visits still ahead, in route order, computed at ``now_s``."""

    now_s: int
    origin: Origin
    margin_s: int
    stops: tuple[StopEta, ...]

    @property
    def late(self) -> tuple[StopEta, ...]:
        """Remaining visits predicted late (arrival after window end - margin)."""
        return tuple(s for s in self.stops if s.late)

    @property
    def end_s(self) -> int | None:
        """When the last remaining visit ends (None when nothing remains)."""
        return self.stops[-1].departure_s if self.stops else None


def remaining(stops: Sequence[TrackedStop], progress: RouteProgress) -> list[int]:
    """Indices of the visits still ahead, in route order.

    Task visits count until finished (the one the driver is at included);
    breaks and reloads until a later visit has a report; the route's end
    always; its start never.
    """
    out: list[int] = []
    for i, s in enumerate(stops):
        k = s.kind
        if k is VisitKind.START:
            continue
        if k in _TASKS:
            if not progress.stops[i].state.is_finished:
                out.append(i)
        elif k is VisitKind.END or i > progress.frontier:
            out.append(i)
    return out


def recompute_etas(
    stops: Sequence[TrackedStop],
    progress: RouteProgress,
    *,
    durations: Sequence[Sequence[int]],
    now_s: int,
    origin: Origin,
    margin_s: int = 0,
) -> RouteEta:
    """ETAs for the remaining visits, leaving ``origin`` at ``origin.ready_s``.

    The visit the driver is at (if any) comes first, arrived at its reported
    time and left at ``origin.ready_s``; then the other remaining visits in
    route order. The first place reached after the origin is not reached
    before ``now_s`` (the driver has not reported being there).
    ``durations[a][b]`` is the travel time from row a to row b.
    """
    if margin_s < 0:
        raise InputError(f"must be >= 0, got {margin_s}", where="margin_s")
    ahead = remaining(stops, progress)
    current = progress.current
    out: list[StopEta] = []
    if current is not None:
        # The driver is here: reported arrival, leaves at the origin's time.
        ahead.remove(current)
        stop = stops[current]
        arrived_s = progress.stops[current].arrived_s
        assert arrived_s is not None
        out.append(
            _eta(stop, arrived_s, _earliest(stop.windows, arrived_s), origin.ready_s, margin_s)
        )
    t = origin.ready_s
    loc = origin.location
    driven = 0  # seconds of the current leg already driven before a break
    clamp = True  # the first place ahead is not reached before now
    for pos, i in enumerate(ahead):
        stop = stops[i]
        windows = stop.windows
        if stop.kind is VisitKind.BREAK:
            target = -1
            for later in ahead[pos + 1 :]:
                if stops[later].kind is not VisitKind.BREAK:
                    target = stops[later].location
                    break
            leg = durations[loc][target] if target >= 0 else 0
            start = _earliest(windows, max(t, now_s) if clamp else t)
            drive = min(leg - driven, start - t)
            driven += drive
            arrival = t + drive
            departure = start + stop.service_s
            t = departure
        else:
            t += durations[loc][stop.location] - driven
            driven = 0
            if clamp:
                t = max(t, now_s)
                clamp = False
            arrival = t
            start = _earliest(windows, arrival)
            departure = start + stop.service_s + (stop.setup_s if stop.location != loc else 0)
            t = departure
            loc = stop.location
        out.append(_eta(stop, arrival, start, departure, margin_s))
    return RouteEta(now_s=now_s, origin=origin, margin_s=margin_s, stops=tuple(out))


def _eta(stop: TrackedStop, arrival: int, start: int, departure: int, margin_s: int) -> StopEta:
    windows = stop.windows
    end = windows[-1].end if windows else HORIZON
    if end >= HORIZON:
        return StopEta(stop.sequence, stop.kind, arrival, start, departure, None, None, False)
    return StopEta(
        stop.sequence,
        stop.kind,
        arrival,
        start,
        departure,
        end,
        end - arrival,
        arrival > end - margin_s,
    )


def track_route(
    stops: Sequence[TrackedStop],
    events: Sequence[StopEventRecord],
    *,
    durations: Sequence[Sequence[int]],
    now_s: int,
    start: Origin,
    fix: Fix | None = None,
    margin_s: int = 0,
) -> tuple[RouteProgress, RouteEta]:
    """Progress and ETAs in one call: :func:`route_progress`, :func:`choose_origin`,
    :func:`recompute_etas`."""
    progress = route_progress(stops, events)
    origin = choose_origin(stops, progress, now_s=now_s, fix=fix, start=start)
    eta = recompute_etas(
        stops, progress, durations=durations, now_s=now_s, origin=origin, margin_s=margin_s
    )
    return progress, eta
