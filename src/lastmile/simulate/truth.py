"""How long a leg really takes in the digital twin, before noise and weather.

The twin asks a :class:`TrueTravel` for every leg it drives, at the time it
drives it. Two are built in:

* :class:`MatrixTruth`: the problem's own matrices (what the plan was made
  with), optionally with true speeds differing from the planned ones by a
  factor. Positions are straight lines between the stops (when they have
  longitude and latitude).
* :class:`NetworkTruth`: the time-dependent road network
  (:class:`~lastmile.travel.time_dependent.BoundModel` per routing profile):
  each leg is the exact time-dependent fastest path leaving when the vehicle
  leaves, and comes with its network edges and road geometry.

Closed roads (:class:`Closures`) are the twin's; the truths read them: a
closed pair of matrix rows is slowed, a closed network edge is driven around.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lastmile.domain import Location, Vehicle
from lastmile.exceptions import InputError
from lastmile.travel.matrix import TravelMatrix
from lastmile.travel.time_dependent import BoundModel, TimeDependentModel

Floats = npt.NDArray[np.float64]

#: Free-flow seconds given to a closed edge: the fastest path avoids it when it can.
_CLOSED_S = 1.0e6


@dataclass(frozen=True)
class Geometry:
    """Where a leg goes: points (lon/lat) and the share of the leg's time at each.

    ``share`` rises from 0 at the origin to 1 at the destination. ``edges`` are
    the network edges driven (empty off a network); ``road_share`` the shares
    at which the road part begins and ends (between them: the edges, before
    and after: reaching the road from the stop and back).
    """

    lon: Floats
    lat: Floats
    share: Floats
    edges: tuple[int, ...] = ()
    road_share: tuple[float, float] = (0.0, 1.0)

    def at(self, share: float) -> tuple[float, float]:
        """Longitude and latitude after ``share`` of the leg's time."""
        return (
            float(np.interp(share, self.share, self.lon)),
            float(np.interp(share, self.share, self.lat)),
        )


@dataclass(frozen=True)
class TrueLeg:
    """A leg as it would go without noise or weather: seconds, metres, and where."""

    duration_s: float
    distance_m: float
    geometry: Geometry | None = None


@dataclass
class Closures:
    """Roads closed during the day: matrix pairs slowed, network edges blocked.

    ``pairs[(a, b)]`` lists ``(from_s, until_s, factor)``; ``edges`` lists
    ``(edge ids, from_s, until_s)``.
    """

    pairs: dict[tuple[int, int], list[tuple[int, int, float]]] = field(default_factory=dict)
    edges: list[tuple[frozenset[int], int, int]] = field(default_factory=list)

    def slowdown(self, a: int, b: int, t: float) -> float:
        """How many times longer the pair ``(a, b)`` takes leaving at ``t``."""
        factor = 1.0
        for start, end, f in self.pairs.get((a, b), ()):
            if start <= t < end:
                factor = max(factor, f)
        return factor

    def blocked(self, t: float) -> frozenset[int]:
        """Network edges closed at ``t``."""
        out: set[int] = set()
        for edges, start, end in self.edges:
            if start <= t < end:
                out |= edges
        return frozenset(out)


class TrueTravel(Protocol):
    """The true travel of a day, asked leg by leg."""

    @property
    def description(self) -> str: ...

    def leg(self, vehicle: Vehicle, a: int, b: int, depart_s: float, closures: Closures) -> TrueLeg:
        """Leg from matrix row ``a`` to row ``b`` leaving at ``depart_s``."""
        ...

    def close(
        self, vehicle: Vehicle, a: int, b: int, at_s: int, until_s: int, closures: Closures
    ) -> str | None:
        """Close a road on the leg ``a`` -> ``b`` from ``at_s`` to ``until_s``
        (added to ``closures``); what was closed, in words, or None if nothing could be."""
        ...


def _straight(locations: tuple[Location, ...], a: int, b: int) -> Geometry | None:
    la, lb = locations[a], locations[b]
    if not (la.is_geographic and lb.is_geographic):
        return None
    return Geometry(
        np.array([la.lon, lb.lon], dtype=np.float64),
        np.array([la.lat, lb.lat], dtype=np.float64),
        np.array([0.0, 1.0]),
    )


class MatrixTruth:
    """The problem's matrices as the truth, true speeds ``speed_factor`` times the
    planned ones (1.0: exactly as planned). ``slowdown`` is how much a closed
    pair of rows slows (matrices know no roads to drive around)."""

    def __init__(
        self,
        matrices: Mapping[str, TravelMatrix],
        locations: tuple[Location, ...],
        *,
        speed_factor: float = 1.0,
        slowdown: float = 3.0,
    ) -> None:
        if not (math.isfinite(speed_factor) and speed_factor > 0):
            raise InputError(f"must be a positive number, got {speed_factor}", where="speed_factor")
        if not (math.isfinite(slowdown) and slowdown >= 1):
            raise InputError(f"must be at least 1, got {slowdown}", where="slowdown")
        self.matrices = dict(matrices)
        self.locations = locations
        self.speed_factor = speed_factor
        self.slowdown = slowdown

    @property
    def description(self) -> str:
        speed = "" if self.speed_factor == 1 else f" at x{self.speed_factor:g} the planned speed"
        return f"the plan's travel matrices{speed}"

    def leg(self, vehicle: Vehicle, a: int, b: int, depart_s: float, closures: Closures) -> TrueLeg:
        m = self.matrices[vehicle.type.profile]
        seconds = float(m.durations[a, b]) / self.speed_factor
        return TrueLeg(
            seconds * closures.slowdown(a, b, depart_s),
            float(m.distances[a, b]),
            _straight(self.locations, a, b) if a != b else None,
        )

    def close(
        self, vehicle: Vehicle, a: int, b: int, at_s: int, until_s: int, closures: Closures
    ) -> str | None:
        if a == b:
            return None
        for pair in ((a, b), (b, a)):
            closures.pairs.setdefault(pair, []).append((at_s, until_s, self.slowdown))
        return f"the way between rows {a} and {b} slowed x{self.slowdown:g}"


@dataclass(frozen=True)
class _Graph:
    """A road graph with some edges' free-flow times changed (the RoadGraph protocol)."""

    edge_tail: npt.NDArray[np.int64]
    edge_head: npt.NDArray[np.int64]
    edge_length_m: Floats
    edge_freeflow_s: Floats
    edge_class: npt.NDArray[np.int64]
    class_names: tuple[str, ...]
    node_lon: Floats
    node_lat: Floats


class NetworkTruth:
    """Exact time-dependent travel on a road network, one bound model per profile.

    ``legs[vehicle.type.profile]`` is a
    :class:`~lastmile.travel.time_dependent.BoundModel` over the problem's
    locations (the one planning used, or one with other true speeds). A leg is
    the time-dependent fastest path between the rows' snapped nodes, plus the
    access gaps at both ends, as :meth:`BoundModel.matrix_rows` counts them.
    """

    def __init__(
        self, legs: Mapping[str, BoundModel], locations: tuple[Location, ...] = ()
    ) -> None:
        if not legs:
            raise InputError("needs a bound model per profile", where="truth")
        self.legs = dict(legs)
        self.locations = tuple(locations)
        self._blocked: dict[tuple[int, frozenset[int]], TimeDependentModel] = {}
        self._frozen: dict[tuple[int, int], Floats] = {}

    @property
    def description(self) -> str:
        first = next(iter(self.legs.values()))
        return first.model.description

    @property
    def epoch(self) -> dt.datetime:
        """The models' epoch: times count in seconds from it."""
        return next(iter(self.legs.values())).model.epoch

    @property
    def day(self) -> dt.date:
        return self.epoch.date()

    def bound(self, vehicle: Vehicle) -> BoundModel:
        """The model of the vehicle's profile (``van@09:00``, a time-dependent plan's
        profile per departure, drives as ``van``)."""
        name = vehicle.type.profile
        found = self.legs.get(name) or self.legs.get(name.split("@", 1)[0])
        if found is None:
            raise InputError(f"no road model for profile {name!r}", where="truth")
        return found

    def _model(self, bound: BoundModel, blocked: frozenset[int]) -> TimeDependentModel:
        model = bound.model
        if not blocked:
            return model
        key = (id(model), blocked)
        found = self._blocked.get(key)
        if found is None:
            net = model.network
            freeflow = np.array(net.edge_freeflow_s, dtype=np.float64)
            freeflow[list(blocked)] = _CLOSED_S
            graph = _Graph(
                np.asarray(net.edge_tail, dtype=np.int64),
                np.asarray(net.edge_head, dtype=np.int64),
                np.asarray(net.edge_length_m, dtype=np.float64),
                freeflow,
                np.asarray(net.edge_class, dtype=np.int64),
                tuple(net.class_names),
                np.asarray(net.node_lon, dtype=np.float64),
                np.asarray(net.node_lat, dtype=np.float64),
            )
            horizon = max(1, model.multipliers.shape[1] // model.traffic.slices_per_day)
            found = TimeDependentModel(
                graph,
                model.traffic,
                model.weather,
                epoch=model.epoch,
                weather_table=model.weather_table,
                holidays=model.holidays,
                horizon_days=horizon,
                access_speed_kph=model.access_speed_mps * 3.6,
            )
            self._blocked[key] = found
        return found

    def _edge_times(self, model: TimeDependentModel, t: float) -> Floats:
        """Per-edge seconds at ``t`` (frozen per traffic slice), to spread a leg's time."""
        key = (id(model), int(t // model.traffic.slice_s))
        found = self._frozen.get(key)
        if found is None:
            found = model.frozen_edge_times(t)
            if len(self._frozen) > 256:
                self._frozen.clear()
            self._frozen[key] = found
        return found

    def leg(self, vehicle: Vehicle, a: int, b: int, depart_s: float, closures: Closures) -> TrueLeg:
        bound = self.bound(vehicle)
        if a == b:
            return TrueLeg(0.0, 0.0, None)
        blocked = closures.blocked(depart_s)
        model = self._model(bound, blocked)
        net = bound.model.network
        na, nb = int(bound.nodes[a]), int(bound.nodes[b])
        access_a, access_b = float(bound.access_s[a]), float(bound.access_s[b])
        if na == nb:
            edges: list[int] = []
            road_s = 0.0
        else:
            edges, arrival = model.fastest_path(na, nb, depart_s + access_a)
            if not blocked.isdisjoint(edges):
                # No way around (a dead end behind the closure): drive through it.
                model = bound.model
                edges, arrival = model.fastest_path(na, nb, depart_s + access_a)
            road_s = arrival - (depart_s + access_a)
        total = access_a + road_s + access_b
        lengths = np.asarray(net.edge_length_m, dtype=np.float64)
        distance = float(bound.gap_m[a] + lengths[edges].sum() + bound.gap_m[b])
        node_lon = np.asarray(net.node_lon, dtype=np.float64)
        node_lat = np.asarray(net.node_lat, dtype=np.float64)
        if edges:
            idx = np.asarray(edges, dtype=np.int64)
            nodes = np.concatenate([[na], np.asarray(net.edge_head, dtype=np.int64)[idx]])
            step = self._edge_times(model, depart_s + access_a)[idx]
            cum = np.concatenate([[0.0], np.cumsum(step)])
            road = cum / cum[-1] * road_s if cum[-1] > 0 else cum
        else:
            nodes = np.array([na], dtype=np.int64)
            road = np.zeros(1)
        start = self._location(bound, a, node_lon, node_lat)
        end = self._location(bound, b, node_lon, node_lat)
        lon = np.concatenate([[start[0]], node_lon[nodes], [end[0]]])
        lat = np.concatenate([[start[1]], node_lat[nodes], [end[1]]])
        seconds = np.concatenate([[0.0], access_a + road, [total]])
        share = seconds / total if total > 0 else np.linspace(0.0, 1.0, len(seconds))
        geometry = Geometry(
            lon,
            lat,
            share,
            tuple(int(e) for e in edges),
            (float(share[1]), float(share[-2])),
        )
        return TrueLeg(total, distance, geometry)

    def _location(
        self, bound: BoundModel, row: int, node_lon: Floats, node_lat: Floats
    ) -> tuple[float, float]:
        """Where row ``row`` is: its own coordinates when known, else its snapped node."""
        if row < len(self.locations):
            loc = self.locations[row]
            if loc.lon is not None and loc.lat is not None and not loc.planar:
                return float(loc.lon), float(loc.lat)
        node = int(bound.nodes[row])
        return float(node_lon[node]), float(node_lat[node])

    def close(
        self, vehicle: Vehicle, a: int, b: int, at_s: int, until_s: int, closures: Closures
    ) -> str | None:
        bound = self.bound(vehicle)
        na, nb = int(bound.nodes[a]), int(bound.nodes[b])
        if na == nb:
            return None
        model = self._model(bound, closures.blocked(at_s))
        edges, _ = model.fastest_path(na, nb, at_s)
        net = bound.model.network
        tail = np.asarray(net.edge_tail, dtype=np.int64)
        head = np.asarray(net.edge_head, dtype=np.int64)
        # From the middle of the path outwards: the first edge with a way around it.
        middle = len(edges) // 2
        order = sorted(range(len(edges)), key=lambda i: abs(i - middle))
        for i in order:
            e = edges[i]
            u, v = int(tail[e]), int(head[e])
            same = ((tail == u) & (head == v)) | ((tail == v) & (head == u))
            both = frozenset(int(x) for x in np.flatnonzero(same))
            trial = self._model(bound, closures.blocked(at_s) | both)
            around, arrival = trial.fastest_path(na, nb, at_s)
            if both.isdisjoint(around) and math.isfinite(arrival):
                closures.edges.append((both, at_s, until_s))
                lon = float((net.node_lon[u] + net.node_lon[v]) / 2)
                lat = float((net.node_lat[u] + net.node_lat[v]) / 2)
                road = net.class_names[int(net.edge_class[e])]
                return f"{road} road closed near {lon:.5f},{lat:.5f} (edges {sorted(both)})"
        return None
