"""Why an order was left out, in words a dispatcher understands.

:func:`explain_unassigned` checks, in this order, and reports the first cause
that holds for the order:

1. ``skills``: no vehicle has every skill the order needs;
2. ``capacity``: its amount exceeds the capacity of every vehicle that has
   the skills;
3. ``time_window``: its (first) stop's windows close before the earliest
   possible arrival of every such vehicle, leaving its start depot at its
   shift start;
4. ``shift``: served alone, no vehicle gets back to its end depot before its
   shift ends (or the depot closes), or stays within its max_duration,
   max_distance, max_travel_time or max_tasks;
5. ``time_window``: a shipment's delivery window closes before it can get
   there from its pickup;
6. ``no_room``: none of the above -- the plan had no vehicle time or capacity
   left for it (saying so if its priority was lower than served orders').

Checks 3-5 simulate each able vehicle serving the order alone with the earliest
possible times, breaks ignored, so they only report what is certainly true;
anything subtler is ``no_room``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lastmile.domain import Order, OrderKind, Plan, Stop, TimeWindow, Unassigned, Vehicle
from lastmile.domain.time import HORIZON, earliest_start, format_clock
from lastmile.planning.problem import PlanningProblem

__all__ = ["explain_unassigned"]

_RANK_CODE = {3: "time_window", 4: "shift", 5: "time_window"}


def explain_unassigned(problem: PlanningProblem, plan: Plan) -> tuple[Unassigned, ...]:
    """A reason for every order ``plan`` does not serve.

    Covers the orders listed in ``plan.unassigned`` (in that order, each once)
    and then any other order no route visits. Order ids unknown to the problem
    are skipped.
    """
    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id is not None}
    ids: list[str] = []
    seen: set[str] = set()
    for oid in [u.order_id for u in plan.unassigned] + [o.id for o in problem.orders]:
        if oid in seen or oid in served:
            continue
        seen.add(oid)
        ids.append(oid)
    by_id = {o.id: o for o in problem.orders}
    top_priority = max((by_id[i].priority for i in served if i in by_id), default=0)
    explainer = _Explainer(problem)
    return tuple(
        explainer.explain(by_id[oid], top_priority=top_priority) for oid in ids if oid in by_id
    )


@dataclass(frozen=True, slots=True)
class _Fail:
    """Why one vehicle cannot serve the order even alone."""

    rank: int
    phrase: str
    excess: int


class _Explainer:
    def __init__(self, problem: PlanningProblem) -> None:
        self.problem = problem
        self.fleet_skills: frozenset[str] = frozenset().union(*(v.skills for v in problem.vehicles))
        # Vehicles alike in everything these checks look at give the same answers:
        # one of each kind stands for all (a fleet of 100 identical vans is one).
        kinds: dict[tuple[object, ...], Vehicle] = {}
        for v in problem.vehicles:
            key = (
                v.type,
                v.start_depot,
                v.end_depot,
                v.shift,
                v.max_duration,
                v.max_travel_time,
                v.max_distance,
                v.max_tasks,
            )
            kinds.setdefault(key, v)
        self.kinds = list(kinds.values())

    def clock(self, t: int) -> str:
        return format_clock(t, scale=self.problem.time_scale)

    def span(self, seconds: int) -> str:
        scale = self.problem.time_scale
        if scale != 1:
            return f"{seconds / scale:g}"
        hours, rem = divmod(seconds, 3600)
        return f"{hours}h{rem // 60:02d}" if hours else f"{rem // 60} min"

    def windows(self, windows: tuple[TimeWindow, ...]) -> str:
        parts = [
            f"{self.clock(w.start)}–{'open' if w.end >= HORIZON else self.clock(w.end)}"
            for w in windows
        ]
        return ("window " if len(parts) == 1 else "windows ") + ", ".join(parts)

    def amount(self, value: int, dimension: str) -> str:
        # "weight_kg" -> "12 kg of weight"; a name without a unit stays as it is.
        if "_" in dimension:
            quantity, unit = dimension.rsplit("_", 1)
            return f"{value} {unit} of {quantity.replace('_', ' ')}"
        return f"{value} {dimension}"

    # -- the checks, in order ----------------------------------------------------

    def explain(self, order: Order, *, top_priority: int) -> Unassigned:
        problem = self.problem
        able = [v for v in self.kinds if order.skills <= v.skills]
        if not able:
            return Unassigned(order.id, self.skills_reason(order), "skills")

        amount = problem.amount(order)
        fitting = [v for v in able if all(a <= c for a, c in zip(amount, v.capacity, strict=True))]
        if not fitting:
            return Unassigned(order.id, self.capacity_reason(amount, able), "capacity")

        fails: list[_Fail] = []
        for vehicle in fitting:
            fail = self.alone(order, vehicle)
            if fail is None:
                return Unassigned(order.id, self.no_room_reason(order, top_priority), "no_room")
            fails.append(fail)

        rank = min(f.rank for f in fails)
        if all(f.rank == rank for f in fails):
            # The vehicle that misses by least gives the most telling figures.
            reason = min(fails, key=lambda f: f.excess).phrase
            if rank == 4 and len(fails) > 1:
                reason += " (the other vehicles fare no better)"
        else:
            phrases = list(dict.fromkeys(f.phrase for f in sorted(fails, key=lambda f: f.rank)))
            reason = "no vehicle can serve it even alone: " + "; ".join(phrases[:3])
            if len(phrases) > 3:
                reason += f"; and {len(phrases) - 3} more"
        return Unassigned(order.id, reason, _RANK_CODE[rank])

    def skills_reason(self, order: Order) -> str:
        lacking = sorted(order.skills - self.fleet_skills)
        if len(lacking) == 1:
            return f"needs skill {lacking[0]}: no vehicle has it"
        if lacking:
            return f"needs skills {', '.join(lacking)}: no vehicle has them"
        return (
            f"needs skills {', '.join(sorted(order.skills))} together: no vehicle has all of them"
        )

    def capacity_reason(self, amount: tuple[int, ...], able: list[Vehicle]) -> str:
        dims = self.problem.dimensions
        every = (
            "every vehicle's capacity"
            if len(able) == len(self.kinds)
            else "the capacity of every vehicle with the skills it needs"
        )
        over = []
        for d, name in enumerate(dims):
            most = max(v.capacity[d] for v in able)
            if amount[d] > most:
                over.append(self.amount(amount[d] - most, name))
        if over:
            return f"{' and '.join(over)} over {every}"
        # Each vehicle lacks room in a different dimension.
        parts = []
        for v in able[:3]:
            excess = [
                self.amount(a - c, name)
                for a, c, name in zip(amount, v.capacity, dims, strict=True)
                if a > c
            ]
            parts.append(f"{' and '.join(excess)} over {v.id}'s capacity")
        more = f"; and {len(able) - 3} more vehicles" if len(able) > 3 else ""
        return "fits no vehicle: " + "; ".join(parts) + more

    def no_room_reason(self, order: Order, top_priority: int) -> str:
        reason = "not enough vehicle time or capacity left to fit it"
        if order.priority < top_priority:
            reason += (
                f"; its priority {order.priority} is lower than that of served orders "
                f"(up to {top_priority})"
            )
        return reason

    def alone(self, order: Order, vehicle: Vehicle) -> _Fail | None:
        """Why ``vehicle`` cannot serve only ``order``, or None if it might."""
        problem = self.problem
        t0 = vehicle.shift.start
        origin = f"{vehicle.id}'s shift start"
        if vehicle.start_depot is not None:
            depot = problem.depots[vehicle.start_depot]
            t0 = max(t0, depot.time_window.start)
            origin = f"depot {depot.name or depot.id}"
        end_name = ""
        end_by = vehicle.shift.end
        if vehicle.end_depot is not None:
            end = problem.depots[vehicle.end_depot]
            end_name = end.name or end.id
            end_by = min(end_by, end.time_window.end)
        solo = _Solo(problem, vehicle, order.stops)
        travel, distance = solo.travel, solo.distance

        # Leaving as early as possible reaches every stop and the end as early as possible.
        early = solo.run(t0)
        if early.missed == 0:
            stop = order.stops[0]
            what = "pickup " if order.kind is OrderKind.SHIPMENT else ""
            return _Fail(
                3,
                f"{what}{self.windows(stop.time_windows)} closes before the earliest "
                f"possible arrival {self.clock(early.arrival)} from {origin}",
                early.arrival - stop.time_windows[-1].end,
            )

        limits = []
        if early.end > end_by:
            back = f"get back to depot {end_name}" if end_name else "finish"
            limits.append(
                _Fail(
                    4,
                    f"even alone, {vehicle.id} cannot {back} by {self.clock(end_by)}: "
                    f"the earliest is {self.clock(early.end)}",
                    early.end - end_by,
                )
            )
        elif vehicle.max_duration is not None and early.missed is None:
            shortest = solo.shortest_duration(t0, end_by)
            if shortest is not None and shortest > vehicle.max_duration:
                limits.append(
                    _Fail(
                        4,
                        f"even alone, {vehicle.id}'s route takes at least {self.span(shortest)}, "
                        f"over its maximum {self.span(vehicle.max_duration)}",
                        shortest - vehicle.max_duration,
                    )
                )
        if vehicle.max_travel_time is not None and travel > vehicle.max_travel_time:
            limits.append(
                _Fail(
                    4,
                    f"even alone, {vehicle.id} drives {self.span(travel)}, over its maximum "
                    f"{self.span(vehicle.max_travel_time)}",
                    travel - vehicle.max_travel_time,
                )
            )
        if vehicle.max_distance is not None and distance > vehicle.max_distance:
            limits.append(
                _Fail(
                    4,
                    f"even alone, {vehicle.id} drives {distance / 1000:g} km, over its maximum "
                    f"{vehicle.max_distance / 1000:g} km",
                    distance - vehicle.max_distance,
                )
            )
        stops = order.stops
        if vehicle.max_tasks is not None and len(stops) > vehicle.max_tasks:
            limits.append(
                _Fail(
                    4,
                    f"it needs {len(stops)} stops and {vehicle.id} may make at most "
                    f"{vehicle.max_tasks}",
                    len(stops) - vehicle.max_tasks,
                )
            )
        if limits:
            return limits[0]
        if early.missed is not None:
            stop = order.stops[early.missed]
            return _Fail(
                5,
                f"delivery {self.windows(stop.time_windows)} closes before the earliest "
                f"possible arrival {self.clock(early.arrival)} after leaving the pickup at "
                f"{self.clock(early.left_before)} (vehicle {vehicle.id})",
                early.arrival - stop.time_windows[-1].end,
            )
        return None


@dataclass(frozen=True, slots=True)
class _Run:
    """One timing of a solo route. ``missed`` is the stop whose windows all closed
    before ``arrival`` (then service is assumed to start at arrival)."""

    missed: int | None
    arrival: int
    left_before: int
    end: int
    duration: int


class _Solo:
    """A vehicle serving only the given stops, between its depots."""

    def __init__(self, problem: PlanningProblem, vehicle: Vehicle, stops: tuple[Stop, ...]):
        dur, dist = problem.matrix_for(vehicle).durations, problem.matrix_for(vehicle).distances
        self.stops = stops
        self.opened = vehicle.start_depot is None
        loc = None if self.opened else problem.depots[vehicle.start_depot or 0].location
        self.legs: list[int] = []
        self.works: list[int] = []
        self.travel = self.distance = 0
        for stop in stops:
            leg = int(dur[loc, stop.location]) if loc is not None else 0
            self.travel += leg
            self.distance += int(dist[loc, stop.location]) if loc is not None else 0
            self.legs.append(leg)
            self.works.append(stop.service + (stop.setup if stop.location != loc else 0))
            loc = stop.location
        self.back = 0
        if vehicle.end_depot is not None and loc is not None:
            end = problem.depots[vehicle.end_depot].location
            self.back = int(dur[loc, end])
            self.travel += self.back
            self.distance += int(dist[loc, end])

    def run(self, depart: int) -> _Run:
        """Leave at ``depart`` (appear at the first stop then, for open starts)."""
        t = depart
        missed: int | None = None
        arrival = left_before = depart
        first_start: int | None = None
        for k, stop in enumerate(self.stops):
            reach = t + self.legs[k]
            start = earliest_start(stop.time_windows, reach)
            if start is None:
                if missed is None:
                    missed, arrival, left_before = k, reach, t
                start = reach
            if first_start is None:
                # The vehicle leaves late enough not to wait at its first stop.
                first_start = start - self.legs[k]
            t = start + self.works[k]
        end = t + self.back
        begin = depart if first_start is None else first_start
        return _Run(missed, arrival, left_before, end, end - begin)

    def shortest_duration(self, earliest: int, end_by: int) -> int | None:
        """The least end-minus-start over departures that meet every window and ``end_by``.

        Leaving later never lengthens the route (waiting is absorbed), so the
        best departure is the latest feasible one; it is one where some stop is
        reached exactly at the close of one of its windows, or the end exactly
        at ``end_by`` -- try them all.
        """
        candidates = {earliest}
        offset = 0
        for k, stop in enumerate(self.stops):
            offset += self.legs[k]
            candidates.update(w.end - offset for w in stop.time_windows if w.end < HORIZON)
            offset += self.works[k]
        if end_by < HORIZON:
            candidates.add(end_by - offset - self.back)
        best: int | None = None
        for depart in candidates:
            if depart < earliest:
                continue
            r = self.run(depart)
            if r.missed is None and r.end <= end_by and (best is None or r.duration < best):
                best = r.duration
        return best
