"""Fast exact queries on a road network: chains of pass-through nodes folded away.

Most OSM nodes only shape a street (one way in, one way out). The search runs
on junctions only: each *chain* (a maximal run of edges through pass-through
nodes) becomes one edge whose time is the sum of its edges' times, recomputed
for every ``edge_time_s``. A point on the road is a position on one chain per
direction; a search leaves it towards the chain's head and reaches it from the
chain's tail, and two points on one chain also connect directly along it.
Results are exact: the same sums as a Dijkstra over every OSM node, in a
different order (rounding differences far below a microsecond).

Matrices search the junction graph one Dijkstra per source, or (``method="ch"``)
through a customizable contraction hierarchy of it (``ch``): built once per
network, customized once per edge time array, then small upward searches.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from lastmile.exceptions import InputError
from lastmile.travel.network._kernels import many_to_many, single_source
from lastmile.travel.network.ch import ContractionHierarchy, Metric
from lastmile.travel.network.results import Floats, Ints, PathResult, SnapResult


class ChainSource(Protocol):
    """What the chain graph reads from a road network (see ``RoadNetwork``)."""

    node_lon: Floats
    node_lat: Floats
    edge_tail: Ints
    edge_head: Ints
    edge_length_m: Floats
    edge_offsets: Ints

    @property
    def n_nodes(self) -> int: ...

    @property
    def n_edges(self) -> int: ...


class _Weights:
    """Everything that depends on one edge time array."""

    def __init__(self, graph: ChainGraph, edge_time_s: Floats) -> None:
        self.edge_time_s = edge_time_s
        ordered = edge_time_s[graph.chain_edges]
        self.chain_time = np.add.reduceat(ordered, graph.chain_ptr[:-1])
        # Time from the chain's tail junction to the start of each edge.
        prefix = np.zeros_like(ordered)
        csum = np.cumsum(ordered)
        prefix[1:] = csum[:-1]
        prefix -= np.repeat(prefix[graph.chain_ptr[:-1]], np.diff(graph.chain_ptr))
        self.edge_prefix_s = np.empty_like(prefix)
        self.edge_prefix_s[graph.chain_edges] = prefix
        self.slot_time = np.ascontiguousarray(self.chain_time[graph.slot_chain])
        self._graph = graph
        self._metric: Metric | None = None

    def metric(self) -> Metric:
        """The hierarchy customized for these times (computed once)."""
        if self._metric is None:
            g = self._graph
            self._metric = g.hierarchy().customize(self.slot_time, g.slot_len)
        return self._metric


class ChainGraph:
    """The junction graph of a road network with exact matrix and path queries."""

    def __init__(self, net: ChainSource) -> None:
        self.net = net
        n, m = net.n_nodes, net.n_edges
        tail, head = net.edge_tail, net.edge_head
        out_deg = np.bincount(tail, minlength=n)
        in_deg = np.bincount(head, minlength=n)
        both = np.concatenate([np.stack([tail, head], 1), np.stack([head, tail], 1)])
        nbr = np.bincount(np.unique(both, axis=0)[:, 0], minlength=n)
        passthrough = (nbr == 2) & (
            ((in_deg == 2) & (out_deg == 2)) | ((in_deg == 1) & (out_deg == 1))
        )
        junction = ~passthrough
        offsets = net.edge_offsets
        visited = np.zeros(m, dtype=bool)
        chain_edges: list[int] = []
        chain_ptr = [0]
        chain_tail: list[int] = []
        chain_head: list[int] = []
        head_l = head.tolist()
        tail_l = tail.tolist()
        off_l = offsets.tolist()
        junction_l = junction.tolist()

        def walk_from(u: int) -> None:
            for e0 in range(off_l[u], off_l[u + 1]):
                if visited[e0]:
                    continue
                e = e0
                while True:
                    visited[e] = True
                    chain_edges.append(e)
                    v = head_l[e]
                    if junction_l[v]:
                        break
                    came_from = tail_l[e]
                    nxt = -1
                    for f in range(off_l[v], off_l[v + 1]):
                        if head_l[f] != came_from:
                            nxt = f
                            break
                    e = nxt
                chain_tail.append(u)
                chain_head.append(v)
                chain_ptr.append(len(chain_edges))

        for u in np.flatnonzero(junction).tolist():
            walk_from(u)
        # Rings without any junction: promote one node of each to a junction.
        while not visited.all():
            u = tail_l[int(np.flatnonzero(~visited)[0])]
            junction_l[u] = True
            junction[u] = True
            walk_from(u)
        self.chain_edges = np.asarray(chain_edges, dtype=np.int64)
        self.chain_ptr = np.asarray(chain_ptr, dtype=np.int64)
        n_chain = len(chain_tail)
        self.edge_chain = np.empty(m, dtype=np.int64)
        self.edge_chain[self.chain_edges] = np.repeat(np.arange(n_chain), np.diff(self.chain_ptr))
        self.edge_pos = np.empty(m, dtype=np.int64)
        self.edge_pos[self.chain_edges] = np.arange(m) - np.repeat(
            self.chain_ptr[:-1], np.diff(self.chain_ptr)
        )
        # Junctions numbered 0..J-1; chains as a CSR over junctions.
        self.junction_nodes = np.flatnonzero(junction)
        jindex = np.full(n, -1, dtype=np.int64)
        jindex[self.junction_nodes] = np.arange(self.junction_nodes.shape[0])
        self.chain_tail_j = jindex[np.asarray(chain_tail, dtype=np.int64)]
        self.chain_head_j = jindex[np.asarray(chain_head, dtype=np.int64)]
        self.slot_chain = np.argsort(self.chain_tail_j, kind="stable")
        self.indptr = np.searchsorted(
            self.chain_tail_j[self.slot_chain], np.arange(self.junction_nodes.shape[0] + 1)
        ).astype(np.int64)
        self.slot_head = np.ascontiguousarray(self.chain_head_j[self.slot_chain])
        length_w = _Weights(self, net.edge_length_m)
        self.chain_len = length_w.chain_time
        self.edge_prefix_m = length_w.edge_prefix_s
        self.slot_len = length_w.slot_time
        self._weights: _Weights | None = None
        #: Where the contraction hierarchy is kept between runs (None: not kept).
        self.ch_path: Path | None = None
        self._ch: ContractionHierarchy | None = None
        self._ch_lock = threading.Lock()

    def hierarchy(self) -> ContractionHierarchy:
        """The junction graph's contraction hierarchy: read from ``ch_path`` or built."""
        if self._ch is not None:
            return self._ch
        with self._ch_lock:  # one build (and one cache file written) per process
            if self._ch is not None:
                return self._ch
            nodes = self.junction_nodes
            self._ch = ContractionHierarchy.cached(
                self.ch_path,
                self.indptr,
                self.slot_head,
                np.asarray(self.net.node_lon[nodes], dtype=np.float64),
                np.asarray(self.net.node_lat[nodes], dtype=np.float64),
            )
        return self._ch

    @property
    def n_junctions(self) -> int:
        return int(self.junction_nodes.shape[0])

    def customized(self, edge_time_s: Floats) -> bool:
        """Whether the hierarchy is customized for ``edge_time_s`` already."""
        w = self._weights
        return (
            w is not None
            and w._metric is not None
            and (w.edge_time_s is edge_time_s or np.array_equal(w.edge_time_s, edge_time_s))
        )

    def weights(self, edge_time_s: Floats) -> _Weights:
        w = self._weights
        if w is None or not (
            w.edge_time_s is edge_time_s or np.array_equal(w.edge_time_s, edge_time_s)
        ):
            w = _Weights(self, edge_time_s)
            self._weights = w
        return w

    # -- placements of points on chains -------------------------------------

    def placements(self, snaps: SnapResult, w: _Weights) -> dict[str, Ints | Floats]:
        """One row per (point, direction): chain, order key and positions."""
        rows, edges, fracs = [], [], []
        for edge, frac in (
            (snaps.edge_ab, snaps.fraction),
            (snaps.edge_ba, 1.0 - snaps.fraction),
        ):
            ok = edge >= 0
            rows.append(np.flatnonzero(ok))
            edges.append(edge[ok])
            fracs.append(frac[ok])
        row = np.concatenate(rows)
        e = np.concatenate(edges)
        f = np.concatenate(fracs)
        chain = self.edge_chain[e]
        pos_s = w.edge_prefix_s[e] + f * w.edge_time_s[e]
        pos_m = self.edge_prefix_m[e] + f * self.net.edge_length_m[e]
        return {
            "row": row,
            "edge": e,
            "frac": f,
            "chain": chain,
            "pos": self.edge_pos[e],
            "pos_s": pos_s,
            "pos_m": pos_m,
            "exit_j": self.chain_head_j[chain],
            "exit_s": np.maximum(0.0, w.chain_time[chain] - pos_s),
            "exit_m": np.maximum(0.0, self.chain_len[chain] - pos_m),
            "entry_j": self.chain_tail_j[chain],
        }

    # -- queries --------------------------------------------------------------

    def matrix(
        self,
        sources: SnapResult,
        targets: SnapResult,
        edge_time_s: Floats,
        *,
        method: str = "dijkstra",
    ) -> tuple[Floats, Floats]:
        """Durations and distances; ``method`` is ``"dijkstra"`` or ``"ch"``."""
        if method not in ("dijkstra", "ch"):
            raise InputError(f"must be 'dijkstra' or 'ch', got {method!r}", where="method")
        w = self.weights(edge_time_s)
        src_u, src_inv = _unique_points(sources)
        tgt_u, tgt_inv = _unique_points(targets)
        sp = self.placements(sources.subset(src_u), w)
        tp = self.placements(targets.subset(tgt_u), w)
        n_s, n_t = src_u.shape[0], tgt_u.shape[0]
        s_order = np.argsort(sp["row"], kind="stable")
        seed_ptr = np.searchsorted(sp["row"][s_order], np.arange(n_s + 1)).astype(np.int64)
        t_order = np.argsort(tp["row"], kind="stable")
        goal_ptr = np.searchsorted(tp["row"][t_order], np.arange(n_t + 1)).astype(np.int64)
        seed_node = np.ascontiguousarray(sp["exit_j"][s_order], dtype=np.int64)
        seed_time = np.ascontiguousarray(sp["exit_s"][s_order], dtype=np.float64)
        seed_len = np.ascontiguousarray(sp["exit_m"][s_order], dtype=np.float64)
        goal_node = np.ascontiguousarray(tp["entry_j"][t_order], dtype=np.int64)
        goal_time = np.ascontiguousarray(tp["pos_s"][t_order], dtype=np.float64)
        goal_len = np.ascontiguousarray(tp["pos_m"][t_order], dtype=np.float64)
        if method == "ch":
            dur, dist = self.hierarchy().many_to_many(
                w.metric(),
                seed_ptr, seed_node, seed_time, seed_len,
                goal_ptr, goal_node, goal_time, goal_len,
            )  # fmt: skip
        else:
            dur, dist = many_to_many(
                self.indptr, self.slot_head, w.slot_time, self.slot_len,
                seed_ptr, seed_node, seed_time, seed_len,
                goal_ptr, goal_node, goal_time, goal_len,
            )  # fmt: skip
        i, j, ct, cl = self._direct_pairs(sp, tp)
        better = (ct < dur[i, j]) | ((ct == dur[i, j]) & (cl < dist[i, j]))
        dur[i[better], j[better]] = ct[better]
        dist[i[better], j[better]] = cl[better]
        if (
            n_s == len(sources)
            and n_t == len(targets)
            and (src_inv == np.arange(n_s)).all()
            and (tgt_inv == np.arange(n_t)).all()
        ):
            return dur, dist
        return dur[np.ix_(src_inv, tgt_inv)], dist[np.ix_(src_inv, tgt_inv)]

    @staticmethod
    def _direct_pairs(
        sp: dict[str, Ints | Floats], tp: dict[str, Ints | Floats]
    ) -> tuple[Ints, Ints, Floats, Floats]:
        """Source/target placements on one chain with the target ahead: rows, cols, time, length."""
        t_order = np.argsort(tp["chain"], kind="stable")
        t_chain = tp["chain"][t_order]
        lo = np.searchsorted(t_chain, sp["chain"], side="left")
        hi = np.searchsorted(t_chain, sp["chain"], side="right")
        count = hi - lo
        a = np.repeat(np.arange(sp["chain"].shape[0]), count)
        b = t_order[np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + lo[a]]
        ahead = (tp["pos"][b] > sp["pos"][a]) | (
            (tp["pos"][b] == sp["pos"][a]) & (tp["frac"][b] >= sp["frac"][a])
        )
        a, b = a[ahead], b[ahead]
        return (
            sp["row"][a].astype(np.int64),
            tp["row"][b].astype(np.int64),
            np.maximum(0.0, tp["pos_s"][b] - sp["pos_s"][a]),
            np.maximum(0.0, tp["pos_m"][b] - sp["pos_m"][a]),
        )

    def path(self, source: SnapResult, target: SnapResult, edge_time_s: Floats) -> PathResult:
        net = self.net
        w = self.weights(edge_time_s)
        sp = self.placements(source.subset([0]), w)
        tp = self.placements(target.subset([0]), w)
        dist, dlen, pred = single_source(
            self.indptr,
            self.slot_head,
            w.slot_time,
            self.slot_len,
            np.ascontiguousarray(sp["exit_j"]),
            np.ascontiguousarray(sp["exit_s"]),
            np.ascontiguousarray(sp["exit_m"]),
            np.ascontiguousarray(tp["entry_j"]),
        )
        best_t, best_l = np.inf, np.inf
        best: tuple[str, int, int] = ("none", -1, -1)
        for b in range(tp["row"].shape[0]):
            j = int(tp["entry_j"][b])
            ct = float(dist[j] + tp["pos_s"][b])
            cl = float(dlen[j] + tp["pos_m"][b])
            if ct < best_t or (ct == best_t and cl < best_l):
                best_t, best_l, best = ct, cl, ("via", -1, b)
        for a in range(sp["row"].shape[0]):
            for b in range(tp["row"].shape[0]):
                if sp["chain"][a] != tp["chain"][b]:
                    continue
                if (tp["pos"][b], tp["frac"][b]) < (sp["pos"][a], sp["frac"][a]):
                    continue
                ct = max(0.0, float(tp["pos_s"][b] - sp["pos_s"][a]))
                cl = max(0.0, float(tp["pos_m"][b] - sp["pos_m"][a]))
                if ct < best_t or (ct == best_t and cl < best_l):
                    best_t, best_l, best = ct, cl, ("direct", a, b)
        kind, a, b = best
        if kind == "none":
            raise InputError("no path between the two points", where="path")
        ce, cp = self.chain_edges, self.chain_ptr
        if kind == "direct":
            c = int(sp["chain"][a])
            edges = ce[cp[c] + int(sp["pos"][a]) : cp[c] + int(tp["pos"][b]) + 1]
        else:
            # Walk the predecessors back from the target's entry junction.
            slots: list[int] = []
            j = int(tp["entry_j"][b])
            while pred[j] >= 0:
                s = int(pred[j])
                slots.append(s)
                j = int(self.chain_tail_j[self.slot_chain[s]])
            root = j
            cands = [k for k in range(sp["row"].shape[0]) if int(sp["exit_j"][k]) == root]
            a = min(cands, key=lambda k: (float(sp["exit_s"][k]), float(sp["exit_m"][k])))
            cs, ct_ = int(sp["chain"][a]), int(tp["chain"][b])
            parts = [ce[cp[cs] + int(sp["pos"][a]) : cp[cs + 1]]]
            for s in reversed(slots):
                c = int(self.slot_chain[s])
                parts.append(ce[cp[c] : cp[c + 1]])
            parts.append(ce[cp[ct_] : cp[ct_] + int(tp["pos"][b]) + 1])
            edges = np.concatenate(parts)
        inner = net.edge_head[edges[:-1]]
        lon = np.concatenate([source.snapped_lon[:1], net.node_lon[inner], target.snapped_lon[:1]])
        lat = np.concatenate([source.snapped_lat[:1], net.node_lat[inner], target.snapped_lat[:1]])
        return PathResult(
            duration_s=best_t, distance_m=best_l, lon=lon, lat=lat, edges=edges.astype(np.int64)
        )


def _unique_points(snaps: SnapResult) -> tuple[Ints, Ints]:
    """Indices of distinct road positions and, per point, its distinct index."""
    key = np.stack(
        [snaps.node_a.astype(np.float64), snaps.node_b.astype(np.float64), snaps.fraction], axis=1
    )
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)
