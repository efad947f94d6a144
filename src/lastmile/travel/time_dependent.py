"""Time-dependent travel on a road network: traffic and weather through the day.

Model. Every edge ``e`` has a free-flow time ``tau_e`` (seconds at free-flow
speed). At time ``t`` traffic moves at ``m_c(t) = traffic(day type, class c, slice)
* weather(t)`` times free-flow speed, piecewise constant over the traffic slices
(15 minutes by default; weather is sampled at each slice's midpoint). Entering
``e`` at ``t``, a vehicle leaves at the ``t'`` where the covered share of the
edge reaches one::

    integral from t to t' of m_c(s) ds = tau_e

so a speed change at a slice boundary in the middle of an edge is integrated
exactly. With ``F_c(t) = integral of m_c`` (piecewise linear, strictly
increasing) this is ``t' = F_c^-1(F_c(t) + tau_e)``: two table look-ups,
vectorised over edges. Since ``F_c`` increases, leaving later never means
arriving earlier (FIFO), for edges and for whole paths.

Routing. :meth:`TimeDependentModel.earliest_arrivals` is an exact
time-dependent shortest-path search (label-correcting, vectorised over many
sources at once; exact because travel is FIFO). The alternative, "take the
free-flow fastest path and re-time it", is available as
:meth:`TimeDependentModel.freeflow_path_duration` to measure what it loses
(docs/traffic.md).

Locations are snapped to the nearest node of the network's largest strongly
connected component; the straight-line gap is driven at ``access_speed_kph``
at both ends, independently of traffic.

Held speeds at city scale. :meth:`BoundModel.frozen_matrix` (and
:meth:`TimeDependentModel.slice_matrix`) hold one slice's speeds on every leg:
a static matrix. On a :class:`~lastmile.travel.network.RoadNetwork` of at least
``ch_min_nodes`` nodes it goes through the network's customizable contraction
hierarchy: the metric-independent part is built once (and cached on disk), each
slice costs one customization plus the many-to-many query. The exact search
above is unchanged.

Horizon. Speeds are tabulated from local midnight of the epoch's day for
``horizon_days`` days; before and after, the first and last slices' speeds
extend indefinitely.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from lastmile.domain import Location
from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError
from lastmile.travel.matrix import TravelMatrix
from lastmile.travel.traffic import TrafficProfile, day_type_of
from lastmile.travel.weather import StaticWeather, WeatherSource, WeatherTable

try:  # the compiled search; the vectorised numpy one below is the fallback
    from lastmile.travel import _time_dependent_kernels
except ImportError:  # pragma: no cover - numba missing
    _time_dependent_kernels = None  # type: ignore[assignment]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Extension of the speed table beyond its horizon (s); far enough for any leg.
_FAR_S = 1.0e7
#: Offsets separating the per-class blocks of the stacked look-up tables.
_OFFSET = 1.0e8
#: Improvements smaller than this (s) do not reopen a node: float noise, not a better path.
_EPS_S = 1e-6
#: Serialises calls into the compiled (multi-threaded) search.
_KERNEL_LOCK = threading.Lock()
#: Most (source, node) labels held at once by a search; sources are chunked beyond.
_MAX_LABELS = 8_000_000
#: Up to this many sources a search runs in the calling thread, not the thread pool.
_SERIAL_SOURCES = 4
#: Most pair durations :meth:`TimeDependentModel.pair_seconds` remembers (then it starts afresh).
_MAX_PAIRS = 200_000
#: From this many nodes on, held-speed matrices use the road network's contraction hierarchy.
CH_MIN_NODES = 50_000


class RoadGraph(Protocol):
    """What a road network must provide: a directed graph with per-edge attributes.

    Edges ``e`` go from node ``edge_tail[e]`` to ``edge_head[e]``, are
    ``edge_length_m[e]`` long and take ``edge_freeflow_s[e]`` at free-flow speed;
    ``class_names[edge_class[e]]`` is their road class (OSM ``highway`` value).
    """

    @property
    def edge_tail(self) -> npt.NDArray[Any]: ...
    @property
    def edge_head(self) -> npt.NDArray[Any]: ...
    @property
    def edge_length_m(self) -> npt.NDArray[Any]: ...
    @property
    def edge_freeflow_s(self) -> npt.NDArray[Any]: ...
    @property
    def edge_class(self) -> npt.NDArray[Any]: ...
    @property
    def class_names(self) -> Sequence[str]: ...
    @property
    def node_lon(self) -> npt.NDArray[Any]: ...
    @property
    def node_lat(self) -> npt.NDArray[Any]: ...


@dataclass(frozen=True)
class Arrivals:
    """Result of a search from ``S`` sources: arrays of shape ``(S, num_nodes)``.

    ``arrival`` is the earliest arrival time (seconds since the epoch, ``inf``
    where unreachable), ``length_m`` the length of that path, ``pred_edge`` the
    last edge on it (-1 at the source and where unreachable).
    """

    arrival: FloatArray
    length_m: FloatArray
    pred_edge: IntArray


def _wall(t: dt.datetime, like: dt.datetime) -> dt.datetime:
    """``t`` compared on ``like``'s clock (naive stays naive, aware converts)."""
    if like.tzinfo is None:
        return t.replace(tzinfo=None)
    return t.astimezone(like.tzinfo) if t.tzinfo is not None else t.replace(tzinfo=like.tzinfo)


class TimeDependentModel:
    """Travel times on ``network`` under ``traffic`` and ``weather``, from ``epoch`` on.

    Times (arguments and results) are seconds since ``epoch`` (a naive local or
    timezone-aware datetime; the traffic slices follow its wall clock). The
    model implements the :class:`~lastmile.travel.TravelModel` protocol.
    """

    def __init__(
        self,
        network: RoadGraph,
        traffic: TrafficProfile | None = None,
        weather: WeatherSource | None = None,
        *,
        epoch: dt.datetime,
        weather_table: WeatherTable | None = None,
        holidays: Iterable[dt.date] = (),
        horizon_days: int = 2,
        access_speed_kph: float = 15.0,
        departure_s: int = 0,
    ) -> None:
        if horizon_days < 1:
            raise InputError(f"must be >= 1, got {horizon_days}", where="horizon_days")
        if access_speed_kph <= 0:
            raise InputError(f"must be > 0, got {access_speed_kph}", where="access_speed_kph")
        self.network = network
        self.traffic = traffic or TrafficProfile.default()
        self.weather = weather or StaticWeather()
        self.weather_table = weather_table or WeatherTable()
        self.epoch = epoch
        self.holidays = frozenset(holidays)
        self.access_speed_mps = access_speed_kph / 3.6
        #: Departure used by :meth:`matrix` when none is given (s since the epoch).
        self.departure_s = departure_s

        # Own writable copies: the compiled search would otherwise be compiled once more
        # for read-only arrays.
        self._tail = np.array(network.edge_tail, dtype=np.int64)
        self._head = np.array(network.edge_head, dtype=np.int64)
        self._length = np.array(network.edge_length_m, dtype=np.float64)
        self._freeflow = np.array(network.edge_freeflow_s, dtype=np.float64)
        self.num_nodes = len(network.node_lon)
        self.num_edges = len(self._tail)
        if not (len(self._head) == len(self._length) == len(self._freeflow) == self.num_edges):
            raise InputError("edge arrays differ in length", where="network")
        if self.num_edges and (self._freeflow < 0).any():
            raise InputError("negative free-flow time", where="network.edge_freeflow_s")
        class_rows = self.traffic.class_rows(list(network.class_names))
        self._edge_row = class_rows[np.asarray(network.edge_class, dtype=np.int64)]

        order = np.argsort(self._tail, kind="stable")
        self._csr_edges = order.astype(np.int64)
        counts = np.bincount(self._tail, minlength=self.num_nodes)
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

        self._build_timeline(horizon_days)
        self._component: IntArray | None = None
        #: Use the compiled search when numba is there (tests switch it off to compare).
        self.use_kernel = _time_dependent_kernels is not None
        self._kdtree: cKDTree | None = None
        self._lat0: float | None = None
        #: Snapped points by (lon, lat), see :meth:`snap_known`.
        self._snapped: dict[tuple[float, float], tuple[int, float]] = {}
        self._snap_lock = threading.Lock()
        self._static_cache: dict[float, tuple[csr_matrix, dict[tuple[int, int], int]]] = {}
        #: Seconds from node to node by speed slice, and by departure for trips that
        #: leave their slice (see :meth:`pair_seconds`).
        self._pairs: dict[tuple[int, int, int], float] = {}
        self._pairs_at: dict[tuple[int, int, float], float] = {}
        self._pairs_lock = threading.Lock()
        #: Held-speed matrices go through the contraction hierarchy from this many nodes on
        #: (when the network is a ``RoadNetwork``; tests lower it to compare).
        self.ch_min_nodes = CH_MIN_NODES

    # -- speeds over time -----------------------------------------------------------------

    def _build_timeline(self, horizon_days: int) -> None:
        traffic = self.traffic
        slot_s = traffic.slice_s
        midnight = self.epoch.replace(hour=0, minute=0, second=0, microsecond=0)
        self._offset_s = (self.epoch - midnight).total_seconds()
        per_day = traffic.slices_per_day
        n_slots = per_day * horizon_days
        series = self.weather.forecast(
            start=midnight, end=midnight + dt.timedelta(days=horizon_days)
        )
        weather = np.empty(n_slots)
        days = []
        for d in range(horizon_days):
            day = (midnight + dt.timedelta(days=d)).date()
            days.append(traffic.day_index(day_type_of(day, holidays=self.holidays)))
        for k in range(n_slots):
            mid = midnight + dt.timedelta(seconds=(k + 0.5) * slot_s)
            conds = series.conditions_at(_wall(mid, mid) if series.is_aware else mid)
            weather[k] = self.weather_table.multiplier(conds)
        self.weather_multipliers = weather
        n_rows = len(traffic.road_classes)
        mult = np.empty((n_rows, n_slots))
        for d, day_idx in enumerate(days):
            mult[:, d * per_day : (d + 1) * per_day] = traffic.factors[day_idx]
        mult *= weather[None, :]
        self.multipliers = mult
        self._cum = np.ascontiguousarray(
            np.concatenate(
                [np.zeros((n_rows, 1)), np.cumsum(mult * slot_s, axis=1)[:, :-1]], axis=1
            )
        )
        # Grid in seconds since the epoch, padded with far points at both ends.
        grid = np.arange(n_slots + 1) * float(slot_s) - self._offset_s
        xs = np.concatenate([[grid[0] - _FAR_S], grid, [grid[-1] + _FAR_S]])
        self._grid0 = float(grid[0])
        self._slot_s = float(slot_s)
        x_blocks, y_blocks = [], []
        for c in range(n_rows):
            f = np.concatenate([[0.0], np.cumsum(mult[c] * slot_s)])
            f = np.concatenate([[-_FAR_S * mult[c, 0]], f, [f[-1] + _FAR_S * mult[c, -1]]])
            x_blocks.append(xs + c * _OFFSET)
            y_blocks.append(f + c * _OFFSET)
        self._x = np.concatenate(x_blocks)
        self._y = np.concatenate(y_blocks)

    def speed_multiplier(self, road_class: str, t: float) -> float:
        """Traffic x weather multiplier on free-flow speed for ``road_class`` at time ``t``."""
        row = self.traffic.class_index(road_class)
        k = int(np.clip((t - self._grid0) // self._slot_s, 0, self.multipliers.shape[1] - 1))
        return float(self.multipliers[row, k])

    # -- edges and paths ------------------------------------------------------------------

    def edge_exit_times(self, edges: npt.ArrayLike, enter_s: npt.ArrayLike) -> FloatArray:
        """Time each vehicle leaves edge ``edges[i]`` having entered it at ``enter_s[i]``."""
        e = np.asarray(edges, dtype=np.int64)
        t = np.asarray(enter_s, dtype=np.float64)
        off = self._edge_row[e] * _OFFSET
        covered = np.interp(t + off, self._x, self._y) + self._freeflow[e]
        out = np.interp(covered, self._y, self._x) - off
        return np.maximum(out, t)

    def path_arrival(self, edges: Sequence[int] | IntArray, depart_s: float) -> float:
        """Arrival time at the end of the path ``edges`` (edge indices) leaving at ``depart_s``."""
        t = np.array([float(depart_s)])
        for e in np.asarray(edges, dtype=np.int64):
            t = self.edge_exit_times(np.array([e]), t)
        return float(t[0])

    def path_duration(self, edges: Sequence[int] | IntArray, depart_s: float) -> float:
        """Seconds to drive the path ``edges`` leaving at ``depart_s``."""
        return self.path_arrival(edges, depart_s) - float(depart_s)

    def frozen_edge_times(self, t: float) -> FloatArray:
        """Per-edge seconds if speeds stayed as they are at time ``t``."""
        k = int(np.clip((t - self._grid0) // self._slot_s, 0, self.multipliers.shape[1] - 1))
        times: FloatArray = self._freeflow / self.multipliers[self._edge_row, k]
        return times

    # -- searches -------------------------------------------------------------------------

    def _slot_of(self, t: float) -> tuple[int, float]:
        """The speed slice holding time ``t`` (the kernel's numbering: the first
        and last slices extend without end) and when it ends."""
        n_slots = self.multipliers.shape[1]
        k = 0 if t <= self._grid0 else min(int((t - self._grid0) / self._slot_s), n_slots - 1)
        end = math.inf if k == n_slots - 1 else self._grid0 + (k + 1) * self._slot_s
        return k, end

    def pair_seconds(
        self, sources: npt.ArrayLike, depart_s: npt.ArrayLike, targets: npt.ArrayLike
    ) -> FloatArray:
        """Seconds from node ``sources[i]`` to node ``targets[i]`` leaving at
        ``depart_s[i]``: :meth:`earliest_arrivals`' figures, pair by pair (``inf``
        where unreachable).

        Speeds are constant within a traffic slice, so a trip that starts and ends
        in one slice follows the fastest path of that slice's speeds and takes as
        long from any departure in the slice that still arrives in it. Such
        durations are remembered, per model, pair of nodes and slice, and used
        again for departures where they hold (equal up to float rounding); the
        others are remembered for their exact departure (a stop's window often
        sets it). Only pairs not known so are searched, in one call. The model is
        shared by the whole process (it is travel on roads, nobody's data)."""
        src = np.atleast_1d(np.asarray(sources, dtype=np.int64))
        dep = np.broadcast_to(np.asarray(depart_s, dtype=np.float64), src.shape)
        tgt = np.broadcast_to(np.asarray(targets, dtype=np.int64), src.shape)
        out = np.empty(len(src))
        pairs, pairs_at = self._pairs, self._pairs_at
        todo: list[int] = []
        slots: list[tuple[int, float]] = []
        for i, (a, t, b) in enumerate(zip(src.tolist(), dep.tolist(), tgt.tolist(), strict=True)):
            k, end = self._slot_of(t)
            slots.append((k, end))
            if a == b:
                out[i] = 0.0
                continue
            known = pairs.get((a, b, k))
            if known is not None and t + known <= end:
                out[i] = known
            elif (a, b, t) in pairs_at:
                out[i] = pairs_at[(a, b, t)]
            else:
                todo.append(i)
        if not todo:
            return out
        rows = np.asarray(todo, dtype=np.int64)
        found = self.earliest_arrivals(src[rows], dep[rows], targets=np.unique(tgt[rows]))
        seconds = found.arrival[np.arange(len(rows)), tgt[rows]] - dep[rows]
        out[rows] = seconds
        with self._pairs_lock:
            for memo in (pairs, pairs_at):
                if len(memo) + len(rows) > _MAX_PAIRS:
                    memo.clear()
            for i, value in zip(todo, seconds.tolist(), strict=True):
                k, end = slots[i]
                a, b, t = int(src[i]), int(tgt[i]), float(dep[i])
                if t + value <= end:
                    pairs[(a, b, k)] = value
                else:
                    pairs_at[(a, b, t)] = value
        return out

    def earliest_arrivals(
        self,
        sources: npt.ArrayLike,
        depart_s: npt.ArrayLike,
        *,
        targets: npt.ArrayLike | None = None,
    ) -> Arrivals:
        """Exact time-dependent fastest paths from each source leaving at its departure time.

        With ``targets`` the search stops expanding a source once every target's
        arrival is settled (labels beyond the latest target arrival cannot
        improve it); labels of other nodes are then incomplete.
        """
        src = np.atleast_1d(np.asarray(sources, dtype=np.int64))
        dep = np.broadcast_to(np.asarray(depart_s, dtype=np.float64), src.shape).copy()
        tgt = None if targets is None else np.atleast_1d(np.asarray(targets, dtype=np.int64))
        n = self.num_nodes
        if len(src) and (src.min() < 0 or src.max() >= n):
            raise InputError(f"node index out of range [0, {n})", where="sources")
        search = self._kernel_search if self.use_kernel else self._search
        chunk = max(1, _MAX_LABELS // max(1, n))
        if len(src) <= chunk:
            return search(src, dep, tgt)
        parts = [
            search(src[i : i + chunk], dep[i : i + chunk], tgt) for i in range(0, len(src), chunk)
        ]
        return Arrivals(
            np.concatenate([p.arrival for p in parts]),
            np.concatenate([p.length_m for p in parts]),
            np.concatenate([p.pred_edge for p in parts]),
        )

    def _kernel_search(self, src: IntArray, dep: FloatArray, tgt: IntArray | None) -> Arrivals:
        # numba's default thread pool must not be entered from two threads at once.
        with _KERNEL_LOCK:
            return self._kernel_search_locked(src, dep, tgt)

    def _kernel_search_locked(
        self, src: IntArray, dep: FloatArray, tgt: IntArray | None
    ) -> Arrivals:
        kernel = (
            _time_dependent_kernels.earliest_arrivals_serial
            if len(src) <= _SERIAL_SOURCES
            else _time_dependent_kernels.earliest_arrivals
        )
        arrival, length, pred = kernel(
            self._indptr,
            self._csr_edges,
            self._head,
            self._edge_row,
            self._freeflow,
            self._length,
            self._cum,
            self.multipliers,
            self._grid0,
            self._slot_s,
            src,
            dep,
            np.zeros(0, dtype=np.int64) if tgt is None else tgt,
        )
        return Arrivals(arrival, length, pred)

    def _search(self, src: IntArray, dep: FloatArray, tgt: IntArray | None) -> Arrivals:
        """Vectorised label-correcting search (numpy only; exact under FIFO)."""
        n_src, n = len(src), self.num_nodes
        arrival = np.full((n_src, n), np.inf)
        length = np.full((n_src, n), np.inf)
        pred = np.full((n_src, n), -1, dtype=np.int64)
        rows = np.arange(n_src)
        arrival[rows, src] = dep
        length[rows, src] = 0.0
        arr_flat, len_flat, pred_flat = arrival.ravel(), length.ravel(), pred.ravel()
        best = np.full(n_src * n, np.inf)
        f_src, f_node = rows.copy(), src.copy()
        indptr, csr = self._indptr, self._csr_edges
        while len(f_node):
            if tgt is not None:
                bound = arrival[:, tgt].max(axis=1)
                keep = arrival[f_src, f_node] < bound[f_src]
                f_src, f_node = f_src[keep], f_node[keep]
                if not len(f_node):
                    break
            starts = indptr[f_node]
            counts = indptr[f_node + 1] - starts
            total = int(counts.sum())
            if total == 0:
                break
            owner = np.repeat(np.arange(len(f_node)), counts)
            first = np.cumsum(counts) - counts
            edges = csr[np.arange(total) - first[owner] + starts[owner]]
            s = f_src[owner]
            tails = f_node[owner]
            t_out = self.edge_exit_times(edges, arr_flat[s * n + tails])
            key = s * n + self._head[edges]
            # Best candidate per (source, node): scatter-min into a scratch array.
            np.minimum.at(best, key, t_out)
            win = (t_out == best[key]) & (t_out < arr_flat[key] - _EPS_S)
            best[key] = np.inf
            k = key[win]
            arr_flat[k] = t_out[win]
            len_flat[k] = len_flat[s[win] * n + tails[win]] + self._length[edges[win]]
            pred_flat[k] = edges[win]
            f_src, f_node = np.divmod(np.unique(k), n)
        return Arrivals(arrival, length, pred)

    def path_edges(self, arrivals: Arrivals, row: int, target: int) -> list[int]:
        """Edges of the path found by a search, from source ``row`` to ``target``."""
        edges: list[int] = []
        node = int(target)
        for _ in range(self.num_nodes):
            e = int(arrivals.pred_edge[row, node])
            if e < 0:
                break
            edges.append(e)
            node = int(self._tail[e])
        edges.reverse()
        return edges

    def travel_time(self, a: int, b: int, depart_s: float) -> float:
        """Seconds from node ``a`` to node ``b`` leaving at ``depart_s`` (exact, fastest path)."""
        res = self.earliest_arrivals([a], [depart_s], targets=[b])
        return float(res.arrival[0, b] - depart_s)

    def leg_duration(self, a: int, b: int, depart_at: float) -> float:
        """Seconds from node ``a`` to node ``b`` leaving at ``depart_at``.

        Along the time-dependent fastest path (exact search, not the free-flow
        path re-timed; docs/traffic.md measures the difference). For matrix rows
        of a planning problem use :meth:`bind` and :meth:`BoundModel.leg_duration`.
        """
        return self.travel_time(a, b, depart_at)

    def fastest_path(self, a: int, b: int, depart_s: float) -> tuple[list[int], float]:
        """Edges of the time-dependent fastest path from ``a`` to ``b``, and its arrival time."""
        res = self.earliest_arrivals([a], [depart_s], targets=[b])
        if not math.isfinite(res.arrival[0, b]):
            raise InputError(f"node {b} cannot be reached from node {a}", where="path")
        return self.path_edges(res, 0, b), float(res.arrival[0, b])

    def _static_graph(self, weights: FloatArray) -> tuple[csr_matrix, dict[tuple[int, int], int]]:
        # Parallel edges: keep the fastest (csr_matrix would add them up).
        order = np.lexsort((weights, self._head, self._tail))
        t, h = self._tail[order], self._head[order]
        lead = np.ones(len(order), dtype=bool)
        lead[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
        keep = order[lead]
        # csgraph ignores explicit zeros in some paths: keep weights strictly positive.
        w = np.maximum(weights[keep], 1e-6)
        graph = csr_matrix(
            (w, (self._tail[keep], self._head[keep])), shape=(self.num_nodes, self.num_nodes)
        )
        ids = {
            (int(a), int(b)): int(e)
            for a, b, e in zip(self._tail[keep], self._head[keep], keep, strict=True)
        }
        return graph, ids

    def freeflow_path_duration(self, a: int, b: int, depart_s: float) -> float:
        """Seconds along the free-flow fastest path from ``a`` to ``b``, re-timed exactly.

        The cheaper alternative to :meth:`travel_time` (a static search, then
        the time-dependent model on that one path); never shorter than it.
        """
        if 0.0 not in self._static_cache:
            self._static_cache[0.0] = self._static_graph(self._freeflow)
        graph, ids = self._static_cache[0.0]
        _, pred = dijkstra(graph, indices=[a], return_predecessors=True)
        nodes = [int(b)]
        while nodes[-1] != a:
            p = int(pred[0, nodes[-1]])
            if p < 0:
                raise InputError(f"node {b} cannot be reached from node {a}", where="path")
            nodes.append(p)
        nodes.reverse()
        edges = [ids[(u, v)] for u, v in itertools.pairwise(nodes)]
        return self.path_duration(edges, depart_s)

    def slice_matrix(
        self, sources: npt.ArrayLike, targets: npt.ArrayLike, t: float
    ) -> tuple[FloatArray, FloatArray]:
        """Seconds and metres between nodes with the speeds of time ``t`` held (static
        fastest paths of that slice; ``inf`` where unreachable).

        On a large :class:`~lastmile.travel.network.RoadNetwork` (``ch_min_nodes``)
        one customization of its contraction hierarchy plus a many-to-many query,
        else one Dijkstra per distinct source.
        """
        src = np.atleast_1d(np.asarray(sources, dtype=np.int64))
        tgt = np.atleast_1d(np.asarray(targets, dtype=np.int64))
        n = self.num_nodes
        for name, arr in (("sources", src), ("targets", tgt)):
            if len(arr) and (arr.min() < 0 or arr.max() >= n):
                raise InputError(f"node index out of range [0, {n})", where=name)
        times = self.frozen_edge_times(t)
        network: Any = self.network
        if (
            n >= self.ch_min_nodes
            and hasattr(network, "edge_offsets")
            and hasattr(network, "matrix")
        ):
            src_snap = network.node_points(src)
            tgt_snap = network.node_points(tgt)
            dur, dist = network.matrix(src_snap, tgt_snap, edge_time_s=times, method="ch")
            return np.asarray(dur, dtype=np.float64), np.asarray(dist, dtype=np.float64)
        graph, ids = self._static_graph(times)
        uniq, inverse = np.unique(src, return_inverse=True)
        found, pred = dijkstra(graph, indices=uniq, return_predecessors=True)
        lengths = _path_lengths(pred, uniq, tgt, ids, self._length)
        return found[inverse][:, tgt], lengths[inverse]

    # -- locations ------------------------------------------------------------------------

    def _largest_component(self) -> IntArray:
        if self._component is None:
            graph = csr_matrix(
                (np.ones(self.num_edges), (self._tail, self._head)),
                shape=(self.num_nodes, self.num_nodes),
            )
            _, labels = connected_components(graph, directed=True, connection="strong")
            biggest = np.bincount(labels).argmax()
            self._component = np.flatnonzero(labels == biggest).astype(np.int64)
        return self._component

    def _project(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        if self._lat0 is None:
            self._lat0 = math.radians(
                float(np.mean(np.asarray(self.network.node_lat, dtype=np.float64)))
            )
        x = np.radians(lon) * math.cos(self._lat0) * EARTH_RADIUS_M
        y = np.radians(lat) * EARTH_RADIUS_M
        return np.column_stack([x, y])

    def snap(self, locations: Sequence[Location]) -> tuple[IntArray, FloatArray]:
        """Nearest node (of the largest strongly connected part) and the gap in metres."""
        for i, loc in enumerate(locations):
            if not loc.is_geographic:
                raise InputError("needs longitude/latitude", where=f"location {i}")
        comp = self._largest_component()
        if self._kdtree is None:
            lon = np.asarray(self.network.node_lon, dtype=np.float64)[comp]
            lat = np.asarray(self.network.node_lat, dtype=np.float64)[comp]
            self._kdtree = cKDTree(self._project(lon, lat))
        pts = self._project(
            np.array([loc.lon for loc in locations], dtype=np.float64),
            np.array([loc.lat for loc in locations], dtype=np.float64),
        )
        gap, idx = self._kdtree.query(pts)
        return comp[np.asarray(idx, dtype=np.int64)], np.asarray(gap, dtype=np.float64)

    def snap_known(self, locations: Sequence[Location]) -> tuple[IntArray, FloatArray]:
        """:meth:`snap`, remembering each point (a plan's places are snapped again
        and again while it is driven); only points not seen yet are snapped."""
        for i, loc in enumerate(locations):
            if not loc.is_geographic:
                raise InputError("needs longitude/latitude", where=f"location {i}")
        memo = self._snapped
        keys = [(float(loc.lon or 0.0), float(loc.lat or 0.0)) for loc in locations]
        with self._snap_lock:
            new = list(dict.fromkeys(k for k in keys if k not in memo))
            if new:
                nodes, gap = self.snap([Location(lon, lat) for lon, lat in new])
                if len(memo) + len(new) > _MAX_PAIRS:
                    memo.clear()
                memo.update(zip(new, zip(nodes.tolist(), gap.tolist(), strict=True), strict=True))
            found = [memo[k] for k in keys]
        return (
            np.array([n for n, _ in found], dtype=np.int64),
            np.array([g for _, g in found], dtype=np.float64),
        )

    def bind(self, locations: Sequence[Location]) -> BoundModel:
        """The model restricted to ``locations`` (snapped once), for planners."""
        nodes, gap = self.snap(locations)
        return BoundModel(self, nodes, gap)

    # -- the TravelModel protocol ---------------------------------------------------------

    @property
    def description(self) -> str:
        return (
            f"road network ({self.num_nodes} nodes, {self.num_edges} edges), time-dependent "
            f"traffic ({self.traffic.slice_s // 60}-min slices), {self.weather.description}, "
            f"epoch {self.epoch.isoformat(timespec='minutes')}"
        )

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        """Exact time-dependent durations leaving every location at ``departure``.

        The default departure is the model's ``departure_s``.
        """
        bound = self.bind(locations)
        t = self.departure_s if departure is None else int(departure)
        return bound.departure_matrix([t] * len(locations))


class BoundModel:
    """A :class:`TimeDependentModel` over a fixed list of locations (matrix rows).

    ``leg_duration`` caches one search per (origin row, departure second).
    """

    def __init__(self, model: TimeDependentModel, nodes: IntArray, gap_m: FloatArray) -> None:
        self.model = model
        self.nodes = nodes
        self.gap_m = gap_m
        self.access_s = gap_m / model.access_speed_mps
        self._unique_nodes = np.unique(nodes)
        self._cache: dict[tuple[int, int], tuple[FloatArray, FloatArray]] = {}
        self.searches = 0

    @property
    def size(self) -> int:
        return len(self.nodes)

    def _rows(self, rows: Sequence[int], departures: Sequence[int]) -> None:
        todo = [
            (r, t)
            for r, t in dict.fromkeys(zip(rows, departures, strict=True))
            if (r, t) not in self._cache
        ]
        if not todo:
            return
        src = self.nodes[[r for r, _ in todo]]
        # Leave the origin node after walking/driving the access gap.
        dep = np.array([t + self.access_s[r] for r, t in todo], dtype=np.float64)
        res = self.model.earliest_arrivals(src, dep, targets=self._unique_nodes)
        self.searches += len(todo)
        for i, key in enumerate(todo):
            arr = res.arrival[i, self.nodes] - dep[i]
            if not np.isfinite(arr).all():
                j = int(np.flatnonzero(~np.isfinite(arr))[0])
                raise InputError(
                    f"location {j} cannot be reached from location {key[0]}", where="network"
                )
            self._cache[key] = (arr, res.length_m[i, self.nodes])

    def matrix_rows(
        self, rows: Sequence[int], departures: Sequence[int]
    ) -> tuple[IntArray, IntArray]:
        """Durations (s) and distances (m) from location ``rows[k]`` leaving at ``departures[k]``.

        One search per distinct (row, departure), cached; the diagonal is zero.
        """
        if len(rows) != len(departures):
            raise InputError(
                f"{len(rows)} rows for {len(departures)} departures", where="departures"
            )
        keys = [(int(r), int(t)) for r, t in zip(rows, departures, strict=True)]
        for r, _ in keys:
            if not 0 <= r < self.size:
                raise InputError(f"location {r} out of range [0, {self.size})", where="rows")
        self._rows([r for r, _ in keys], [t for _, t in keys])
        dur = np.empty((len(keys), self.size))
        dist = np.empty((len(keys), self.size))
        for k, (r, t) in enumerate(keys):
            arr, length = self._cache[(r, t)]
            dur[k] = arr + self.access_s[r] + self.access_s
            dist[k] = length + self.gap_m[r] + self.gap_m
            dur[k, r] = dist[k, r] = 0.0
        return np.rint(dur).astype(np.int64), np.rint(dist).astype(np.int64)

    def leg_duration(self, a: int, b: int, depart_at: int) -> int:
        """Seconds from location ``a`` to ``b`` leaving at ``depart_at``, fastest path."""
        return int(self.matrix_rows([a], [depart_at])[0][0, b])

    def departure_matrix(self, departures: Sequence[int]) -> TravelMatrix:
        """Durations and distances where row ``i`` leaves location ``i`` at ``departures[i]``."""
        if len(departures) != self.size:
            raise InputError(
                f"{len(departures)} departures for {self.size} locations", where="departures"
            )
        dur, dist = self.matrix_rows(list(range(self.size)), departures)
        return TravelMatrix(durations=dur, distances=dist)

    def frozen_matrix(self, t: float) -> TravelMatrix:
        """Durations with speeds frozen at time ``t`` (a static per-slice matrix,
        :meth:`TimeDependentModel.slice_matrix`)."""
        times, dist = self.model.slice_matrix(self.nodes, self.nodes, t)
        if not np.isfinite(times).all():
            i, j = np.argwhere(~np.isfinite(times))[0]
            raise InputError(
                f"location {int(j)} cannot be reached from location {int(i)}", where="network"
            )
        dur = times + self.access_s[:, None] + self.access_s[None, :]
        dist = dist + self.gap_m[:, None] + self.gap_m[None, :]
        np.fill_diagonal(dur, 0)
        np.fill_diagonal(dist, 0)
        return TravelMatrix(
            durations=np.rint(dur).astype(np.int64), distances=np.rint(dist).astype(np.int64)
        )


def _path_lengths(
    pred: npt.NDArray[Any],
    src: IntArray,
    targets: IntArray,
    ids: dict[tuple[int, int], int],
    length: FloatArray,
) -> FloatArray:
    """Metres along shortest-path trees given as predecessor arrays (one row per source);
    ``inf`` where a target is not reached."""
    out = np.zeros((len(src), len(targets)))
    for r in range(len(src)):
        memo: dict[int, float] = {int(src[r]): 0.0}
        for j, node in enumerate(targets):
            chain = []
            v = int(node)
            while v not in memo:
                chain.append(v)
                v = int(pred[r, v])
                if v < 0:
                    break
            if v < 0:
                for u in chain:
                    memo[u] = math.inf
            else:
                for u in reversed(chain):
                    p = int(pred[r, u])
                    memo[u] = memo[p] + float(length[ids[(p, u)]])
            out[r, j] = memo[int(node)]
    return out
