"""Map matching: which roads a GPS trace drove, and the legs between stops.

:class:`MapMatcher` is a hidden Markov model after Newson & Krumm, "Hidden
Markov map matching through noise and sparseness" (ACM SIGSPATIAL 2009), on
the network's own graph (any :class:`~lastmile.travel.time_dependent.RoadGraph`:
an OpenStreetMap extract or a synthetic grid), with edges taken as straight
segments between their end nodes:

* **States** are the candidate road positions of each ping: every directed edge
  passing within ``radius_m`` of it (found through a KD-tree on points sampled
  every few metres along every edge, then projected exactly), the
  ``max_candidates`` nearest kept. A two-way street gives two candidates, one
  per direction; the transitions tell them apart.
* **Emission**: the GPS error is Gaussian, ``log p = -(d / sigma)^2 / 2`` with
  ``d`` the distance from the ping to the candidate point. ``sigma_m``, when
  not given, is estimated from the trace as 1.4826 x the median distance of the
  pings to their nearest road (Newson & Krumm's robust estimate).
* **Transition**: between candidate points of consecutive pings, the route
  distance over the network (the rest of the first edge, the shortest path by
  length from its head to the next edge's tail, the start of the next edge;
  along one edge when both are on it) is close to the great-circle distance
  between the pings when the candidates are right: ``log p = -|route - gc| /
  beta``. ``beta_m``, when not given, is the median over steps of the smallest
  ``|route - gc|`` divided by ln 2 (the median of an exponential). A route
  faster than ``max_speed_kph`` over the time between the pings, or longer than
  the search limit, is impossible.
* **Viterbi** gives the most likely sequence. Where no transition is possible
  (a gap in the trace, a road missing from the map) the trace breaks: the
  segment before ends and a new one starts; :meth:`MapMatcher.match` returns
  the segments.

:func:`legs_between_stops` cuts each vehicle's pings at its stop events (left a
stop, arrived at the next), matches the pings of each leg, and gives the leg
with its start and duration as the stop events tell, and the
:class:`~lastmile.travel.learning.ObservedLeg` the traffic fit uses: the edges
wholly driven, entered and left at times interpolated along the matched path
between the pings around them (so the time at the stop, and the partial first
and last edges, are left out).

Maintained libraries were considered first: ``leuvenmapmatching`` (Apache-2.0,
numpy and scipy only) had its last release in 2022 and grows its lattice edge
by edge in pure Python, so sparse pings (30 s apart) need its slow
non-emitting states; ``mappymatch`` (BSD, maintained) brings osmnx, geopandas,
igraph, folium and matplotlib and builds its own map rather than reading
these arrays. The model here is a few array operations on scipy's KD-tree and
Dijkstra.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from lastmile.domain.day import DayRecord
from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError
from lastmile.travel.learning import ObservedLeg
from lastmile.travel.noise import TravelNoise
from lastmile.travel.time_dependent import RoadGraph, TimeDependentModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Spacing (m) of the points sampled along edges for the candidate search.
SAMPLE_SPACING_M = 10.0
#: Candidate radius (m) bounds when ``radius_m`` is derived from ``sigma_m`` (5 sigma).
MIN_RADIUS_M = 50.0
MAX_RADIUS_M = 200.0
#: Pings in a row a trace may skip as outliers before it breaks.
MAX_SKIP = 2
#: Least values of the estimated parameters (m): a perfect trace must not divide by zero.
MIN_SIGMA_M = 2.0
MIN_BETA_M = 1.0
#: Event kinds that mean the vehicle is leaving a stop (a stop's task is done).
DEPARTURE_KINDS = frozenset({"departed", "delivered", "picked_up", "failed", "not_attempted"})
ARRIVAL_KINDS = frozenset({"arrived"})


@dataclass(frozen=True)
class MatchedTrace:
    """One unbroken stretch of a trace on the network.

    ``edges`` is the path driven, in order (each edge's head is the next one's
    tail). For each ping of the stretch (``pings`` are their indices in the
    trace given to :meth:`MapMatcher.match`): the edge it was matched to
    (``ping_edge``), where on it (``ping_fraction``, 0 at its tail), how far
    along the path it is (``ping_offset_m``, from the tail of ``edges[0]``, never
    decreasing) and how far the ping was from that point (``ping_gap_m``).
    """

    edges: tuple[int, ...]
    pings: IntArray
    ping_edge: IntArray
    ping_fraction: FloatArray
    ping_offset_m: FloatArray
    ping_gap_m: FloatArray


@dataclass(frozen=True)
class MatchResult:
    """The stretches of a trace (several when it broke), and the parameters used."""

    segments: tuple[MatchedTrace, ...]
    sigma_m: float
    beta_m: float
    dropped: int  # pings with no road within the radius


@dataclass(frozen=True)
class Ping:
    """A GPS fix of ``vehicle`` at ``t`` (a local wall-clock time)."""

    vehicle: str
    t: dt.datetime
    lon: float
    lat: float


@dataclass(frozen=True)
class StopEvent:
    """``vehicle`` arrived at or left (``departed``, or a task done there) a stop at ``t``."""

    vehicle: str
    t: dt.datetime
    kind: str
    stop: str = ""

    @property
    def is_arrival(self) -> bool:
        return self.kind in ARRIVAL_KINDS

    @property
    def is_departure(self) -> bool:
        return self.kind in DEPARTURE_KINDS


@dataclass(frozen=True)
class MatchedLeg:
    """A leg between two stops of one vehicle, as driven.

    ``departed``/``arrived`` are the stop events' times (so ``duration_s`` is
    the stop-to-stop driving time); ``edges`` the matched path from the first
    ping to the last; ``observed`` the part the traffic fit uses (None when no
    edge was driven whole, or the leg's pings broke apart).
    """

    vehicle: str
    from_stop: str
    to_stop: str
    departed: dt.datetime
    arrived: dt.datetime
    edges: tuple[int, ...]
    pings: int
    observed: ObservedLeg | None
    #: The arrival was not reported but read from the pings (where the vehicle stopped).
    arrival_inferred: bool = False

    @property
    def duration_s(self) -> float:
        return (self.arrived - self.departed).total_seconds()


class MapMatcher:
    """A hidden Markov map matcher on ``network`` (see the module docstring).

    ``sigma_m``/``beta_m``: the GPS noise and the transition scale, estimated
    per trace when None. ``radius_m``: candidate search radius (default 4
    sigma, within 30..200 m).
    """

    def __init__(
        self,
        network: RoadGraph,
        *,
        sigma_m: float | None = None,
        beta_m: float | None = None,
        radius_m: float | None = None,
        max_candidates: int = 24,
        max_speed_kph: float = 150.0,
    ) -> None:
        for name, value in (("sigma_m", sigma_m), ("beta_m", beta_m), ("radius_m", radius_m)):
            if value is not None and not value > 0:
                raise InputError(f"must be > 0, got {value}", where=name)
        if max_candidates < 1:
            raise InputError(f"must be >= 1, got {max_candidates}", where="max_candidates")
        if not max_speed_kph > 0:
            raise InputError(f"must be > 0, got {max_speed_kph}", where="max_speed_kph")
        self.network = network
        self.sigma_m = sigma_m
        self.beta_m = beta_m
        self.radius_m = radius_m
        self.max_candidates = max_candidates
        self.max_speed_mps = max_speed_kph / 3.6
        self.tail = np.asarray(network.edge_tail, dtype=np.int64)
        self.head = np.asarray(network.edge_head, dtype=np.int64)
        self.length = np.asarray(network.edge_length_m, dtype=np.float64)
        lon = np.asarray(network.node_lon, dtype=np.float64)
        lat = np.asarray(network.node_lat, dtype=np.float64)
        self.num_nodes = len(lon)
        if not len(self.tail):
            raise InputError("the network has no edges", where="network")
        lat0 = math.radians(float(lat.mean()))
        self._kx = math.cos(lat0) * EARTH_RADIUS_M * math.pi / 180
        self._ky = EARTH_RADIUS_M * math.pi / 180
        self.x, self.y = lon * self._kx, lat * self._ky
        # Points every SAMPLE_SPACING_M along every edge (both ends included).
        ax, ay = self.x[self.tail], self.y[self.tail]
        bx, by = self.x[self.head], self.y[self.head]
        seg = np.hypot(bx - ax, by - ay)
        counts = np.maximum(1, np.ceil(seg / SAMPLE_SPACING_M).astype(np.int64)) + 1
        edge_of = np.repeat(np.arange(len(seg)), counts)
        pos = (np.arange(len(edge_of)) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(
            counts - 1, counts
        )
        sx = ax[edge_of] + pos * (bx - ax)[edge_of]
        sy = ay[edge_of] + pos * (by - ay)[edge_of]
        self._sample_edge = edge_of
        self._tree = cKDTree(np.column_stack([sx, sy]))
        self._slack_m = float((seg / (counts - 1)).max() / 2)
        # Shortest paths by length; parallel edges: the shortest stands for the pair.
        order = np.lexsort((self.length, self.head, self.tail))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (self.tail[order][1:] != self.tail[order][:-1]) | (
            self.head[order][1:] != self.head[order][:-1]
        )
        keep = order[first]
        self._graph = csr_matrix(
            (np.maximum(self.length[keep], 1e-3), (self.tail[keep], self.head[keep])),
            shape=(self.num_nodes, self.num_nodes),
        )
        keys = self.tail[keep] * self.num_nodes + self.head[keep]
        by_key = np.argsort(keys)
        self._keys = keys[by_key]
        self._key_edge = keep[by_key]

    # -- geometry ---------------------------------------------------------------------------

    def project(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Local metres (equirectangular around the network's mean latitude)."""
        return (
            np.asarray(lon, dtype=np.float64) * self._kx,
            np.asarray(lat, dtype=np.float64) * self._ky,
        )

    def point_on(
        self, edges: npt.ArrayLike, fraction: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """(lon, lat) of the points ``fraction`` along ``edges``."""
        e = np.asarray(edges, dtype=np.int64)
        f = np.asarray(fraction, dtype=np.float64)
        lon = np.asarray(self.network.node_lon, dtype=np.float64)
        lat = np.asarray(self.network.node_lat, dtype=np.float64)
        a, b = self.tail[e], self.head[e]
        return lon[a] + f * (lon[b] - lon[a]), lat[a] + f * (lat[b] - lat[a])

    def _candidates(
        self, px: FloatArray, py: FloatArray, radius: float
    ) -> list[tuple[IntArray, FloatArray, FloatArray]]:
        """Per ping: candidate edges, fraction along each, distance (nearest first)."""
        out: list[tuple[IntArray, FloatArray, FloatArray]] = []
        found = self._tree.query_ball_point(np.column_stack([px, py]), radius + self._slack_m)
        for i, samples in enumerate(found):
            if not samples:
                out.append((np.zeros(0, np.int64), np.zeros(0), np.zeros(0)))
                continue
            e = np.unique(self._sample_edge[np.asarray(samples, dtype=np.int64)])
            ax, ay = self.x[self.tail[e]], self.y[self.tail[e]]
            dx, dy = self.x[self.head[e]] - ax, self.y[self.head[e]] - ay
            norm2 = dx * dx + dy * dy
            with np.errstate(invalid="ignore", divide="ignore"):
                f = np.where(norm2 > 0, ((px[i] - ax) * dx + (py[i] - ay) * dy) / norm2, 0.0)
            f = np.clip(f, 0.0, 1.0)
            d = np.hypot(ax + f * dx - px[i], ay + f * dy - py[i])
            near = d <= radius
            e, f, d = e[near], f[near], d[near]
            order = np.argsort(d, kind="stable")[: self.max_candidates]
            out.append((e[order], f[order], d[order]))
        return out

    def _nearest_m(self, px: FloatArray, py: FloatArray) -> FloatArray:
        """Distance from each point to the nearest edge (exact, among the edges of its
        nearest sample points)."""
        k = min(8, len(self._sample_edge))
        _, idx = self._tree.query(np.column_stack([px, py]), k=k)
        e = self._sample_edge[np.asarray(idx, dtype=np.int64).reshape(len(px), k)]
        ax, ay = self.x[self.tail[e]], self.y[self.tail[e]]
        dx, dy = self.x[self.head[e]] - ax, self.y[self.head[e]] - ay
        qx, qy = px[:, None], py[:, None]
        norm2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(norm2 > 0, ((qx - ax) * dx + (qy - ay) * dy) / norm2, 0.0)
        f = np.clip(f, 0.0, 1.0)
        d: FloatArray = np.hypot(ax + f * dx - qx, ay + f * dy - qy).min(axis=1)
        return d

    def _edge_of(self, u: IntArray, v: IntArray) -> IntArray:
        k = np.searchsorted(self._keys, u * self.num_nodes + v)
        return self._key_edge[k]

    # -- matching ---------------------------------------------------------------------------

    def match(self, t: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike) -> MatchResult:
        """Match one vehicle's trace: times ``t`` (seconds, non-decreasing) and positions."""
        ts = np.asarray(t, dtype=np.float64)
        lo = np.asarray(lon, dtype=np.float64)
        la = np.asarray(lat, dtype=np.float64)
        if not (ts.shape == lo.shape == la.shape and ts.ndim == 1):
            raise InputError("t, lon and lat must be 1-d arrays of one length", where="trace")
        if not (np.isfinite(ts).all() and np.isfinite(lo).all() and np.isfinite(la).all()):
            raise InputError("times and coordinates must be finite", where="trace")
        if len(ts) > 1 and (np.diff(ts) < 0).any():
            k = int(np.flatnonzero(np.diff(ts) < 0)[0]) + 1
            raise InputError("pings must be in time order", where=f"ping {k}")
        px, py = self.project(lo, la)
        if not len(ts):
            return MatchResult((), self.sigma_m or MIN_SIGMA_M, self.beta_m or MIN_BETA_M, 0)
        sigma = self.sigma_m
        if sigma is None:
            nearest = self._nearest_m(px, py)
            near = nearest[nearest <= MAX_RADIUS_M]
            sigma = 1.4826 * float(np.median(near)) if len(near) else MAX_RADIUS_M / 4
            sigma = max(sigma, MIN_SIGMA_M)
        radius = self.radius_m or float(np.clip(5 * sigma, MIN_RADIUS_M, MAX_RADIUS_M))
        cands = self._candidates(px, py, radius)
        usable = [i for i, c in enumerate(cands) if len(c[0])]
        dropped = len(ts) - len(usable)
        if not usable:
            return MatchResult((), sigma, self.beta_m or MIN_BETA_M, dropped)
        # Pings within 2 sigma of the last one kept say nothing new about the road
        # (a vehicle waiting, or crawling): they take the place matched for it.
        kept_list: list[int] = []
        owner: dict[int, int] = {}
        for i in usable:
            last = kept_list[-1] if kept_list else None
            if last is None or i == usable[-1]:
                kept_list.append(i)
            elif math.hypot(px[i] - px[last], py[i] - py[last]) < 2 * sigma:
                owner[i] = last
            else:
                kept_list.append(i)
        kept = np.asarray(kept_list, dtype=np.int64)
        # Route distances between candidates of pings, computed when first needed.
        known: dict[tuple[int, int], FloatArray] = {}

        def transition(i: int, j: int) -> FloatArray:
            """|route - great circle| between the candidates of pings i and j (inf
            where no drivable route)."""
            found = known.get((i, j))
            if found is None:
                gc = float(math.hypot(px[j] - px[i], py[j] - py[i]))
                route = self._route_distances(cands[i], cands[j], gc, sigma)
                limit = self.max_speed_mps * max(float(ts[j] - ts[i]), 1.0)
                route[route > limit + 2 * radius] = np.inf
                found = np.abs(route - gc)
                known[(i, j)] = found
            return found

        beta = self.beta_m
        if beta is None:
            # A first guess from the best explanation of each step, then (below) the
            # median over the path chosen, as Newson & Krumm estimate it.
            best = [float(np.min(transition(int(i), int(j)))) for i, j in itertools.pairwise(kept)]
            finite = [b for b in best if math.isfinite(b)]
            beta = max(sigma, float(np.median(finite)) / math.log(2) if finite else sigma)
        segments, used = self._viterbi(kept, cands, transition, sigma, beta)
        if self.beta_m is None and used:
            beta = max(MIN_BETA_M, sigma / 2, float(np.median(used)) / math.log(2))
            segments, _ = self._viterbi(kept, cands, transition, sigma, beta)
        skipped = len(kept) - sum(len(s.pings) for s in segments)
        segments = [self._with_waiting(seg, owner) for seg in segments]
        return MatchResult(tuple(segments), sigma, beta, dropped + skipped)

    @staticmethod
    def _with_waiting(seg: MatchedTrace, owner: dict[int, int]) -> MatchedTrace:
        """``seg`` with the pings set aside near a matched one put back, at its place."""
        if not owner:
            return seg
        row = {int(p): k for k, p in enumerate(seg.pings)}
        extra = sorted(i for i, o in owner.items() if o in row and i < int(seg.pings[-1]))
        if not extra:
            return seg
        pings = np.concatenate([seg.pings, np.asarray(extra, dtype=np.int64)])
        take = np.concatenate(
            [np.arange(len(seg.pings)), np.asarray([row[owner[i]] for i in extra])]
        )
        order = np.argsort(pings, kind="stable")
        take = take[order]
        return MatchedTrace(
            edges=seg.edges,
            pings=pings[order],
            ping_edge=seg.ping_edge[take],
            ping_fraction=seg.ping_fraction[take],
            ping_offset_m=seg.ping_offset_m[take],
            ping_gap_m=seg.ping_gap_m[take],
        )

    def _viterbi(
        self,
        kept: IntArray,
        cands: list[tuple[IntArray, FloatArray, FloatArray]],
        transition: Callable[[int, int], FloatArray],
        sigma: float,
        beta: float,
    ) -> tuple[list[MatchedTrace], list[float]]:
        """The most likely candidates, segment by segment. A ping no candidate of the
        previous one can reach is skipped as an outlier (up to :data:`MAX_SKIP` in a
        row, the next ones tried from the same ping); beyond, the trace breaks.
        Returns the segments and ``|route - great circle|`` along the path chosen."""
        emit = {int(i): -0.5 * (cands[i][2] / sigma) ** 2 for i in kept}
        order = [int(i) for i in kept]
        segments: list[MatchedTrace] = []
        used: list[float] = []
        pos = 0
        while pos < len(order):
            # One segment from order[pos]: pings, back pointers, scores.
            seg = [order[pos]]
            back: list[IntArray] = [np.zeros(0, dtype=np.int64)]
            score = emit[order[pos]]
            nxt = pos + 1
            while nxt < len(order):
                linked = False
                for skip in range(MAX_SKIP + 1):
                    if nxt + skip >= len(order):
                        break
                    j = order[nxt + skip]
                    total = score[:, None] - transition(seg[-1], j) / beta
                    arg = np.argmax(total, axis=0)
                    best = total[arg, np.arange(total.shape[1])]
                    if np.isfinite(best).any():
                        seg.append(j)
                        back.append(arg.astype(np.int64))
                        score = best + emit[j]
                        nxt += skip + 1
                        linked = True
                        break
                if not linked:
                    break
            choice = np.zeros(len(seg), dtype=np.int64)
            choice[-1] = int(np.argmax(score))
            for k in range(len(seg) - 1, 0, -1):
                choice[k - 1] = int(back[k][choice[k]])
            for k in range(1, len(seg)):
                used.append(float(transition(seg[k - 1], seg[k])[choice[k - 1], choice[k]]))
            pings = np.asarray(seg, dtype=np.int64)
            segments.append(self._segment(pings, [cands[i] for i in seg], choice, sigma))
            pos = nxt  # the ping no candidate could reach starts the next segment
        return segments, used

    def _route_distances(
        self,
        a: tuple[IntArray, FloatArray, FloatArray],
        b: tuple[IntArray, FloatArray, FloatArray],
        gc: float,
        sigma: float,
    ) -> FloatArray:
        ea, fa, _ = a
        eb, fb, _ = b
        la, lb = self.length[ea], self.length[eb]
        sources, row = np.unique(self.head[ea], return_inverse=True)
        limit = 2 * gc + 4 * sigma + 500.0
        dist = dijkstra(self._graph, indices=sources, limit=limit)
        between = dist[row][:, self.tail[eb]]
        route = ((1 - fa) * la)[:, None] + between + (fb * lb)[None, :]
        same = ea[:, None] == eb[None, :]
        ahead = (fb[None, :] - fa[:, None]) * la[:, None]
        along = same & (ahead >= -sigma)
        route = np.where(along, np.maximum(ahead, 0.0), route)
        return np.asarray(route, dtype=np.float64)

    def _segment(
        self,
        pings: IntArray,
        cands: list[tuple[IntArray, FloatArray, FloatArray]],
        choice: IntArray,
        sigma: float,
    ) -> MatchedTrace:
        edge = np.array([c[0][k] for c, k in zip(cands, choice, strict=True)], dtype=np.int64)
        frac = np.array([c[1][k] for c, k in zip(cands, choice, strict=True)], dtype=np.float64)
        gap = np.array([c[2][k] for c, k in zip(cands, choice, strict=True)], dtype=np.float64)
        path: list[int] = [int(edge[0])]
        start_of = {0: 0.0}  # offset of the tail of path[k]
        offsets = np.empty(len(edge))
        offsets[0] = frac[0] * self.length[edge[0]]
        for k in range(1, len(edge)):
            e0, e1 = int(edge[k - 1]), int(edge[k])
            ahead = (frac[k] - frac[k - 1]) * self.length[e0]
            if e0 == e1 and ahead >= -sigma and path[-1] == e0:
                offsets[k] = max(
                    offsets[k - 1], start_of[len(path) - 1] + frac[k] * self.length[e1]
                )
                continue
            for e in self._path_between(int(self.head[e0]), int(self.tail[e1])):
                start_of[len(path)] = start_of[len(path) - 1] + self.length[path[-1]]
                path.append(e)
            start_of[len(path)] = start_of[len(path) - 1] + self.length[path[-1]]
            path.append(e1)
            offsets[k] = max(offsets[k - 1], start_of[len(path) - 1] + frac[k] * self.length[e1])
        return MatchedTrace(
            edges=tuple(path),
            pings=pings,
            ping_edge=edge,
            ping_fraction=frac,
            ping_offset_m=offsets,
            ping_gap_m=gap,
        )

    def _path_between(self, u: int, v: int) -> list[int]:
        """Edges of the shortest path (by length) from node ``u`` to node ``v``."""
        if u == v:
            return []
        # Matched steps are short: search near first, the whole graph only if need be.
        near = 3 * math.hypot(self.x[v] - self.x[u], self.y[v] - self.y[u]) + 1000.0
        for limit in (near, np.inf):
            _, pred = dijkstra(self._graph, indices=[u], return_predecessors=True, limit=limit)
            if pred[0, v] >= 0:
                break
        nodes = [v]
        while nodes[-1] != u:
            p = int(pred[0, nodes[-1]])
            if p < 0:
                raise InputError(f"node {v} cannot be reached from node {u}", where="network")
            nodes.append(p)
        nodes.reverse()
        arr = np.asarray(nodes, dtype=np.int64)
        return [int(e) for e in self._edge_of(arr[:-1], arr[1:])]


def whole_edge_leg(
    matcher: MapMatcher, trace: MatchedTrace, times: FloatArray, epoch: dt.datetime
) -> ObservedLeg | None:
    """The edges of ``trace`` driven whole, entered and left at times interpolated along
    the path between the pings (``times``: the trace's pings' seconds since ``epoch``).
    None when no edge was driven whole."""
    lengths = matcher.length[np.asarray(trace.edges, dtype=np.int64)]
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths
    s, tt = trace.ping_offset_m, times
    whole = np.flatnonzero((starts >= s[0] - 1e-6) & (ends <= s[-1] + 1e-6))
    if not len(whole) or s[-1] <= s[0]:
        return None
    first, last = int(whole[0]), int(whole[-1])
    enter = _time_at(s, tt, float(starts[first]), leaving=True)
    leave = _time_at(s, tt, float(ends[last]), leaving=False)
    if not leave > enter:
        return None
    return ObservedLeg(
        tuple(trace.edges[first : last + 1]),
        epoch + dt.timedelta(seconds=enter),
        leave - enter,
    )


def _time_at(s: FloatArray, t: FloatArray, where: float, *, leaving: bool) -> float:
    """When the vehicle was ``where`` metres along the path: linear between the pings
    around it; ``leaving``: the last moment there (a vehicle waiting at the start
    leaves when it moves on), else the first (it arrives, then waits)."""
    if leaving:
        j = int(np.searchsorted(s, where, side="right"))
        if j >= len(s):
            return float(t[-1])
        i = max(j - 1, 0)
    else:
        j = int(np.searchsorted(s, where, side="left"))
        if j == 0:
            return float(t[0])
        if j >= len(s):
            return float(t[-1])
        i = j - 1
    if s[j] == s[i]:
        return float(t[j] if not leaving else t[i])
    return float(t[i] + (where - s[i]) / (s[j] - s[i]) * (t[j] - t[i]))


@dataclass(frozen=True)
class LegReport:
    """What :func:`legs_between_stops` made of the traces."""

    legs: tuple[MatchedLeg, ...]
    vehicles: int
    pings: int
    unpaired_events: int  # an arrival with no departure before it (the first stop), and so on
    too_few_pings: int
    broken: int  # legs whose pings broke apart when matched

    @property
    def observed(self) -> list[ObservedLeg]:
        return [leg.observed for leg in self.legs if leg.observed is not None]


def legs_between_stops(
    matcher: MapMatcher,
    pings: Iterable[Ping],
    events: Iterable[StopEvent],
    *,
    min_pings: int = 2,
    stop_radius_m: float = 50.0,
) -> LegReport:
    """Each vehicle's legs from a stop it left to the next stop it arrived at, matched.

    Times are compared as given (use one clock for pings and events: local
    wall-clock times, naive or aware alike). An arrival not preceded by a
    departure since the last arrival (the first stop of a day left from a depot
    that sends no event) makes no leg. Two departures with no arrival between
    them (a driver who reports tasks but not arrivals) make a leg that ends
    where the pings stop moving for good before the second one: the first ping
    from which every ping up to it stays within ``stop_radius_m`` of the last
    (``arrival_inferred``); tasks done at one place (no such move) make none.
    """
    by_vehicle: dict[str, list[Ping]] = {}
    n_pings = 0
    for p in pings:
        by_vehicle.setdefault(p.vehicle, []).append(p)
        n_pings += 1
    ev_by_vehicle: dict[str, list[StopEvent]] = {}
    for e in events:
        if e.is_arrival or e.is_departure:
            ev_by_vehicle.setdefault(e.vehicle, []).append(e)
    legs: list[MatchedLeg] = []
    unpaired = few = broken = 0
    for vehicle, evs in sorted(ev_by_vehicle.items()):
        evs.sort(key=lambda e: e.t)
        trace = sorted(by_vehicle.get(vehicle, []), key=lambda p: p.t)
        stamps = [p.t for p in trace]
        left: StopEvent | None = None
        for e in evs:
            arrived = e.t
            inferred = False
            if e.is_departure:
                if left is None:
                    left = e
                    continue
                # No arrival reported since the last departure: where did it stop?
                lo = _bisect(stamps, left.t, right=False)
                hi = _bisect(stamps, e.t, right=True)
                found = _stopped(matcher, trace[lo:hi], stop_radius_m)
                if found is None or found <= left.t:
                    left = e  # another task at the same place
                    continue
                arrived, inferred = found, True
            elif left is None:
                unpaired += 1
                continue
            lo = _bisect(stamps, left.t, right=False)
            hi = _bisect(stamps, arrived, right=True)
            inside = trace[lo:hi]
            departed = left
            left = e if e.is_departure else None
            if len(inside) < min_pings:
                few += 1
                continue
            epoch = departed.t
            secs = np.array([(p.t - epoch).total_seconds() for p in inside])
            result = matcher.match(secs, [p.lon for p in inside], [p.lat for p in inside])
            if len(result.segments) != 1:
                broken += 1
                continue
            seg = result.segments[0]
            observed = whole_edge_leg(matcher, seg, secs[seg.pings], epoch)
            legs.append(
                MatchedLeg(
                    vehicle=vehicle,
                    from_stop=departed.stop,
                    to_stop=e.stop,
                    departed=departed.t,
                    arrived=arrived,
                    edges=seg.edges,
                    pings=len(inside),
                    observed=observed,
                    arrival_inferred=inferred,
                )
            )
    return LegReport(tuple(legs), len(by_vehicle), n_pings, unpaired, few, broken)


def _stopped(matcher: MapMatcher, pings: Sequence[Ping], radius_m: float) -> dt.datetime | None:
    """When the vehicle reached the place of the last of ``pings`` and stayed (see
    :func:`legs_between_stops`); None without pings."""
    if not pings:
        return None
    x, y = matcher.project([p.lon for p in pings], [p.lat for p in pings])
    far = np.hypot(x - x[-1], y - y[-1]) > radius_m
    moved = np.flatnonzero(far)
    return pings[int(moved[-1]) + 1].t if len(moved) else pings[0].t


def _bisect(stamps: Sequence[dt.datetime], t: dt.datetime, *, right: bool) -> int:
    lo, hi = 0, len(stamps)
    while lo < hi:
        mid = (lo + hi) // 2
        if stamps[mid] < t or (right and stamps[mid] == t):
            lo = mid + 1
        else:
            hi = mid
    return lo


def edge_accuracy(matched: Sequence[int], truth: Sequence[int]) -> float:
    """Share of the true path's edges that the matched path has (and, so that a path
    with extra detours does not score well, of the matched path's edges that the true
    path has): the smaller of the two, 1.0 when both agree."""
    if not truth:
        return 1.0 if not matched else 0.0
    m, t = set(matched), set(truth)
    common = len(m & t)
    return min(common / len(t), common / len(m) if m else 0.0)


# -- trace files -------------------------------------------------------------------------------


def _when(text: str, timezone: dt.tzinfo | None, where: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"expected an ISO 8601 time, got {text!r}", where=where) from None
    if t.tzinfo is not None:
        # One clock for everything: the wall clock of ``timezone``, else the time's own.
        t = (t.astimezone(timezone) if timezone is not None else t).replace(tzinfo=None)
    return t


def _rows(path: Path, need: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in need if c not in header]
            if missing:
                raise InputError(f"missing column(s): {', '.join(missing)}", where=str(path))
            return [
                (n, {(k or "").strip(): (v or "") for k, v in row.items()})
                for n, row in enumerate(reader, start=2)
            ]
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None


def read_pings_csv(path: str | Path, *, timezone: dt.tzinfo | None = None) -> list[Ping]:
    """Pings from a CSV with columns ``vehicle,time,lon,lat`` (time in ISO 8601; with an
    offset, it is read on ``timezone``'s wall clock when given)."""
    path = Path(path)
    out = []
    for n, row in _rows(path, ("vehicle", "time", "lon", "lat")):
        where = f"{path.name}:{n}"
        try:
            lon, lat = float(row["lon"]), float(row["lat"])
        except ValueError:
            raise InputError(
                f"lon/lat not numbers: {row['lon']!r}, {row['lat']!r}", where=where
            ) from None
        if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
            raise InputError(f"not a position: {lon}, {lat}", where=where)
        if not row["vehicle"]:
            raise InputError("empty vehicle", where=f"{where} column vehicle")
        out.append(
            Ping(row["vehicle"], _when(row["time"], timezone, f"{where} column time"), lon, lat)
        )
    return out


def read_events_csv(path: str | Path, *, timezone: dt.tzinfo | None = None) -> list[StopEvent]:
    """Stop events from a CSV with columns ``vehicle,time,kind`` (and optional ``stop``):
    ``kind`` is ``arrived``, or ``departed`` (or a task done there: ``delivered``,
    ``picked_up``, ``failed``, ``not_attempted``)."""
    path = Path(path)
    out = []
    known = sorted(ARRIVAL_KINDS | DEPARTURE_KINDS)
    for n, row in _rows(path, ("vehicle", "time", "kind")):
        where = f"{path.name}:{n}"
        kind = row["kind"].strip().lower()
        if kind not in ARRIVAL_KINDS | DEPARTURE_KINDS:
            raise InputError(
                f"unknown kind {row['kind']!r} (use {', '.join(known)})",
                where=f"{where} column kind",
            )
        if not row["vehicle"]:
            raise InputError("empty vehicle", where=f"{where} column vehicle")
        t = _when(row["time"], timezone, f"{where} column time")
        out.append(StopEvent(row["vehicle"], t, kind, row.get("stop", "")))
    return out


def traces_of_day(record: DayRecord) -> tuple[list[Ping], list[StopEvent]]:
    """The pings and stop events of a :class:`~lastmile.domain.day.DayRecord` (a day the
    digital twin simulated, or the service recorded), on the day's wall clock: each
    vehicle leaves its depot at the route's actual start, arrives at and leaves each
    stop it reached."""
    midnight = dt.datetime.combine(record.day, dt.time())

    def at(t: int) -> dt.datetime:
        return midnight + dt.timedelta(seconds=t)

    pings = [Ping(p.vehicle_id, at(p.t), p.lon, p.lat) for p in record.positions]
    events: list[StopEvent] = []
    for route in record.routes:
        if route.actual_start is not None:
            events.append(StopEvent(route.vehicle_id, at(route.actual_start), "departed", "depot"))
    for stop in record.stops:
        if stop.arrival is not None:
            events.append(StopEvent(stop.vehicle_id, at(stop.arrival), "arrived", stop.order_id))
        if stop.departure is not None:
            events.append(StopEvent(stop.vehicle_id, at(stop.departure), "departed", stop.order_id))
    return pings, events


def write_pings_csv(path: str | Path, pings: Iterable[Ping]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["vehicle", "time", "lon", "lat"])
        for p in pings:
            w.writerow([p.vehicle, p.t.isoformat(), f"{p.lon:.7f}", f"{p.lat:.7f}"])


def write_events_csv(path: str | Path, events: Iterable[StopEvent]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["vehicle", "time", "kind", "stop"])
        for e in events:
            w.writerow([e.vehicle, e.t.isoformat(), e.kind, e.stop])


# -- simulated drives (tests, benchmarks) -------------------------------------------------------


@dataclass(frozen=True)
class SimulatedDay:
    """A vehicle's simulated day: its pings and stop events, and the truth behind them:
    per leg the edges driven, when it left and how long it drove (seconds)."""

    pings: tuple[Ping, ...]
    events: tuple[StopEvent, ...]
    legs: tuple[tuple[tuple[int, ...], dt.datetime, float], ...]


def drive_positions(
    model: TimeDependentModel,
    edges: Sequence[int],
    depart_s: float,
    times: FloatArray,
    *,
    stretch: float = 1.0,
) -> tuple[FloatArray, FloatArray, float]:
    """(lon, lat) at ``times`` (seconds since the model's epoch) of a vehicle leaving along
    ``edges`` at ``depart_s`` at the model's speeds (steady along each edge), every
    moment of the drive ``stretch`` times as long; and its arrival."""
    e = np.asarray(edges, dtype=np.int64)
    enter = np.empty(len(e) + 1)
    enter[0] = depart_s
    for k in range(len(e)):
        enter[k + 1] = model.edge_exit_times(e[k : k + 1], enter[k : k + 1])[0]
    enter = depart_s + stretch * (enter - depart_s)
    net = model.network
    lon = np.asarray(net.node_lon, dtype=np.float64)
    lat = np.asarray(net.node_lat, dtype=np.float64)
    tail = np.asarray(net.edge_tail, dtype=np.int64)[e]
    head = np.asarray(net.edge_head, dtype=np.int64)[e]
    at = np.clip(np.searchsorted(enter, times, side="right") - 1, 0, len(e) - 1)
    span = np.maximum(enter[at + 1] - enter[at], 1e-9)
    f = np.clip((times - enter[at]) / span, 0.0, 1.0)
    return (
        lon[tail[at]] + f * (lon[head[at]] - lon[tail[at]]),
        lat[tail[at]] + f * (lat[head[at]] - lat[tail[at]]),
        float(enter[-1]),
    )


def simulate_day(
    model: TimeDependentModel,
    stops: Sequence[int],
    *,
    vehicle: str = "v1",
    depart_s: float = 8 * 3600,
    service_s: float = 180.0,
    interval_s: float = 10.0,
    noise_m: float = 10.0,
    seed: int = 0,
    leg_noise: TravelNoise | None = None,
) -> SimulatedDay:
    """A vehicle leaving node ``stops[0]`` at ``depart_s`` (seconds since the model's
    epoch) and visiting the other nodes in turn along the fastest paths of the
    model's speeds (its "true" speeds), staying ``service_s`` at each; a ping every
    ``interval_s`` seconds with Gaussian noise of ``noise_m`` metres per axis; an
    event when it leaves a stop (the first one too) and when it arrives at one. With
    ``leg_noise`` each leg takes a random factor of its time under those speeds (a
    driver slower or faster than the traffic)."""
    rng = np.random.default_rng(seed)
    net = model.network
    lat0 = math.radians(float(np.mean(np.asarray(net.node_lat, dtype=np.float64))))
    per_m_lon = 180 / (math.pi * EARTH_RADIUS_M * math.cos(lat0))
    per_m_lat = 180 / (math.pi * EARTH_RADIUS_M)
    epoch = model.epoch.replace(tzinfo=None)
    pings: list[Ping] = []
    events: list[StopEvent] = []
    legs: list[tuple[tuple[int, ...], dt.datetime, float]] = []
    t = float(depart_s)
    next_ping = t
    lon_node = np.asarray(net.node_lon, dtype=np.float64)
    lat_node = np.asarray(net.node_lat, dtype=np.float64)

    def add(times: FloatArray, lon: FloatArray, lat: FloatArray) -> None:
        dx = rng.normal(0.0, noise_m, size=len(times))
        dy = rng.normal(0.0, noise_m, size=len(times))
        for s, x, y, ex, ey in zip(times, lon, lat, dx, dy, strict=True):
            when = epoch + dt.timedelta(seconds=float(s))
            pings.append(Ping(vehicle, when, float(x + ex * per_m_lon), float(y + ey * per_m_lat)))

    for k in range(len(stops) - 1):
        a, b = int(stops[k]), int(stops[k + 1])
        events.append(StopEvent(vehicle, epoch + dt.timedelta(seconds=t), "departed", f"s{k}"))
        edges, arrival = model.fastest_path(a, b, t)
        stretch = leg_noise.sample(rng, arrival - t, t) if leg_noise is not None else 1.0
        arrival = t + stretch * (arrival - t)
        times = np.arange(next_ping, arrival, interval_s)
        lon, lat, arrival = drive_positions(model, edges, t, times, stretch=stretch)
        add(times, lon, lat)
        legs.append((tuple(edges), epoch + dt.timedelta(seconds=t), arrival - t))
        events.append(
            StopEvent(vehicle, epoch + dt.timedelta(seconds=arrival), "arrived", f"s{k + 1}")
        )
        leave = arrival + service_s
        still = np.arange(times[-1] + interval_s if len(times) else next_ping, leave, interval_s)
        add(still, np.full(len(still), lon_node[b]), np.full(len(still), lat_node[b]))
        next_ping = (
            still[-1] + interval_s
            if len(still)
            else (times[-1] + interval_s if len(times) else leave)
        )
        t = leave
    return SimulatedDay(tuple(pings), tuple(events), tuple(legs))
