"""Searching the positions of one order in a live view, cheapest first.

:class:`Inserter` checks every position of every route after the part already
done with the O(1) checks of :class:`~lastmile.planning.live.index.RouteIndex`:
a one-stop order's positions in order of added cost (:meth:`Inserter.single`),
a shipment's two positions paired best-first by added cost and checked by a
forward pass between them (:meth:`Inserter.best_pair`), a vehicle with no route
yet (:meth:`Inserter.unused`). :meth:`Inserter.realise` rebuilds the route
with the order at a position and asks the validator.
"""

from __future__ import annotations

from dataclasses import dataclass

from lastmile.domain import Order, OrderKind, Route, Stop, TimeWindow, Vehicle, VisitKind
from lastmile.domain.time import HORIZON, earliest_start
from lastmile.planning.live.index import (
    BreakSpan,
    RouteIndex,
    fits,
    latest_arrival,
    latest_departure,
    through,
)
from lastmile.planning.live.routes import route_ok, timed_route
from lastmile.planning.live.state import NEG
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step

_BREAK = VisitKind.BREAK
_JOB, _PICKUP, _DELIVERY = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


@dataclass(frozen=True)
class NewStop:
    """A stop of the order being inserted, with its matrix row and column as lists."""

    loc: int
    windows: tuple[TimeWindow, ...]
    service: int
    setup: int
    to_t: list[int]  # to_t[r]: travel time from row r to this stop (index -1: 0)
    from_t: list[int]
    to_d: list[int]
    from_d: list[int]


def new_stop(matrix: TravelMatrix, stop: Stop) -> NewStop:
    """``stop`` with its row and column of ``matrix`` as lists (index -1: 0)."""
    x = stop.location
    return NewStop(
        x,
        stop.time_windows,
        stop.service,
        stop.setup,
        [*matrix.durations[:, x].tolist(), 0],
        [*matrix.durations[x, :].tolist(), 0],
        [*matrix.distances[:, x].tolist(), 0],
        [*matrix.distances[x, :].tolist(), 0],
    )


#: (added cost x 3.6e6 before rounding, added seconds, added metres, position(s))
Option = tuple[int, int, int, tuple[int, ...]]


_NO_LIMIT = 2**62


class Inserter:
    """Cheapest feasible insertion of one order into a live plan."""

    def __init__(self, live: LiveView, order: Order, problem: PlanningProblem) -> None:
        self.live = live
        self.order = order
        self.problem = problem  # the residual problem with the order
        self.amount = problem.amount(order)
        self.stops: dict[str, tuple[NewStop, ...]] = {}

    def stops_for(self, vehicle: Vehicle) -> tuple[NewStop, ...]:
        """The stops of the order with the rows and columns of the vehicle's matrix."""
        profile = vehicle.type.profile
        found = self.stops.get(profile)
        if found is None:
            matrix = self.problem.matrices[profile]
            found = tuple(new_stop(matrix, s) for s in self.order.stops)
            self.stops[profile] = found
        return found

    def cost_delta(self, ix: RouteIndex | None, vehicle: Vehicle, dt: int, dd: int) -> int:
        """The change of the objective when the route of ``vehicle`` (index ``ix``, None
        without a route) grows by ``dt`` seconds and ``dd`` metres."""
        t = vehicle.type
        if ix is None:
            return t.fixed_cost + round(t.cost_per_hour * dt / 3600 + t.cost_per_km * dd / 1000)
        new = round(
            t.cost_per_hour * (ix.full_travel + dt) / 3600
            + t.cost_per_km * (ix.full_distance + dd) / 1000
        )
        old = round(
            t.cost_per_hour * ix.full_travel / 3600 + t.cost_per_km * ix.full_distance / 1000
        )
        return new - old + (0 if ix.full_has_tasks else t.fixed_cost)

    def able(self, vehicle: Vehicle, tasks: int) -> bool:
        """Whether ``vehicle`` (with ``tasks`` tasks) has the skills, room and task limit."""
        order = self.order
        if not order.skills <= vehicle.skills or not fits(self.amount, vehicle.capacity):
            return False
        return vehicle.max_tasks is None or tasks + len(order.stops) <= vehicle.max_tasks

    def within_limits(self, ix: RouteIndex, dt: int, dd: int) -> bool:
        """Whether ``dt`` seconds and ``dd`` metres more stay within the route's limits."""
        v = ix.vehicle
        if v.max_travel_time is not None and ix.travel + dt > v.max_travel_time:
            return False
        return v.max_distance is None or ix.distance + dd <= v.max_distance

    # -- one route -------------------------------------------------------------------------

    def single(self, ix: RouteIndex) -> list[Option]:
        """Every feasible position of a one-stop order in the route, cheapest first."""
        if not self.able(ix.vehicle, ix.tasks):
            return []
        (u,) = self.stops_for(ix.vehicle)
        delivery = self.order.kind is OrderKind.DELIVERY
        room = tuple(c - a for c, a in zip(ix.vehicle.capacity, self.amount, strict=True))
        lo = ix.first
        if delivery:
            if ix.delivery_from is None:
                return []
            lo = max(lo, ix.delivery_from)
        caps = ix.pref if delivery else ix.suf
        loc, dep, prev_place, next_place = ix.loc, ix.dep, ix.prev_place, ix.next_place
        leg_t, leg_d, la_same, la_setup = ix.leg_t, ix.leg_d, ix.la_same, ix.la_setup
        to_t, from_t, to_d, from_d = u.to_t, u.from_t, u.to_d, u.from_d
        x, windows, service, setup = u.loc, u.windows, u.service, u.setup
        groups = ix.groups
        vehicle = ix.vehicle
        max_t = (
            _NO_LIMIT if vehicle.max_travel_time is None else vehicle.max_travel_time - ix.travel
        )
        max_d = _NO_LIMIT if vehicle.max_distance is None else vehicle.max_distance - ix.distance
        cph, cpk = vehicle.type.cost_per_hour * 1000, vehicle.type.cost_per_km * 3600
        out: list[Option] = []
        for k in range(lo, len(loc) - 1):
            if not fits(caps[k], room):
                continue
            a = prev_place[k]
            b = next_place[k]
            la, lb = loc[a], loc[b]
            dt = to_t[la] + from_t[lb] - leg_t[a]
            dd = to_d[la] + from_d[lb] - leg_d[a]
            if dt > max_t or dd > max_d:
                continue
            if a in groups:
                before, after = ix.split(a, k)
                arrival = through(dep[a], before, to_t[la])
                if arrival is None:
                    continue
            else:
                after = []
                arrival = dep[a] + to_t[la]
            start = earliest_start(windows, arrival)
            if start is None:
                continue
            leave = start + service + (setup if la != x else 0)
            if after:
                reach = through(leave, after, from_t[lb])
                if reach is None:
                    continue
            else:
                reach = leave + from_t[lb]
            if reach > (la_same[b] if lb == x else la_setup[b]):
                continue
            out.append((cph * dt + cpk * dd, dt, dd, (k,)))
        out.sort()
        return out

    def best_pair(
        self, ix: RouteIndex, bound: int | None, exclude: set[tuple[int, ...]]
    ) -> Option | None:
        """The cheapest feasible (pickup, delivery) positions of a shipment in the route.

        Pickup positions are taken in order of a lower bound on the added cost;
        for each, delivery positions in order of their own added cost, and the
        times after the pickup are propagated forward only as far as needed
        (until the delay is absorbed by waiting, or a window is missed). Pairs
        that cannot beat ``bound`` (the best change of the objective found so far
        elsewhere) or the route's best so far are never checked.
        """
        if not self.able(ix.vehicle, ix.tasks):
            return None
        p, d = self.stops_for(ix.vehicle)
        vehicle = ix.vehicle
        cph, cpk = vehicle.type.cost_per_hour * 1000, vehicle.type.cost_per_km * 3600
        max_t = (
            _NO_LIMIT if vehicle.max_travel_time is None else vehicle.max_travel_time - ix.travel
        )
        max_d = _NO_LIMIT if vehicle.max_distance is None else vehicle.max_distance - ix.distance
        loc, dep, prev_place, next_place = ix.loc, ix.dep, ix.prev_place, ix.next_place
        leg_t, leg_d, place = ix.leg_t, ix.leg_d, ix.place
        windows, work, setup = ix.windows, ix.work, ix.setup
        m = len(loc)
        room = tuple(c - a for c, a in zip(vehicle.capacity, self.amount, strict=True))
        # over[k]: the first element from k on that has no room for the goods.
        over = [m] * (m + 1)
        for k in range(m - 1, -1, -1):
            over[k] = over[k + 1] if fits(ix.load[k], room) else k
        pd_t, pd_d = p.from_t[d.loc], p.from_d[d.loc]

        # latest[j]: the latest departure from the last place before a delivery put
        # after element j that keeps it and the rest of the route feasible.
        drops: list[tuple[int, int, int, int]] = []
        viable: list[tuple[int, int, int, int]] = []
        latest = [NEG] * m
        for j in range(ix.first, m - 1):
            a, b = prev_place[j], next_place[j]
            la, lb = loc[a], loc[b]
            before, after = ix.split(a, j)
            la_b = ix.la_same[b] if lb == d.loc else ix.la_setup[b]
            if after:
                leave_by = latest_departure(after, d.from_t[lb], la_b, -HORIZON)
            else:
                leave_by = la_b - d.from_t[lb]
            arrive_by = latest_arrival(
                d.windows, d.service + (d.setup if la != d.loc else 0), leave_by
            )
            if before:
                latest[j] = latest_departure(before, d.to_t[la], arrive_by, -HORIZON)
            else:
                latest[j] = arrive_by - d.to_t[la]
            dt = d.to_t[la] + d.from_t[lb] - leg_t[a]
            dd = d.to_d[la] + d.from_d[lb] - leg_d[a]
            drop = (cph * dt + cpk * dd, dt, dd, j)
            drops.append(drop)
            if latest[j] >= dep[a]:
                viable.append(drop)
        drops.sort()
        viable.sort()
        if not drops:
            return None
        cheapest_drop = drops[0][0]
        picks: list[tuple[int, int, int, int, int, int, int, int, int]] = []
        for i in range(ix.first, m - 1):
            if over[i] <= i:
                continue
            a, b = prev_place[i], next_place[i]
            la, lb = loc[a], loc[b]
            before, _ = ix.split(a, i)
            arrival = through(dep[a], before, p.to_t[la])
            if arrival is None:
                continue
            start = earliest_start(p.windows, arrival)
            if start is None:
                continue
            leave = start + p.service + (p.setup if la != p.loc else 0)
            dt = p.to_t[la] + p.from_t[lb] - leg_t[a]
            dd = p.to_d[la] + p.from_d[lb] - leg_d[a]
            fine = cph * dt + cpk * dd
            ndt = p.to_t[la] + pd_t + d.from_t[lb] - leg_t[a]
            ndd = p.to_d[la] + pd_d + d.from_d[lb] - leg_d[a]
            near = cph * ndt + cpk * ndd
            picks.append((min(near, fine + cheapest_drop), fine, dt, dd, i, leave, near, ndt, ndd))
        picks.sort()

        fixed = 0 if ix.full_has_tasks else vehicle.type.fixed_cost
        # A pair whose added cost before rounding exceeds bound + 1 cannot beat it.
        limit = _NO_LIMIT if bound is None else (bound + 1 - fixed) * 3_600_000
        best: Option | None = None

        def take(fine: int, dt: int, dd: int, where: tuple[int, int]) -> None:
            nonlocal best, limit
            best = (fine, dt, dd, where)
            limit = min(limit, fine)

        for lb_fine, fine_p, dtp, ddp, i, leave, near, ndt, ndd in picks:
            if lb_fine >= limit:
                break
            hi = over[i]  # deliveries after i and before hi keep the goods within capacity
            x_i = next_place[i]
            if near < limit and ndt <= max_t and ndd <= max_d:
                for j in range(i, min(x_i, hi)):
                    if (i, j) not in exclude and self.drop_ok(ix, d, leave, p.loc, i, j):
                        take(near, ndt, ndd, (i, j))
                        break
            # A pickup that adds no driving cannot make any later visit earlier (setup
            # aside), so deliveries the route already reaches too late stay out of reach.
            later_only = dtp >= 0 and (loc[x_i] != p.loc or setup[x_i] == 0)
            # Forward from the pickup, as far as the deliveries looked at need.
            times: dict[int, int] = {}
            t, cur, cur_loc = leave, -1, p.loc
            pending: list[BreakSpan] = []
            e = i + 1
            dead = m  # the first place whose windows the delay misses
            settled = m  # from here on the times are the route's own
            for fine_d, dtd, ddd, j in viable if later_only else drops:
                fine = fine_p + fine_d
                if fine >= limit:
                    break
                if j < x_i or j >= hi or (i, j) in exclude:
                    continue
                if dtp + dtd > max_t or ddp + ddd > max_d:
                    continue
                last = prev_place[j]
                while e <= last and e < dead and e < settled:
                    if not place[e]:
                        pending.append((windows[e], work[e]))
                        e += 1
                        continue
                    arrival = through(t, pending, p.from_t[loc[e]] if cur < 0 else leg_t[cur])
                    pending = []
                    start = None if arrival is None else earliest_start(windows[e], arrival)
                    if start is None:
                        dead = e
                        break
                    t = start + work[e] + (setup[e] if loc[e] != cur_loc else 0)
                    times[e] = t
                    cur, cur_loc = e, loc[e]
                    if t == dep[e]:
                        settled = e + 1
                    e += 1
                if last >= dead:
                    continue
                if (times[last] if last in times else dep[last]) <= latest[j]:
                    take(fine, dtp + dtd, ddp + ddd, (i, j))
                    break
        return best

    def drop_ok(
        self, ix: RouteIndex, d: NewStop, leave: int, here: int, after: int, j: int
    ) -> bool:
        """The delivery after element ``j``, leaving the last place (element ``after``,
        at row ``here``; the new pickup when ``after`` is its position) at ``leave``."""
        windows, work = ix.windows, ix.work
        breaks = [(windows[k], work[k]) for k in range(after + 1, j + 1) if not ix.place[k]]
        arrival = through(leave, breaks, d.to_t[here])
        if arrival is None:
            return False
        start = earliest_start(d.windows, arrival)
        if start is None:
            return False
        t = start + d.service + (d.setup if here != d.loc else 0)
        b = ix.next_place[j]
        later = [(windows[k], work[k]) for k in range(j + 1, b)]
        reach = through(t, later, d.from_t[ix.loc[b]])
        if reach is None:
            return False
        return reach <= (ix.la_same[b] if ix.loc[b] == d.loc else ix.la_setup[b])

    # -- unused vehicles ------------------------------------------------------------------

    def unused(self, vehicle: Vehicle) -> Option | None:
        """The order alone on a vehicle that has no route yet."""
        if not self.able(vehicle, 0):
            return None
        depots = self.problem.depots
        s = depots[vehicle.start_depot].location if vehicle.start_depot is not None else -1
        e = depots[vehicle.end_depot].location if vehicle.end_depot is not None else -1
        stops = self.stops_for(vehicle)
        dt = stops[0].to_t[s] + stops[-1].from_t[e]
        dd = stops[0].to_d[s] + stops[-1].from_d[e]
        if len(stops) == 2:
            dt += stops[0].from_t[stops[1].loc]
            dd += stops[0].from_d[stops[1].loc]
        t = vehicle.type
        return (t.cost_per_hour * dt * 1000 + t.cost_per_km * dd * 3600, dt, dd, ())

    # -- verification ---------------------------------------------------------------------

    def realise(self, vid: str, where: tuple[int, ...]) -> Route | None:
        """The route with the order at ``where``, if the validator accepts it; else None."""
        live, problem, order = self.live, self.problem, self.order
        started = live.tracks[vid].started
        if order.kind is OrderKind.SHIPMENT:
            new = [Step(_PICKUP, order_id=order.id), Step(_DELIVERY, order_id=order.id)]
        else:
            new = [Step(_JOB, order_id=order.id)]
        if not where:
            vehicle = problem.vehicle(vid)
            ordered = sorted(vehicle.breaks, key=lambda b: b.time_windows[0].start)
            for cut in splits(len(ordered), len(new) + 1):
                steps: list[Step] = []
                at = 0
                for slot, upto in enumerate(cut):
                    steps += [Step(_BREAK, break_id=b.id) for b in ordered[at:upto]]
                    at = upto
                    if slot < len(new):
                        steps.append(new[slot])
                route = timed_route(problem, vid, steps, started)
                if route_ok(problem, route):
                    return route
            return None
        ix = live.route_index(vid)
        assert ix is not None
        steps = list(ix.steps)
        if len(where) == 1:
            steps.insert(where[0], new[0])
        else:
            i, j = where
            steps.insert(j, new[1])
            steps.insert(i, new[0])
        route = timed_route(problem, vid, steps, started)
        return route if route_ok(problem, route) else None


def splits(n: int, slots: int) -> list[tuple[int, ...]]:
    """Every way to cut ``n`` ordered items into ``slots`` consecutive groups (cut points)."""
    if slots == 1:
        return [(n,)]
    out = []
    for first in range(n + 1):
        for rest in splits(n - first, slots - 1):
            out.append((first, *(first + r for r in rest)))
    return out
