"""Writing a :class:`PlanningProblem` as a VROOM problem (JSON), for the ``vroom`` binary."""

from __future__ import annotations

from typing import Any

from lastmile.domain import (
    Order,
    OrderKind,
    Stop,
    TimeWindow,
)
from lastmile.exceptions import InputError
from lastmile.formats.vroom.fields import DEFAULT_PER_HOUR, int_ids
from lastmile.planning.engines.base import check_supported
from lastmile.planning.engines.vroom import VROOM_MAX_TIME, VroomEngine
from lastmile.planning.problem import Feature, PlanningProblem


def _clamp(t: int) -> int:
    return min(t, VROOM_MAX_TIME)


def _tw(w: TimeWindow) -> list[int]:
    return [w.start, _clamp(w.end)]


def _unsupported_by_vroom(problem: PlanningProblem) -> None:
    # Reloads go into lastmile's ``reloads`` extension of a vehicle.
    check_supported(VroomEngine.name, VroomEngine.capabilities | {Feature.RELOADS}, problem)


def write_problem(problem: PlanningProblem) -> dict[str, Any]:
    """The problem as VROOM JSON with ``location_index`` and per-profile matrices.

    Ids that are integers are kept; otherwise tasks/vehicles are numbered from
    1 and the original id is written as ``description``. Depot hours are folded
    into each vehicle's ``time_window``. Reloads are written in lastmile's
    ``reloads`` extension of the vehicle (see :mod:`lastmile.formats.vroom`);
    VROOM itself does not plan them. Problems using what VROOM cannot model
    otherwise (max_duration) raise :class:`UnsupportedConstraint`.
    """
    _unsupported_by_vroom(problem)
    locs = problem.locations

    def place(idx: int, key: str = "location") -> dict[str, Any]:
        out: dict[str, Any] = {f"{key}_index" if key != "location" else "location_index": idx}
        if locs[idx].is_geographic:
            out[key] = [locs[idx].lon, locs[idx].lat]
        return out

    def windows(stop: Stop) -> dict[str, Any]:
        tws = [w for w in stop.time_windows]
        if not tws or (len(tws) == 1 and not tws[0].is_bounded):
            return {}
        return {"time_windows": [_tw(w) for w in tws]}

    def task(stop: Stop, task_id: int, original: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": task_id}
        desc = locs[stop.location].name
        if str(task_id) != original:
            desc = original if not desc else f"{original}: {desc}"
        if desc:
            out["description"] = desc
        out.update(place(stop.location))
        if stop.setup:
            out["setup"] = stop.setup
        if stop.service:
            out["service"] = stop.service
        out.update(windows(stop))
        return out

    def common(order: Order) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if order.skills:
            out["skills"] = sorted(skill_ids[s] for s in order.skills)
        if order.priority:
            out["priority"] = order.priority
        return out

    all_skills = sorted(
        {s for o in problem.orders for s in o.skills}
        | {s for v in problem.vehicles for s in v.skills}
    )
    skill_ids = dict(zip(all_skills, int_ids(all_skills), strict=True))
    dims = len(problem.dimensions)

    singles = [o for o in problem.orders if o.kind is not OrderKind.SHIPMENT]
    shipments = [o for o in problem.orders if o.kind is OrderKind.SHIPMENT]
    jobs = []
    for order, jid in zip(
        singles, int_ids([o.single_stop.ref or o.id for o in singles]), strict=True
    ):
        out = task(order.single_stop, jid, order.single_stop.ref or order.id)
        if dims:
            key = "delivery" if order.kind is OrderKind.DELIVERY else "pickup"
            out[key] = list(problem.amount(order))
        out.update(common(order))
        jobs.append(out)
    pick_ids = int_ids([o.pickup.ref if o.pickup else "" for o in shipments])
    drop_ids = int_ids([o.delivery.ref if o.delivery else "" for o in shipments])
    ships = []
    for order, pid, did in zip(shipments, pick_ids, drop_ids, strict=True):
        assert order.pickup is not None and order.delivery is not None
        out = {
            "pickup": task(order.pickup, pid, order.pickup.ref or f"{order.id} pickup"),
            "delivery": task(order.delivery, did, order.delivery.ref or f"{order.id} delivery"),
        }
        if dims:
            out["amount"] = list(problem.amount(order))
        out.update(common(order))
        ships.append(out)

    vehicles = []
    for vehicle, vid in zip(
        problem.vehicles, int_ids([v.id for v in problem.vehicles]), strict=True
    ):
        t = vehicle.type
        out = {"id": vid}
        if str(vid) != vehicle.id:
            out["description"] = vehicle.id
        out["profile"] = t.profile
        if vehicle.start_depot is not None:
            out.update(place(problem.depots[vehicle.start_depot].location, "start"))
        if vehicle.end_depot is not None:
            out.update(place(problem.depots[vehicle.end_depot].location, "end"))
        if dims:
            out["capacity"] = list(t.capacity)
        if t.skills:
            out["skills"] = sorted(skill_ids[s] for s in t.skills)
        if (t.fixed_cost, t.cost_per_hour, t.cost_per_km) != (0, DEFAULT_PER_HOUR, 0):
            out["costs"] = {
                "fixed": t.fixed_cost,
                "per_hour": t.cost_per_hour,
                "per_km": t.cost_per_km,
            }
        tw = problem.working_hours(vehicle)
        if tw is None:  # no working time left: an instant VROOM cannot fill
            out["time_window"] = [_clamp(vehicle.shift.start)] * 2
        elif tw.is_bounded:
            out["time_window"] = _tw(tw)
        if vehicle.breaks:
            ids = int_ids([b.id for b in vehicle.breaks])
            out["breaks"] = [
                {
                    "id": bid,
                    "time_windows": [_tw(w) for w in b.time_windows],
                    "service": b.duration,
                    **({} if str(bid) == b.id else {"description": b.id}),
                }
                for b, bid in zip(vehicle.breaks, ids, strict=True)
            ]
        for key in ("max_tasks", "max_travel_time", "max_distance"):
            value = getattr(vehicle, key)
            if value is not None:
                out[key] = value
        if vehicle.reload_depots:
            reload_depots = []
            for d in vehicle.reload_depots:
                depot = problem.depots[d]
                entry = place(depot.location)
                entry["service"] = depot.reload_time
                if depot.time_window.is_bounded:
                    entry["time_window"] = _tw(depot.time_window)
                reload_depots.append(entry)
            reloads: dict[str, Any] = {"depots": reload_depots}
            if vehicle.max_reloads is not None:
                reloads["max"] = vehicle.max_reloads
            out["reloads"] = reloads
        vehicles.append(out)

    used = {v.type.profile for v in problem.vehicles}
    matrices: dict[str, dict[str, Any]] = {}
    for profile, m in problem.matrices.items():
        if profile not in used:
            continue
        matrices[profile] = {}
        for key, values in (("durations", m.durations), ("distances", m.distances)):
            if values.size and int(values.max()) > VROOM_MAX_TIME:
                raise InputError(
                    f"values above {VROOM_MAX_TIME} do not fit VROOM",
                    where=f"matrices.{profile}.{key}",
                )
            matrices[profile][key] = values.tolist()
    out_problem: dict[str, Any] = {"vehicles": vehicles}
    if jobs:
        out_problem["jobs"] = jobs
    if ships:
        out_problem["shipments"] = ships
    out_problem["matrices"] = matrices
    return out_problem
