"""The insertion index: everything needed to check one insertion into a route in O(1).

:class:`RouteIndex` precomputes, once per residual route, the earliest
departure from each visit and, backwards, the latest arrival that keeps
every later visit feasible (windows with several intervals, breaks taken on
the way, shift end, depot hours), prefix/suffix maxima of the load per trip
and the route's totals. :func:`through`, :func:`latest_departure` and
:func:`latest_arrival` are the timing rules of
:func:`~lastmile.planning.schedule.build_route` it is made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lastmile.domain import OrderKind, Route, TimeWindow, Vehicle, VisitKind
from lastmile.domain.time import earliest_start
from lastmile.planning.live.routes import plus, step_of, stop_attr
from lastmile.planning.live.state import NEG, Track
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step

_START, _END, _BREAK, _RELOAD = VisitKind.START, VisitKind.END, VisitKind.BREAK, VisitKind.RELOAD
_JOB, _PICKUP = VisitKind.JOB, VisitKind.PICKUP


BreakSpan = tuple[tuple[TimeWindow, ...], int]


def through(t: int, breaks: Sequence[BreakSpan], leg: int) -> int | None:
    """Arrival after leaving at ``t`` for a ``leg`` with ``breaks`` taken on the way
    (the rule of :func:`~lastmile.planning.schedule.build_route`); None when a
    break's windows have all passed."""
    driven = 0
    for windows, duration in breaks:
        s = earliest_start(windows, t)
        if s is None:
            return None
        drive = min(leg - driven, s - t)
        driven += drive
        t = s + duration
    return t + leg - driven


def latest_departure(breaks: Sequence[BreakSpan], leg: int, latest: int, lo: int) -> int:
    """The latest departure >= ``lo`` arriving by ``latest`` (arrival grows with departure)."""
    first = through(lo, breaks, leg)
    if first is None or first > latest:
        return NEG
    hi = max(lo, latest)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        arrival = through(mid, breaks, leg)
        if arrival is not None and arrival <= latest:
            lo = mid
        else:
            hi = mid - 1
    return lo


def latest_arrival(windows: tuple[TimeWindow, ...], work: int, latest_departure: int) -> int:
    """The latest arrival from which service (in a window) ends by ``latest_departure``."""
    if not windows:
        return latest_departure - work
    for w in reversed(windows):
        if w.start + work <= latest_departure:
            return min(w.end, latest_departure - work)
    return NEG


def fits(load: tuple[int, ...], room: tuple[int, ...]) -> bool:
    """Whether ``load`` is within ``room`` in every dimension."""
    for a, r in zip(load, room):  # noqa: B905, SIM110 -- equal lengths; a loop is faster here
        if a > r:
            return False
    return True


def pointwise_max(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The larger of ``a`` and ``b`` in every dimension."""
    return tuple(x if x >= y else y for x, y in zip(a, b))  # noqa: B905


@dataclass
class RouteIndex:
    """Everything needed to check an insertion into one residual route in O(1).

    Elements are the route's visits with a virtual start/end added for open
    routes (location -1, no travel). ``dep`` is the earliest departure,
    ``la_setup``/``la_same`` the latest arrival at a place that keeps the rest
    of the route feasible when arriving from another place / from the same
    place (setup spent or not).
    """

    vehicle_id: str
    rank: int
    vehicle: Vehicle
    steps: list[Step]
    started: bool
    loc: list[int]
    dep: list[int]
    place: list[bool]
    prev_place: list[int]
    next_place: list[int]
    leg_t: list[int]
    leg_d: list[int]
    groups: dict[int, list[tuple[int, tuple[TimeWindow, ...], int]]]
    windows: list[tuple[TimeWindow, ...]]
    work: list[int]
    setup: list[int]
    la_setup: list[int]
    la_same: list[int]
    load: list[tuple[int, ...]]
    pref: list[tuple[int, ...]]
    suf: list[tuple[int, ...]]
    first: int
    delivery_from: int | None
    travel: int
    distance: int
    tasks: int
    full_travel: int
    full_distance: int
    full_has_tasks: bool

    @classmethod
    def build(
        cls, problem: PlanningProblem, track: Track, route: Route, full: Route | None
    ) -> RouteIndex:
        """The index of ``route``, a route of the residual ``problem``; ``track`` is
        its vehicle's, ``full`` its full route in the plan (None without one)."""
        vid = route.vehicle_id
        vehicle = problem.vehicle(vid)
        matrix = problem.matrix_for(vehicle)
        dur, dist = matrix.durations, matrix.distances
        depots = problem.depots
        breaks = {b.id: b for b in vehicle.breaks}
        visits = route.visits
        zero = (0,) * len(problem.dimensions)

        loc: list[int] = []
        dep: list[int] = []
        kinds: list[VisitKind] = []
        windows: list[tuple[TimeWindow, ...]] = []
        work: list[int] = []
        setup: list[int] = []
        load: list[tuple[int, ...]] = []
        if visits and visits[0].kind is _START:
            s = visits[0]
            loc.append(s.location)
            if track.started or vehicle.start_depot is None:
                dep.append(s.departure)
            else:
                dep.append(max(vehicle.shift.start, depots[vehicle.start_depot].time_window.start))
            load.append(s.load)
            body = visits[1:]
        else:
            initial = zero
            for v in visits:
                if v.kind is _RELOAD:
                    break
                if v.kind is _JOB:
                    order = problem.order(v.order_id or "")
                    if order.kind is OrderKind.DELIVERY:
                        initial = plus(initial, problem.amount(order))
            loc.append(-1)
            dep.append(vehicle.shift.start)
            load.append(initial)
            body = visits
        kinds.append(_START)
        windows.append(())
        work.append(0)
        setup.append(0)
        has_end = bool(body) and body[-1].kind is _END
        for v in body[:-1] if has_end else body:
            kinds.append(v.kind)
            load.append(v.load)
            dep.append(v.departure)
            if v.kind is _BREAK:
                brk = breaks[v.break_id or ""]
                loc.append(-1)
                windows.append(brk.time_windows)
                work.append(brk.duration)
                setup.append(0)
            elif v.kind is _RELOAD:
                depot = depots[v.depot if v.depot is not None else 0]
                loc.append(depot.location)
                windows.append((depot.time_window,))
                work.append(depot.reload_time)
                setup.append(0)
            else:
                order = problem.order(v.order_id or "")
                stop = getattr(order, stop_attr(order, v.kind))
                loc.append(stop.location)
                windows.append(stop.time_windows)
                work.append(stop.service)
                setup.append(stop.setup)
        if has_end:
            e = body[-1]
            loc.append(e.location)
            dep.append(e.arrival)
            load.append(e.load)
            assert vehicle.end_depot is not None
            la_end = min(vehicle.shift.end, depots[vehicle.end_depot].time_window.end)
        else:
            loc.append(-1)
            dep.append(dep[-1])
            load.append(load[-1])
            la_end = vehicle.shift.end
        kinds.append(_END)
        windows.append(())
        work.append(0)
        setup.append(0)
        m = len(loc)

        place = [k is not _BREAK for k in kinds]
        prev_place = [0] * m
        last = 0
        for k in range(m):
            if place[k]:
                last = k
            prev_place[k] = last
        next_place = [m - 1] * m
        nxt = m - 1
        for k in range(m - 1, -1, -1):
            next_place[k] = nxt
            if place[k]:
                nxt = k
        leg_t = [0] * m
        leg_d = [0] * m
        groups: dict[int, list[tuple[int, tuple[TimeWindow, ...], int]]] = {}
        for p in range(m - 1):
            if not place[p]:
                continue
            x = next_place[p]
            if loc[p] >= 0 and loc[x] >= 0:
                leg_t[p] = int(dur[loc[p], loc[x]])
                leg_d[p] = int(dist[loc[p], loc[x]])
            if x > p + 1:
                groups[p] = [(k, windows[k], work[k]) for k in range(p + 1, x)]

        la_setup = [NEG] * m
        la_same = [NEG] * m
        la_setup[m - 1] = la_same[m - 1] = la_end
        for p in range(m - 2, -1, -1):
            if not place[p]:
                continue
            x = next_place[p]
            la_x = la_same[x] if loc[x] == loc[p] else la_setup[x]
            group = groups.get(p)
            if group is None:
                latest = la_x - leg_t[p]
            else:
                spans = [(w, d) for _, w, d in group]
                latest = latest_departure(spans, leg_t[p], la_x, dep[p])
            la_setup[p] = latest_arrival(windows[p], work[p] + setup[p], latest)
            la_same[p] = latest_arrival(windows[p], work[p], latest)

        pref = list(load)
        for k in range(1, m):
            if kinds[k] not in (_RELOAD, _END):
                pref[k] = pointwise_max(pref[k - 1], load[k])
        suf = list(load)
        for k in range(m - 2, -1, -1):
            if kinds[k + 1] not in (_RELOAD, _END):
                suf[k] = pointwise_max(load[k], suf[k + 1])

        first = 0
        if track.started:
            for v in body:
                pinned = v.kind is _PICKUP and v.order_id in track.pinned
                dead = (
                    v.kind is _JOB and v.order_id is not None and v.order_id == track.dead_load_id
                )
                if not (pinned or dead):
                    break
                first += 1
            # Goods waiting at a depot are loaded at a reload ahead, or where it
            # stands when that is a depot.
            delivery_from = (
                first
                if track.at_depot
                else next((k for k in range(first, m - 1) if kinds[k] is _RELOAD), None)
            )
        else:
            delivery_from = 0
        return cls(
            vehicle_id=vid,
            rank=next(i for i, v in enumerate(problem.vehicles) if v.id == vid),
            vehicle=vehicle,
            steps=[step_of(v) for v in route.visits if v.kind not in (_START, _END)],
            started=track.started,
            loc=loc,
            dep=dep,
            place=place,
            prev_place=prev_place,
            next_place=next_place,
            leg_t=leg_t,
            leg_d=leg_d,
            groups=groups,
            windows=windows,
            work=work,
            setup=setup,
            la_setup=la_setup,
            la_same=la_same,
            load=load,
            pref=pref,
            suf=suf,
            first=first,
            delivery_from=delivery_from,
            travel=route.travel,
            distance=route.distance,
            tasks=len(route.tasks),
            full_travel=track.travel_s + route.travel,
            full_distance=track.distance_m + route.distance,
            full_has_tasks=full is not None and bool(full.tasks),
        )

    def split(self, anchor: int, k: int) -> tuple[list[BreakSpan], list[BreakSpan]]:
        """The breaks between place ``anchor`` and the next place, before/after element ``k``."""
        group = self.groups.get(anchor)
        if group is None:
            return [], []
        return [(w, d) for i, w, d in group if i <= k], [(w, d) for i, w, d in group if i > k]
