"""Decomposition: days too large for one search, solved as parts in parallel.

One search over 20,000 stops neither converges in minutes nor fits in memory
(a dense matrix of 20,000 locations is 3.2 GB per array at 64 bits, and each
engine copies it). A dispatcher would cut such a day by area; so does this
module:

1. **partition** (:func:`partition`): the vehicles' depots are grouped into
   sites (depots close together form one); each order goes to the nearest
   site; around each site the orders are cut into angular sectors of about
   :data:`PART_STOPS` stops, balanced by stops and demand (the largest share
   of any capacity dimension). Every vehicle type is shared out between the
   sectors in proportion to the demand it can serve there, so a sector of
   chilled goods gets refrigerated vans and each part keeps the fleet's mix
   of depots, shifts and types. An order no vehicle of its sector can carry
   moves to the nearest sector with one.
2. **parts in parallel**: each part is a problem of its own, with a dense
   matrix of its points only (built in the worker, from the coordinates
   through the travel model, or sliced from a given matrix and sent in the
   narrowest integer type that holds it), solved by
   :func:`~lastmile.planning.solve.solve` on one core, through any
   :class:`concurrent.futures.Executor` (default: a local process pool of
   ``workers`` processes).
3. **across borders**: the routes are ordered by the angle of their centroid
   around their site and grouped again, offset by half a group, so that each
   new group straddles a border of the first cut; left-out orders join the
   group of the route passing nearest to them (a k-d tree of the routed
   stops) and idle vehicles the groups that need them. Each group is searched
   again from its current routes and its result is kept only when it leaves
   out fewer orders, or as many for less cost: the plan never gets worse.
4. the whole plan goes through the validator (a route it rejects loses the
   offending orders), and every order left out gets a reason.

A part that fails (its worker raised, or did not answer in time) costs its
time, not the plan: its orders and vehicles go back into the next round, or,
when no time is left, come back unassigned with the reason.

This module cuts the day and regroups its routes;
:func:`lastmile.planning.solve.solve_decomposed` runs the parts (they are
solves themselves).

Memory stays linear in the stops when the problem's matrices are
:class:`~lastmile.travel.lazy.CoordinateMatrix` (read so by ``lastmile
solve`` above :data:`DECOMPOSE_ABOVE` stops): nothing here ever makes an N x N
array; the whole plan is checked leg by leg.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.domain import Location, Order, Route, Vehicle, Visit, VisitKind
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step
from lastmile.travel.lazy import CoordinateMatrix, narrow
from lastmile.travel.matrix import TravelMatrix

Progress = Callable[[float, str], None]
log = logging.getLogger(__name__)

#: Stops from which ``solve(decompose="auto")`` and ``lastmile solve`` decompose:
#: below it one search over the whole day is better (and fits in memory).
DECOMPOSE_ABOVE = 4_000
#: Stops per part the partition aims at: large enough for routes to find their
#: shape, small enough for one core to search well in tens of seconds.
PART_STOPS = 800
#: Share of the search time the first, independent solve of the parts gets; the
#: rest goes to the rounds across borders.
FIRST_SHARE = 0.7
#: The shortest search worth giving a part or a group, seconds.
MIN_PART_S = 2.0
#: Sites: depots closer than this share of the orders' typical distance from the
#: fleet's centre form one site.
SITE_RADIUS_SHARE = 1.0


@dataclass(frozen=True, slots=True)
class Part:
    """Orders and the vehicles that serve them, planned as one problem."""

    orders: tuple[str, ...]
    vehicles: tuple[str, ...]
    site: int = 0


# -- geometry ---------------------------------------------------------------------------


def location_points(problem: PlanningProblem) -> npt.NDArray[np.float64]:
    """A plane point (metres, or the problem's own units) for every location.

    Lon/lat are projected around their mean latitude; planar coordinates are
    used as they are; locations known only by their matrix rows are placed by
    FastMap on the first profile's durations (two pivots), which keeps
    neighbours near each other, all the grouping needs.
    """
    locs = problem.locations
    if all(loc.has_coordinates for loc in locs):
        xy = np.array([(loc.lon, loc.lat) for loc in locs], dtype=np.float64)
        if all(loc.is_geographic for loc in locs):
            lat0 = math.radians(float(np.mean(xy[:, 1])))
            xy[:, 0] *= 111_320.0 * math.cos(lat0)
            xy[:, 1] *= 111_320.0
        return xy
    matrix = next(iter(problem.matrices.values()))
    return _fastmap(matrix, pivot=problem.depots[0].location)


def _fastmap(matrix: TravelMatrix, *, pivot: int) -> npt.NDArray[np.float64]:
    def row(i: int) -> npt.NDArray[np.float64]:
        there = np.asarray(matrix.durations[i, :], dtype=np.float64)
        back = np.asarray(matrix.durations[:, i], dtype=np.float64)
        return (there + back) / 2

    n = matrix.size
    out = np.zeros((n, 2))
    residual = np.zeros(n)
    a = pivot
    for axis in range(2):
        da = np.sqrt(np.maximum(row(a) ** 2 - residual, 0.0))
        b = int(np.argmax(da))
        db = np.sqrt(np.maximum(row(b) ** 2 - residual, 0.0))
        dab = max(float(da[b]), 1e-9)
        out[:, axis] = (da**2 + dab**2 - db**2) / (2 * dab)
        residual = residual + out[:, axis] ** 2
        a = b
    return out


def _order_anchor(order: Order, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    locs = [s.location for s in order.stops]
    anchor: npt.NDArray[np.float64] = xy[locs[0]] if len(locs) == 1 else xy[locs].mean(axis=0)
    return anchor


def _vehicle_home(problem: PlanningProblem, vehicle: Vehicle) -> int | None:
    depot = vehicle.start_depot if vehicle.start_depot is not None else vehicle.end_depot
    return problem.depots[depot].location if depot is not None else None


def _can_carry(problem: PlanningProblem, vehicle: Vehicle, order: Order) -> bool:
    return order.skills <= vehicle.type.skills and all(
        a <= c for a, c in zip(problem.amount(order), vehicle.capacity, strict=True)
    )


def _weights(problem: PlanningProblem, orders: Sequence[Order]) -> npt.NDArray[np.float64]:
    """Each order's share of the work: its stops' share plus its largest share
    of any capacity dimension."""
    stops = np.array([len(o.stops) for o in orders], dtype=np.float64)
    w = stops / max(1.0, float(stops.sum()))
    if problem.dimensions and orders:
        amounts = np.array([problem.amount(o) for o in orders], dtype=np.float64)
        totals = amounts.sum(axis=0)
        totals[totals == 0] = 1.0
        w = w + (amounts / totals).max(axis=1)
    return w


def _sites(
    problem: PlanningProblem,
    vehicles: Sequence[Vehicle],
    xy: npt.NDArray[np.float64],
    spread: float,
) -> tuple[list[npt.NDArray[np.float64]], list[int]]:
    """Group the vehicles' homes into sites: (each site's home points, each
    vehicle's site). Vehicles without a depot join the first site."""
    homes = sorted({h for v in vehicles if (h := _vehicle_home(problem, v)) is not None})
    parent = list(range(len(homes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(homes)):
        for j in range(i + 1, len(homes)):
            if float(np.linalg.norm(xy[homes[i]] - xy[homes[j]])) <= SITE_RADIUS_SHARE * spread:
                parent[find(i)] = find(j)
    roots = sorted({find(i) for i in range(len(homes))})
    site_of_home = {homes[i]: roots.index(find(i)) for i in range(len(homes))}
    points = [xy[[homes[i] for i in range(len(homes)) if find(i) == r]] for r in roots]
    if not points:
        points = [np.zeros((1, 2))]
    of_vehicle = [
        site_of_home[h] if (h := _vehicle_home(problem, v)) is not None else 0 for v in vehicles
    ]
    return points, of_vehicle


# -- partition --------------------------------------------------------------------------


def partition(
    problem: PlanningProblem,
    n_parts: int | None = None,
    *,
    part_stops: int = PART_STOPS,
    orders: Sequence[Order] | None = None,
    vehicles: Sequence[Vehicle] | None = None,
) -> list[Part]:
    """Cut ``problem`` (or only ``orders`` and ``vehicles`` of it) into parts.

    Every order is in exactly one part and every vehicle in at most one (a
    vehicle whose site has no orders is in none). ``n_parts`` defaults to one
    per ``part_stops`` stops; there are never more parts than vehicles.
    """
    if part_stops < 1:
        raise ValueError(f"part_stops must be >= 1, got {part_stops}")
    orders = list(problem.orders if orders is None else orders)
    vehicles = list(problem.vehicles if vehicles is None else vehicles)
    if not orders or not vehicles:
        return [Part(tuple(o.id for o in orders), tuple(v.id for v in vehicles))]
    xy = location_points(problem)
    anchors = np.array([_order_anchor(o, xy) for o in orders])
    spread = float(np.median(np.linalg.norm(anchors - anchors.mean(axis=0), axis=1))) or 1.0
    site_points, vehicle_site = _sites(problem, vehicles, xy, spread)
    # Each order to the nearest site.
    nearest = np.full(len(orders), np.inf)
    order_site = np.zeros(len(orders), dtype=np.int64)
    for s, pts in enumerate(site_points):
        d = np.min(np.linalg.norm(anchors[:, None, :] - pts[None, :, :], axis=2), axis=1)
        closer = d < nearest
        nearest[closer], order_site[closer] = d[closer], s
    total_stops = sum(len(o.stops) for o in orders)
    parts: list[Part] = []
    for s, pts in enumerate(site_points):
        idx = np.flatnonzero(order_site == s)
        fleet = [v for v, vs in zip(vehicles, vehicle_site, strict=True) if vs == s]
        if not len(idx) or not fleet:
            if len(idx):  # orders of a site without vehicles: planned by no one
                parts.append(Part(tuple(orders[i].id for i in idx), (), s))
            continue
        site_orders = [orders[i] for i in idx]
        stops = sum(len(o.stops) for o in site_orders)
        k = (
            max(1, round(n_parts * stops / total_stops))
            if n_parts is not None
            else math.ceil(stops / part_stops)
        )
        k = max(1, min(k, len(fleet), len(site_orders)))
        parts += _sectors(problem, site_orders, anchors[idx], pts.mean(axis=0), fleet, k, s)
    return _carried(problem, parts, xy)


def _carried(
    problem: PlanningProblem, parts: list[Part], xy: npt.NDArray[np.float64]
) -> list[Part]:
    """``parts`` with each order no vehicle of its part can carry (a skill, a
    size) moved to the nearest part with one (by the parts' centres); orders no
    vehicle at all can carry stay (they are explained as such)."""
    by_id = {v.id: v for v in problem.vehicles}
    crews = [[by_id[vid] for vid in p.vehicles] for p in parts]
    members = [[problem.order(oid) for oid in p.orders] for p in parts]
    centres = np.array(
        [
            np.mean([_order_anchor(o, xy) for o in m], axis=0) if m else np.full(2, np.inf)
            for m in members
        ]
    )
    moved = False
    for p in range(len(parts)):
        keep: list[Order] = []
        for o in members[p]:
            if any(_can_carry(problem, v, o) for v in crews[p]):
                keep.append(o)
                continue
            options = [
                q for q in range(len(parts)) if any(_can_carry(problem, v, o) for v in crews[q])
            ]
            if not options:
                keep.append(o)
                continue
            here = _order_anchor(o, xy)
            q = min(options, key=lambda q: float(np.linalg.norm(centres[q] - here)))
            members[q].append(o)
            moved = True
        members[p] = keep
    if not moved:
        return parts
    return [
        Part(tuple(o.id for o in m), part.vehicles, part.site)
        for m, part in zip(members, parts, strict=True)
        if m or part.vehicles
    ]


def _sectors(
    problem: PlanningProblem,
    orders: list[Order],
    anchors: npt.NDArray[np.float64],
    centre: npt.NDArray[np.float64],
    fleet: list[Vehicle],
    k: int,
    site: int,
) -> list[Part]:
    rel = anchors - centre
    angle = np.arctan2(rel[:, 1], rel[:, 0])
    order = np.argsort(angle, kind="stable")
    # Start the sweep after the widest empty angle, so no sector wraps a dense spot.
    gaps = np.diff(np.concatenate([angle[order], [angle[order[0]] + 2 * np.pi]]))
    order = np.roll(order, -(int(np.argmax(gaps)) + 1))
    weight = _weights(problem, orders)
    share_of = {o.id: float(wo) for o, wo in zip(orders, weight, strict=True)}
    w = weight[order]
    cum = np.cumsum(w) - w / 2
    sector = np.minimum(
        (cum * k / cum[-1] if cum[-1] > 0 else np.zeros_like(cum)).astype(int), k - 1
    )
    members: list[list[Order]] = [[] for _ in range(k)]
    for pos, i in enumerate(order):
        members[int(sector[pos])].append(orders[int(i)])
    members = [m for m in members if m]
    k = len(members)
    # Vehicles: each class (type, depots, shift) shared out in proportion to the
    # demand it can serve in each sector (cumulative rounding keeps the total).
    classes: dict[tuple[object, ...], list[Vehicle]] = {}
    for v in fleet:
        classes.setdefault((v.type, v.start_depot, v.end_depot, v.shift), []).append(v)
    crews: list[list[Vehicle]] = [[] for _ in range(k)]
    for c, same in enumerate(classes.values()):
        share = np.array(
            [sum(share_of[o.id] for o in m if _can_carry(problem, same[0], o)) for m in members]
        )
        if share.sum() <= 0:
            share = np.array([float(len(m)) for m in members])
        # Offset per class so that rounding favours different sectors.
        targets = np.floor(np.cumsum(share) / share.sum() * len(same) + (c % 7 + 1) / 8)
        counts = np.diff(np.concatenate([[0.0], np.minimum(targets, len(same))])).astype(int)
        counts[-1] += len(same) - int(counts.sum())
        at = 0
        for p, n in enumerate(counts):
            crews[p] += same[at : at + int(n)]
            at += int(n)
    # Sectors left without a vehicle join their neighbour.
    p = 0
    while p < len(members) and len(members) > 1:
        if crews[p]:
            p += 1
            continue
        q = p + 1 if p + 1 < len(members) else p - 1
        members[q] += members.pop(p)
        crews[q] += crews.pop(p)
        p = 0
    return [
        Part(tuple(o.id for o in m), tuple(v.id for v in c), site)
        for m, c in zip(members, crews, strict=True)
        if m or c
    ]


# -- one part as a problem ------------------------------------------------------------------


@dataclass(frozen=True)
class PartSpec:
    """What a worker needs to plan one part: small and picklable.

    Locations are the part's own (depots first, then its stops); each
    profile's matrix is either the part's points (a
    :class:`~lastmile.travel.lazy.CoordinateMatrix`, made dense in the worker)
    or the part's rows of a given matrix in the narrowest unsigned type.
    ``start`` holds the routes to start from, as steps per vehicle.
    """

    index: int
    locations: tuple[Location, ...]
    depots: tuple[Any, ...]
    vehicles: tuple[Vehicle, ...]
    orders: tuple[Order, ...]
    dimensions: tuple[str, ...]
    matrices: dict[str, CoordinateMatrix | tuple[npt.NDArray[Any], npt.NDArray[Any]]]
    name: str = ""
    time_scale: int = 1
    travel_note: str = ""
    cost_waiting: bool = False
    start: tuple[tuple[str, int | None, tuple[Step, ...]], ...] = ()

    def build(self) -> PlanningProblem:
        """The part as a :class:`PlanningProblem` with dense int64 matrices."""
        matrices: dict[str, TravelMatrix] = {}
        for profile, m in self.matrices.items():
            if isinstance(m, CoordinateMatrix):
                every = np.arange(m.size)
                dur, dist = m.block(every, every)
            else:
                dur, dist = m
            matrices[profile] = TravelMatrix(durations=dur, distances=dist)
        return PlanningProblem(
            locations=self.locations,
            matrices=matrices,
            depots=self.depots,
            vehicles=self.vehicles,
            orders=self.orders,
            dimensions=self.dimensions,
            name=self.name,
            time_scale=self.time_scale,
            travel_note=self.travel_note,
            cost_waiting=self.cost_waiting,
        )


def part_spec(
    problem: PlanningProblem,
    part: Part,
    *,
    index: int = 0,
    start: Sequence[Route] = (),
) -> tuple[PartSpec, npt.NDArray[np.int64]]:
    """The spec of ``part`` and the map from its location indices to ``problem``'s."""
    keep: dict[int, int] = {}
    for d in problem.depots:
        keep.setdefault(d.location, len(keep))
    orders = [problem.order(oid) for oid in part.orders]
    for o in orders:
        for s in o.stops:
            keep.setdefault(s.location, len(keep))
    index_map = np.fromiter(keep, dtype=np.int64, count=len(keep))
    depots = tuple(dataclasses.replace(d, location=keep[d.location]) for d in problem.depots)
    local_orders = tuple(
        dataclasses.replace(
            o,
            pickup=dataclasses.replace(o.pickup, location=keep[o.pickup.location])
            if o.pickup is not None
            else None,
            delivery=dataclasses.replace(o.delivery, location=keep[o.delivery.location])
            if o.delivery is not None
            else None,
        )
        for o in orders
    )
    by_id = {v.id: v for v in problem.vehicles}
    vehicles = tuple(by_id[vid] for vid in part.vehicles)
    profiles = {v.type.profile for v in vehicles} or set(problem.matrices)
    matrices: dict[str, CoordinateMatrix | tuple[npt.NDArray[Any], npt.NDArray[Any]]] = {}
    for profile in profiles:
        m = problem.matrices[profile]
        if isinstance(m, CoordinateMatrix):
            matrices[profile] = m.subset(index_map)
        else:
            rows = np.ix_(index_map, index_map)
            matrices[profile] = (narrow(m.durations[rows]), narrow(m.distances[rows]))
    steps = tuple(
        (
            r.vehicle_id,
            r.visits[0].departure if r.visits and r.visits[0].kind is VisitKind.START else None,
            tuple(
                Step(v.kind, order_id=v.order_id, break_id=v.break_id, depot=v.depot)
                for v in r.visits
                if v.kind not in (VisitKind.START, VisitKind.END)
            ),
        )
        for r in start
    )
    spec = PartSpec(
        index=index,
        locations=tuple(problem.locations[i] for i in index_map),
        depots=depots,
        vehicles=vehicles,
        orders=local_orders,
        dimensions=problem.dimensions,
        matrices=matrices,
        name=f"{problem.name} part {index + 1}",
        time_scale=problem.time_scale,
        travel_note=problem.travel_note,
        cost_waiting=problem.cost_waiting,
        start=steps,
    )
    return spec, index_map


def to_global(route: Route, index_map: npt.NDArray[np.int64]) -> Route:
    """``route`` of a part, in the whole problem's location indices."""
    visits = tuple(
        Visit(
            v.kind,
            int(index_map[v.location]),
            v.arrival,
            v.start,
            v.departure,
            v.load,
            v.distance,
            v.travel,
            v.order_id,
            v.break_id,
            v.depot,
        )
        for v in route.visits
    )
    return Route(route.vehicle_id, visits, route.cost)


def border_groups(
    problem: PlanningProblem,
    planned: dict[str, Route],
    working: Sequence[Vehicle],
    part_stops: int,
    offset: float,
) -> list[tuple[Part, list[Route]]]:
    """Groups of neighbouring routes straddling the borders of the last cut,
    with the left-out orders nearest to them and the idle vehicles they need."""
    from scipy.spatial import cKDTree

    xy = location_points(problem)
    routes = list(planned.values())
    served = {v.order_id for r in routes for v in r.visits if v.order_id}
    left_out = [o for o in problem.orders if o.id not in served]
    idle = [v for v in working if v.id not in planned]
    if not routes:
        # Nothing planned yet (every part failed): cut the day again.
        return [
            (p, [])
            for p in partition(problem, part_stops=part_stops, vehicles=working)
            if p.vehicles
        ]
    by_vehicle = {v.id: v for v in problem.vehicles}
    stops_xy = [xy[[v.location for v in r.tasks]] for r in routes]
    centroids = np.array([s.mean(axis=0) for s in stops_xy])
    homes = [_vehicle_home(problem, by_vehicle[r.vehicle_id]) for r in routes]
    centre = (
        np.mean([xy[h] for h in homes if h is not None], axis=0)
        if any(h is not None for h in homes)
        else centroids.mean(axis=0)
    )
    rel = centroids - centre
    order = np.argsort(np.arctan2(rel[:, 1], rel[:, 0]), kind="stable")
    sizes = np.array([len(r.tasks) for r in routes])
    per_route = max(1.0, float(sizes.mean()))
    g = max(1, round(part_stops / per_route))
    n_groups = max(1, math.ceil(len(routes) / g))
    shift = round(offset * g) % len(routes)
    order = np.roll(order, -shift)
    group_of_route = np.zeros(len(routes), dtype=np.int64)
    for pos, r in enumerate(order):
        group_of_route[r] = min(pos // g, n_groups - 1)
    members: list[list[str]] = [[] for _ in range(n_groups)]
    crews: list[list[str]] = [[] for _ in range(n_groups)]
    starts: list[list[Route]] = [[] for _ in range(n_groups)]
    for r, route in enumerate(routes):
        gi = int(group_of_route[r])
        members[gi] += [o for o in dict.fromkeys(v.order_id for v in route.tasks) if o]
        crews[gi].append(route.vehicle_id)
        starts[gi].append(route)
    # Left-out orders join the group of the route passing nearest (k-d tree of
    # every routed stop); idle vehicles go where those orders are.
    need = np.zeros(n_groups)
    if left_out:
        owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(stops_xy)])
        tree = cKDTree(np.concatenate(stops_xy))
        anchors = np.array([_order_anchor(o, xy) for o in left_out])
        _, nearest = tree.query(anchors, k=1)
        for o, stop_index in zip(left_out, np.atleast_1d(nearest), strict=True):
            gi = int(group_of_route[owner[int(stop_index)]])
            members[gi].append(o.id)
            need[gi] += len(o.stops)
    load = need / max(1.0, need.sum()) if need.sum() > 0 else np.full(n_groups, 1 / n_groups)
    targets = np.floor(np.cumsum(load) * len(idle) + 0.5).astype(int)
    at = 0
    for gi, t in enumerate(targets):
        crews[gi] += [v.id for v in idle[at:t]]
        at = t
    return [
        (Part(tuple(m), tuple(c)), s)
        for m, c, s in zip(members, crews, starts, strict=True)
        if m and c
    ]
