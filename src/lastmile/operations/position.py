"""Where a vehicle is now: one rule, from its stop events and its last GPS fix,
for everything that needs it (ETAs for tracking, vehicle states for live
re-planning).

Pure functions over plain values; no I/O. Times are integer seconds since the
plan's epoch; ``location`` fields are rows of the caller's durations matrix (a
GPS fix gets a row of its own, which the caller adds when the rule picks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.domain import TimeWindow
from lastmile.operations.progress import RouteProgress, TrackedStop


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
    ``start`` (nothing reported yet: the route's start). Callers may name
    others (the service's tracking: ``depot``, a van back from its round and
    sent out again).
    """

    location: int
    ready_s: int
    why: str = "start"


def service_start(windows: tuple[TimeWindow, ...], t: int) -> int:
    """Service start for an arrival at ``t``: the earliest time >= ``t`` inside one
    of ``windows`` (at ``t`` itself without windows or when every window has ended)."""
    for w in windows:
        if t <= w.end:
            return w.start if t < w.start else t
    return t


def trusted(fix: Fix | None, *, since_s: int | None, until_s: int | None) -> Fix | None:
    """``fix`` when it was taken inside ``[since_s, until_s]`` (None bounds: open),
    else None."""
    if fix is None:
        return None
    if since_s is not None and fix.at_s < since_s:
        return None
    if until_s is not None and fix.at_s > until_s:
        return None
    return fix


def vehicle_position(
    stops: Sequence[TrackedStop],
    progress: RouteProgress,
    *,
    now_s: int,
    fix: Fix | None,
    start: Origin,
    fix_since_s: int | None = None,
    fix_until_s: int | None = None,
) -> Origin:
    """Where the vehicle is at ``now_s``, and from when it can set off for the
    stops still ahead.

    ``progress`` is the replay of the route's stop events
    (:func:`~lastmile.operations.progress.route_progress`); ``fix`` the last
    GPS fix, trusted only when taken inside ``[fix_since_s, fix_until_s]``
    (a bound left None is open: e.g. ``fix_until_s`` = now plus the clock skew
    allowed, so a device whose clock runs ahead does not move the vehicle;
    ``fix_since_s`` = now minus the age after which a fix is stale, or the
    route's start for a route not started yet). The first rule that applies:

    1. ``at_stop``: the driver reported arriving at a stop and has not finished
       it (:attr:`RouteProgress.current`): that stop, free when its service
       ends (service start for the reported arrival, plus setup and service),
       not before ``now_s``.
    2. ``position``: a trusted fix taken no earlier than the report of the stop
       finished last (a later stop report is fresher news): the fix's place,
       from the fix's time.
    3. ``last_stop``: the stop finished last (by report time): its place, from
       when it was reported finished.
    4. ``start``: nothing reported: ``start`` (the route's first place and
       planned or actual departure), not before ``now_s``.

    The ``position`` and ``last_stop`` times are the reports' own and may be
    before ``now_s``: the vehicle has been on its way since. A caller that
    needs a departure not before now takes ``max(now_s, ready_s)``
    (:func:`~lastmile.operations.eta.recompute_etas` instead reaches the
    first place ahead no earlier than ``now_s``).

    Only reports in ``progress`` count: a caller that must not treat a stop
    as the vehicle's place until it is finished (re-planning keeps such a
    stop ahead) replays finished reports only, and rule 1 never applies.
    """
    if progress.current is not None:
        stop = stops[progress.current]
        arrived_s = progress.stops[progress.current].arrived_s
        assert arrived_s is not None
        done_s = service_start(stop.windows, arrived_s) + stop.setup_s + stop.service_s
        return Origin(stop.location, max(now_s, done_s), "at_stop")
    last = progress.last_finished
    finished_s = progress.stops[last].finished_s if last is not None else None
    fix = trusted(fix, since_s=fix_since_s, until_s=fix_until_s)
    if fix is not None and (finished_s is None or fix.at_s >= finished_s):
        return Origin(fix.location, fix.at_s, "position")
    if last is not None and finished_s is not None:
        return Origin(stops[last].location, finished_s, "last_stop")
    return Origin(start.location, max(now_s, start.ready_s), start.why)
