"""Relaxing the promises the forecast already breaks, so the unchanged plan is valid.

A stop forecast after its window, a break whose window passed, a route
ending after its shift or after its depot closes, a limit exceeded, a load
over capacity: each is relaxed to the forecast value in the residual
problem and listed as a :class:`~lastmile.planning.live.state.Relaxation`.
A change is then accepted only if it makes no broken promise worse.
"""

from __future__ import annotations

import dataclasses

from lastmile.domain import Route, Stop, TimeWindow, VisitKind
from lastmile.domain.time import format_clock
from lastmile.planning.live.routes import stop_attr, timed_route
from lastmile.planning.live.state import Relaxation
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step

_START, _END, _BREAK, _RELOAD = VisitKind.START, VisitKind.END, VisitKind.BREAK, VisitKind.RELOAD


def relax(
    problem: PlanningProblem,
    steps: dict[str, list[Step]],
    started: frozenset[str],
    depot_map: list[int],
) -> tuple[
    PlanningProblem, tuple[Relaxation, ...], dict[str, list[Step]], list[int], dict[str, Route]
]:
    """Relax every promise the forecast routes already break to the forecast value.

    Returns the relaxed problem, what was relaxed, the steps (reload depots may
    be renamed), the depot map and the forecast routes (times are unchanged by
    relaxing)."""

    def clock(t: int) -> str:
        return format_clock(t, scale=problem.time_scale)

    notes: list[Relaxation] = []
    window_ends: dict[tuple[str, str], int] = {}
    vehicles = list(problem.vehicles)
    depots = list(problem.depots)
    depot_map = list(depot_map)
    steps = dict(steps)
    forecast: dict[str, Route] = {}
    for n, vehicle in enumerate(vehicles):
        vid = vehicle.id
        if vid not in steps:
            continue
        route = timed_route(problem, vid, steps[vid], vid in started)
        forecast[vid] = route
        changes: dict[str, object] = {}
        breaks = {b.id: b for b in vehicle.breaks}
        late_breaks: dict[str, int] = {}
        private: dict[int, int] = {}  # depot index -> latest forecast use
        top = list(route.visits[0].load) if route.visits else []
        for v in route.visits:
            top = [max(a, b) for a, b in zip(top, v.load, strict=True)]
            if v.is_task:
                order = problem.order(v.order_id or "")
                attr = stop_attr(order, v.kind)
                stop = getattr(order, attr)
                assert isinstance(stop, Stop)
                w = stop.time_windows
                if w and v.start > w[-1].end:
                    window_ends[(order.id, attr)] = max(
                        window_ends.get((order.id, attr), 0), v.start
                    )
                    notes.append(
                        Relaxation(
                            vid,
                            "time_window",
                            f"order {order.id!r} ({attr}) is forecast at {clock(v.start)}, after "
                            f"its window ends at {clock(w[-1].end)}",
                            order.id,
                        )
                    )
            elif v.kind is _BREAK and v.break_id in breaks:
                w = breaks[v.break_id].time_windows
                if v.start > w[-1].end:
                    late_breaks[v.break_id] = v.start
                    notes.append(
                        Relaxation(
                            vid,
                            "break",
                            f"break {v.break_id!r} is forecast at {clock(v.start)}, after its "
                            f"window ends at {clock(w[-1].end)}",
                        )
                    )
            elif (
                v.kind is _RELOAD
                and v.depot is not None
                and v.start > depots[v.depot].time_window.end
            ):
                private[v.depot] = max(private.get(v.depot, 0), v.start)
        end_time = route.end_time
        if route.visits and route.visits[-1].kind is _END and vehicle.end_depot is not None:
            arrival = route.visits[-1].arrival
            if arrival > depots[vehicle.end_depot].time_window.end:
                private[vehicle.end_depot] = max(private.get(vehicle.end_depot, 0), arrival)
            end_time = arrival
        if late_breaks:
            changes["breaks"] = tuple(
                dataclasses.replace(
                    b,
                    time_windows=(
                        *b.time_windows[:-1],
                        TimeWindow(b.time_windows[-1].start, late_breaks[b.id]),
                    ),
                )
                if b.id in late_breaks
                else b
                for b in vehicle.breaks
            )
        if end_time > vehicle.shift.end:
            changes["shift"] = TimeWindow(vehicle.shift.start, end_time)
            notes.append(
                Relaxation(
                    vid,
                    "shift_end",
                    f"forecast to end at {clock(end_time)}, after its shift ends at "
                    f"{clock(vehicle.shift.end)}",
                )
            )
        first = route.visits[0] if route.visits else None
        if vehicle.max_duration is not None and first is not None:
            began = first.departure if first.kind is _START else first.start
            if end_time - began > vehicle.max_duration:
                changes["max_duration"] = end_time - began
                notes.append(
                    Relaxation(vid, "max_duration", f"forecast to work {end_time - began}s")
                )
        for name, used in (
            ("max_travel_time", route.travel),
            ("max_distance", route.distance),
            ("max_tasks", len(route.tasks)),
            ("max_reloads", sum(1 for v in route.visits if v.kind is _RELOAD)),
        ):
            limit = getattr(vehicle, name)
            if limit is not None and used > limit:
                changes[name] = used
                notes.append(Relaxation(vid, name, f"forecast {used}, over its limit {limit}"))
        if top and any(a > c for a, c in zip(top, vehicle.capacity, strict=True)):
            capacity = tuple(max(a, c) for a, c in zip(top, vehicle.capacity, strict=True))
            changes["type"] = dataclasses.replace(vehicle.type, capacity=capacity)
            notes.append(Relaxation(vid, "capacity", f"forecast to carry {top}, over its capacity"))
        if private:
            reloads = list(vehicle.reload_depots)
            renamed: dict[int, int] = {}
            for d, latest in private.items():
                src = depots[d]
                renamed[d] = len(depots)
                depots.append(
                    dataclasses.replace(
                        src,
                        id=f"{src.id}@{vid}",
                        time_window=TimeWindow(src.time_window.start, latest),
                    )
                )
                depot_map.append(depot_map[d])
                if d in reloads:
                    reloads.append(renamed[d])
                notes.append(
                    Relaxation(
                        vid,
                        "depot_window",
                        f"forecast at depot {src.id!r} at {clock(latest)}, after it closes at "
                        f"{clock(src.time_window.end)}",
                    )
                )
            if vehicle.end_depot in renamed:
                changes["end_depot"] = renamed[vehicle.end_depot]
            changes["reload_depots"] = tuple(reloads)
            steps[vid] = [
                dataclasses.replace(s, depot=renamed[s.depot])
                if s.kind is _RELOAD and s.depot in renamed
                else s
                for s in steps[vid]
            ]
        if changes:
            vehicles[n] = dataclasses.replace(vehicle, **changes)  # type: ignore[arg-type]
    if not notes and len(depots) == len(problem.depots):
        return problem, (), steps, depot_map, forecast
    orders = list(problem.orders)
    if window_ends:
        for n, o in enumerate(orders):
            for attr in ("pickup", "delivery"):
                late = window_ends.get((o.id, attr))
                if late is None:
                    continue
                stop = getattr(o, attr)
                w = stop.time_windows
                stop = dataclasses.replace(
                    stop, time_windows=(*w[:-1], TimeWindow(w[-1].start, late))
                )
                o = dataclasses.replace(o, **{attr: stop})
            orders[n] = o
    relaxed = dataclasses.replace(
        problem, depots=tuple(depots), vehicles=tuple(vehicles), orders=tuple(orders)
    )
    return relaxed, tuple(notes), steps, depot_map, forecast
