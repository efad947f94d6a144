"""ETAs for the stops still ahead of a vehicle, and stops predicted late.
Pure functions over plain values; no I/O.

The timing rule is the planner's (:func:`lastmile.planning.schedule.build_route`),
applied from where the vehicle is now (:func:`~lastmile.operations.position.vehicle_position`)
instead of from the depot:

* arrival = previous departure + travel duration (from the durations matrix);
* service starts at the earliest time >= arrival inside one of the stop's
  windows (no windows: at arrival; after every window: at arrival, late);
* setup is spent only when the previous place differs; departure = start +
  setup + service;
* a break is taken on the way to the next place: the driver drives until the
  break's window opens (or arrives first and waits), rests ``service_s``
  seconds, then drives the rest of the leg.

A stop is **predicted late** when its predicted start of service is after the
end of its last window minus a margin: ``start_s > window_end_s - margin_s``
(arriving before a window opens is not late: service starts when it opens;
arriving after the last window ends is, and service then starts at arrival).
With the margin the flag goes up before the window is actually missed.

Times are integer seconds since the plan's epoch; durations come from a
matrix whose rows are the places involved (the caller builds it with the plan's
travel model, adding the vehicle's current position as a row).

Typical use::

    progress = route_progress(stops, events)
    origin = vehicle_position(stops, progress, now_s=now, fix=fix, start=depot_origin)
    eta = recompute_etas(stops, progress, durations=rows, now_s=now, origin=origin,
                         margin_s=600)
    eta.late  # the remaining stops predicted late
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.domain import VisitKind
from lastmile.domain.time import HORIZON
from lastmile.exceptions import InputError
from lastmile.operations.position import Fix, Origin, service_start, vehicle_position
from lastmile.operations.progress import (
    RouteProgress,
    StopEventRecord,
    TrackedStop,
    route_progress,
)


@dataclass(frozen=True, slots=True)
class StopEta:
    """Predicted timing of one remaining visit.

    ``start_s`` is the predicted start of service (what customers are told
    about); ``slack_s`` is ``window_end_s - start_s`` (negative: the window
    will be missed by that much); both are None for visits without a bounded
    window.
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
        """Remaining visits predicted late (start of service after window end - margin)."""
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
        if s.is_task:
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
            _eta(stop, arrived_s, service_start(stop.windows, arrived_s), origin.ready_s, margin_s)
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
            start = service_start(windows, max(t, now_s) if clamp else t)
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
            start = service_start(windows, arrival)
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
        end - start,
        start > end - margin_s,
    )


def track_route(
    stops: Sequence[TrackedStop],
    events: Sequence[StopEventRecord],
    *,
    durations: Sequence[Sequence[int]],
    now_s: int,
    start: Origin,
    fix: Fix | None = None,
    fix_since_s: int | None = None,
    fix_until_s: int | None = None,
    margin_s: int = 0,
) -> tuple[RouteProgress, RouteEta]:
    """Progress and ETAs in one call: :func:`~lastmile.operations.progress.route_progress`,
    :func:`~lastmile.operations.position.vehicle_position`, :func:`recompute_etas`."""
    progress = route_progress(stops, events)
    origin = vehicle_position(
        stops,
        progress,
        now_s=now_s,
        fix=fix,
        start=start,
        fix_since_s=fix_since_s,
        fix_until_s=fix_until_s,
    )
    eta = recompute_etas(
        stops, progress, durations=durations, now_s=now_s, origin=origin, margin_s=margin_s
    )
    return progress, eta
