"""Building the residual problem: a plan plus progress as an ordinary problem.

:func:`build_view` turns a plan and the states of the vehicles on the road
into a :class:`~lastmile.planning.live.view.LiveView`: each started vehicle
from a private depot where it is now, what it carries as goods picked up
there on a private matrix row, its used limits taken off, depot goods
reserved to vehicles able to load them, and the promises already broken
relaxed (:mod:`lastmile.planning.live.relax`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lastmile.domain import (
    Depot,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    Visit,
    VisitKind,
)
from lastmile.domain.time import HORIZON
from lastmile.exceptions import InputError
from lastmile.planning.live.assemble import full_plan
from lastmile.planning.live.relax import relax
from lastmile.planning.live.routes import (
    check,
    exactly,
    plus,
    step_of,
    stop_key,
    timed_route,
    unassigned_orders,
    with_depot_skill,
)
from lastmile.planning.live.state import LOADED_AT_DEPOT, NO_ENTRY, Track, VehicleState
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step

_START, _END, _BREAK, _RELOAD = VisitKind.START, VisitKind.END, VisitKind.BREAK, VisitKind.RELOAD
_JOB, _PICKUP, _DELIVERY = VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY


@dataclass
class _History:
    """What a started vehicle has done, carries and has left (see :meth:`_Builder.history`)."""

    track: Track
    steps: list[Step]
    dead_load: tuple[int, ...]
    served: set[str]
    tasks_done: int
    reloads_done: int


def build_view(
    problem: PlanningProblem,
    plan: Plan,
    *,
    now_s: int,
    states: Iterable[VehicleState] = (),
    unavailable: Iterable[str] = (),
) -> LiveView:
    """The live view of ``plan`` at ``now_s``; raises :class:`InputError` on a state
    that does not fit the plan, and :class:`LiveChangeRejected` when even the
    relaxed forecast breaks a rule (the plan itself does not fit the problem)."""
    return _Builder(problem, plan, now_s, tuple(states), frozenset(unavailable)).build()


class _Builder:
    """One build of a live view: the states checked, then :meth:`build`."""

    def __init__(
        self,
        problem: PlanningProblem,
        plan: Plan,
        now_s: int,
        states: tuple[VehicleState, ...],
        unavailable: frozenset[str],
    ) -> None:
        self.problem = problem
        self.plan = plan
        self.now = int(now_s)
        self.unavailable = unavailable
        self.states: dict[str, VehicleState] = {}
        vehicle_ids = {v.id for v in problem.vehicles}
        for s in states:
            where = f"vehicle state {s.vehicle_id!r}"
            if s.vehicle_id not in vehicle_ids:
                raise InputError("no such vehicle in the problem", where=where)
            if s.vehicle_id in self.states:
                raise InputError("two states for one vehicle", where=where)
            if not 0 <= s.location < len(problem.locations):
                raise InputError(f"location {s.location} is not a matrix row", where=where)
            if s.at_depot and all(d.location != s.location for d in problem.depots):
                raise InputError(f"location {s.location} is no depot's", where=where)
            self.states[s.vehicle_id] = s
        for vid in unavailable:
            if vid not in vehicle_ids:
                raise InputError("no such vehicle in the problem", where=f"unavailable {vid!r}")
        self.zero = (0,) * len(problem.dimensions)

    def ready(self, vehicle_id: str) -> int:
        """When ``vehicle_id`` can leave where it is: its ready time, never before now."""
        return max(self.states[vehicle_id].ready_s, self.now)

    def build(self) -> LiveView:
        """The live view: tracks, private rows and depots, orders, vehicles, then relaxed
        and checked."""
        problem, plan = self.problem, self.plan
        known = {o.id for o in problem.orders}
        for planned in plan.routes:
            if planned.vehicle_id not in {v.id for v in problem.vehicles}:
                raise InputError(
                    "no such vehicle in the problem", where=f"route {planned.vehicle_id!r}"
                )
            for v in planned.visits:
                if v.order_id is not None and v.order_id not in known:
                    raise InputError(
                        f"visits order {v.order_id!r}, which the problem does not have",
                        where=f"route of {planned.vehicle_id!r}",
                    )
        started = bool(self.states)

        # History, goods on board and the remaining steps of each vehicle.
        tracks: dict[str, Track] = {}
        steps: dict[str, list[Step]] = {}
        histories: dict[str, _History] = {}
        served: set[str] = set()
        for vehicle in problem.vehicles:
            route = plan.route_of(vehicle.id)
            if vehicle.id not in self.states:
                tracks[vehicle.id] = Track(vehicle.id, started=False)
                if route is not None and route.tasks:
                    steps[vehicle.id] = [
                        step_of(v) for v in route.visits if v.kind not in (_START, _END)
                    ]
                continue
            h = self.history(vehicle, route)
            histories[vehicle.id] = h
            tracks[vehicle.id] = h.track
            steps[vehicle.id] = h.steps
            served |= h.served

        # A private "now" row for each vehicle carrying goods.
        locations = list(problem.locations)
        now_rows: dict[str, int] = {}
        for vid, h in histories.items():
            if h.track.pinned or any(h.dead_load):
                now_rows[vid] = len(locations)
                row = self.states[vid].location
                locations.append(dataclasses.replace(problem.locations[row], name=f"{vid} now"))
        # Large enough that no other vehicle reaches the row by the time the goods
        # are picked up there, small enough for every engine's cost arithmetic.
        no_entry = NO_ENTRY + max((self.ready(v) for v in now_rows), default=0)
        matrices = (
            with_private_rows(
                problem.matrices, [self.states[v].location for v in now_rows], no_entry
            )
            if now_rows
            else dict(problem.matrices)
        )

        # Depots: the problem's, then where each started vehicle is now.
        depots = list(problem.depots)
        depot_map = list(range(len(depots)))
        start_depot: dict[str, int] = {}
        for vid in histories:
            start_depot[vid] = len(depots)
            where = now_rows.get(vid, self.states[vid].location)
            depots.append(Depot(f"{vid}@now", where, TimeWindow(self.ready(vid), HORIZON)))
            depot_map.append(-1)

        # Orders: what is left, the goods on board as pickups where the vehicle is.
        pinned_on = {oid: vid for vid, h in histories.items() for oid in h.track.pinned}
        remaining = {s.order_id for ss in steps.values() for s in ss if s.order_id}
        orders: list[Order] = []
        for o in problem.orders:
            if o.id in pinned_on:
                vid = pinned_on[o.id]
                orders.append(self.pinned_order(o, now_rows[vid], self.ready(vid)))
            elif o.id in remaining or o.id not in served:
                orders.append(with_depot_skill(o) if started else o)
        for vid, h in histories.items():
            if any(h.dead_load):
                did = h.track.dead_load_id
                assert did is not None
                if did in known:
                    raise InputError("order id is reserved for goods on board", where=did)
                stop = Stop(now_rows[vid], time_windows=exactly(self.ready(vid)), ref="on board")
                orders.append(Order(did, OrderKind.PICKUP, pickup=stop, amount=h.dead_load))

        # Vehicles.
        with_skill: dict[VehicleType, VehicleType] = {}

        def depot_type(t: VehicleType) -> VehicleType:
            if t not in with_skill:
                with_skill[t] = dataclasses.replace(t, skills=t.skills | {LOADED_AT_DEPOT})
            return with_skill[t]

        vehicles: list[Vehicle] = []
        for vehicle in problem.vehicles:
            vid = vehicle.id
            found = histories.get(vid)
            if found is None:
                shift = vehicle.shift
                if self.now > shift.start:
                    shift = TimeWindow(self.now, max(shift.end, self.now))
                vtype = depot_type(vehicle.type) if started else vehicle.type
                vehicles.append(dataclasses.replace(vehicle, type=vtype, shift=shift))
                continue
            h = found
            track = h.track
            pseudo = [Step(_PICKUP, order_id=oid) for oid in track.pinned]
            if any(h.dead_load):
                pseudo.append(Step(_JOB, order_id=track.dead_load_id))
            else:
                track = dataclasses.replace(track, dead_load_id=None)
            steps[vid] = pseudo + steps[vid]
            tracks[vid] = dataclasses.replace(
                track,
                now_row=now_rows.get(vid),
                here=self.states[vid].location,
                at_depot=self.states[vid].at_depot,
            )
            reload_ahead = any(s.kind is _RELOAD for s in h.steps)
            loads = reload_ahead or self.states[vid].at_depot
            vtype = depot_type(vehicle.type) if loads else vehicle.type
            vehicles.append(self.started_vehicle(vehicle, h, vtype, start_depot[vid], len(pseudo)))

        strict = PlanningProblem(
            locations=tuple(locations),
            matrices=matrices,
            depots=tuple(depots),
            vehicles=tuple(vehicles),
            orders=tuple(orders),
            dimensions=problem.dimensions,
            name=problem.name,
            time_scale=problem.time_scale,
            travel_note=problem.travel_note,
            cost_waiting=problem.cost_waiting,
        )
        started_ids = frozenset(histories)
        residual, relaxations, steps, depot_map, forecast = relax(
            strict, steps, started_ids, depot_map
        )
        routes = []
        for before, vehicle in zip(strict.vehicles, residual.vehicles, strict=True):
            if vehicle.id not in steps:
                continue
            if vehicle == before:
                routes.append(forecast[vehicle.id])  # relaxed windows do not move any time
            else:
                routes.append(
                    timed_route(residual, vehicle.id, steps[vehicle.id], before.id in started_ids)
                )
        unassigned = unassigned_orders(residual, tuple(routes), plan.unassigned)
        residual_plan = Plan(tuple(routes), unassigned, plan.engine, plan.runtime_s)
        check(residual, residual_plan, "the live plan")
        live = LiveView(
            problem=problem,
            plan=plan,
            now_s=self.now,
            states=dict(self.states),
            residual=residual,
            residual_plan=residual_plan,
            relaxations=relaxations,
            unavailable=self.unavailable,
            tracks=tracks,
            depot_map=tuple(depot_map),
        )
        return dataclasses.replace(live, plan=full_plan(live, residual_plan, plan.engine))

    def history(self, vehicle: Vehicle, route: Route | None) -> _History:
        """What a started vehicle has done, carries, and has left to do."""
        problem = self.problem
        state = self.states[vehicle.id]
        visits = route.visits if route is not None else ()
        keys = {stop_key(v): i for i, v in enumerate(visits) if v.is_task}
        done = state.completed | state.failed
        for k in sorted(done):
            if k not in keys:
                raise InputError(
                    f"stop {k[0]!r} ({k[1]}) is not on its route",
                    where=f"vehicle state {vehicle.id!r}",
                )
        frontier = max((keys[k] for k in done), default=0)
        failed_orders = {oid for oid, _ in state.failed}
        picked = {oid for oid, kind in state.completed if kind is _PICKUP}
        # The trip in progress began at the last reload behind the vehicle (or
        # begins where it stands, at a depot).
        trip_begin = max(
            (i for i, v in enumerate(visits) if v.kind is _RELOAD and i < frontier), default=0
        )
        if state.at_depot:
            trip_begin = len(visits)
        behind: list[Visit] = []
        rest: list[Step] = []
        pinned: dict[str, OrderKind] = {}
        dead = self.zero
        served: set[str] = set()
        tasks_done = reloads_done = 0
        for i, v in enumerate(visits):
            kind = v.kind
            if kind is _START:
                behind.append(v)
            elif kind is _END:
                continue
            elif v.is_task:
                oid = v.order_id or ""
                order = problem.order(oid)
                k = stop_key(v)
                in_trip = i > trip_begin
                if k in done:
                    behind.append(v)
                    served.add(oid)
                    tasks_done += 1
                    # Goods that stay on board until the next depot.
                    if k in state.failed:
                        back = (kind is _JOB and order.kind is OrderKind.DELIVERY and in_trip) or (
                            kind is _DELIVERY and oid in picked
                        )
                    else:
                        back = kind is _JOB and order.kind is OrderKind.PICKUP and in_trip
                    if back:
                        dead = plus(dead, problem.amount(order))
                    continue
                if oid in failed_orders:
                    continue  # the order failed at its other stop
                if kind is _DELIVERY and oid in picked:
                    pinned[oid] = OrderKind.SHIPMENT
                elif (
                    kind is _JOB
                    and order.kind is OrderKind.DELIVERY
                    and in_trip
                    and not any(w.kind is _RELOAD for w in visits[trip_begin + 1 : i])
                ):
                    pinned[oid] = OrderKind.DELIVERY
                    # Carried, it becomes the delivery half of a shipment from here.
                    rest.append(Step(_DELIVERY, order_id=oid))
                    continue
                rest.append(step_of(v))
            elif i < frontier:
                # Breaks and reloads before the last stop reported were taken.
                behind.append(v)
                reloads_done += kind is _RELOAD
            else:
                rest.append(step_of(v))
        travel, distance = state.travel_s, state.distance_m
        if travel is None or distance is None:
            last = next((v for v in reversed(behind) if v.kind is not _BREAK), None)
            t0 = last.travel if last is not None else 0
            d0 = last.distance if last is not None else 0
            if last is not None and last.location != state.location:
                m = problem.matrix_for(vehicle)
                t0 += int(m.durations[last.location, state.location])
                d0 += int(m.distances[last.location, state.location])
            travel = t0 if travel is None else travel
            distance = d0 if distance is None else distance
        track = Track(
            vehicle.id,
            started=True,
            done=tuple(behind),
            travel_s=travel,
            distance_m=distance,
            pinned=pinned,
            dead_load_id=f"{vehicle.id}~on-board",
        )
        return _History(track, rest, dead, served, tasks_done, reloads_done)

    def pinned_order(self, order: Order, row: int, ready: int) -> Order:
        """A carried order as a shipment picked up where the vehicle is, at ``ready``."""
        assert order.delivery is not None
        return Order(
            order.id,
            OrderKind.SHIPMENT,
            pickup=Stop(row, time_windows=exactly(ready), ref="on board"),
            delivery=order.delivery,
            amount=self.problem.amount(order),
            skills=order.skills,
            priority=order.priority,
        )

    def started_vehicle(
        self, vehicle: Vehicle, h: _History, vtype: VehicleType, depot: int, pseudo: int
    ) -> Vehicle:
        """The vehicle from where it is now, with what it has used taken off its limits."""
        ready = self.ready(vehicle.id)
        track = h.track
        end = vehicle.shift.end
        if vehicle.max_duration is not None and track.done:
            first = track.done[0]
            began = first.departure if first.kind is _START else first.start
            end = min(end, began + vehicle.max_duration)
        taken = {v.break_id for v in track.done if v.kind is _BREAK}

        def left(limit: int | None, used: int) -> int | None:
            return None if limit is None else max(0, limit - used)

        max_tasks = left(vehicle.max_tasks, h.tasks_done)
        return Vehicle(
            id=vehicle.id,
            type=vtype,
            start_depot=depot,
            end_depot=vehicle.end_depot,
            shift=TimeWindow(ready, max(end, ready)),
            max_duration=None,
            max_travel_time=left(vehicle.max_travel_time, track.travel_s),
            max_distance=left(vehicle.max_distance, track.distance_m),
            max_tasks=None if max_tasks is None else max_tasks + pseudo,
            breaks=tuple(b for b in vehicle.breaks if b.id not in taken),
            reload_depots=vehicle.reload_depots,
            max_reloads=left(vehicle.max_reloads, h.reloads_done),
        )


def with_private_rows(
    matrices: Mapping[str, TravelMatrix], rows: Sequence[int], no_entry: int
) -> dict[str, TravelMatrix]:
    """Each matrix grown by copies of ``rows`` that can be left but never entered."""
    k = len(rows)
    idx = np.asarray(rows, dtype=np.intp)
    out: dict[str, TravelMatrix] = {}
    for profile, m in matrices.items():
        grown = []
        for a in (m.durations, m.distances):
            n = a.shape[0]
            b = np.full((n + k, n + k), no_entry, dtype=np.int64)
            b[:n, :n] = a
            b[n:, :n] = a[idx, :]
            b[np.arange(n, n + k), np.arange(n, n + k)] = 0
            grown.append(b)
        out[profile] = TravelMatrix(grown[0], grown[1])
    return out
