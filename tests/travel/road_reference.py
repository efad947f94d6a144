"""An independent Dijkstra over every OSM node, points inserted as extra nodes.

Deliberately simple (heapq, dicts) and sharing no code with the library's search.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

import numpy as np


def reference_matrix(net, snaps, edge_time_s=None, sources=None):
    """Durations and distances (fastest path, shortest among equally fast) by heapq Dijkstra.

    Each snapped point becomes a node splitting its segment's directed edges.
    ``sources`` limits the rows (indices into ``snaps``); columns are all points.
    """
    times = net.edge_freeflow_s if edge_time_s is None else np.asarray(edge_time_s)
    n = net.n_nodes
    adj: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    # Points on each directed edge, with their fraction along it.
    # Points at one spot share one node (travel between them takes no time).
    on_edge: dict[int, list[tuple[float, int]]] = defaultdict(list)
    node_of: dict[tuple[int, int, float], int] = {}
    point_node = []
    for k in range(len(snaps)):
        f = float(snaps.fraction[k])
        spot = (int(snaps.node_a[k]), int(snaps.node_b[k]), f)
        if spot in node_of:
            point_node.append(node_of[spot])
            continue
        node_of[spot] = point_node_k = n + k
        point_node.append(point_node_k)
        if snaps.edge_ab[k] >= 0:
            on_edge[int(snaps.edge_ab[k])].append((f, point_node_k))
        if snaps.edge_ba[k] >= 0:
            on_edge[int(snaps.edge_ba[k])].append((1.0 - f, point_node_k))
    for e in range(net.n_edges):
        u, v = int(net.edge_tail[e]), int(net.edge_head[e])
        t, ln = float(times[e]), float(net.edge_length_m[e])
        adj[u].append((v, t, ln))
        prev_node, prev_f = u, 0.0
        for f, p in sorted(on_edge.get(e, [])):
            adj[prev_node].append((p, (f - prev_f) * t, (f - prev_f) * ln))
            prev_node, prev_f = p, f
        if prev_node != u:
            adj[prev_node].append((v, (1.0 - prev_f) * t, (1.0 - prev_f) * ln))
    rows = range(len(snaps)) if sources is None else sources
    dur = np.full((len(rows), len(snaps)), np.inf)
    dist = np.full((len(rows), len(snaps)), np.inf)
    for r, s in enumerate(rows):
        best: dict[int, tuple[float, float]] = {point_node[s]: (0.0, 0.0)}
        heap = [(0.0, 0.0, point_node[s])]
        done: set[int] = set()
        while heap:
            t, ln, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            for v, dt, dl in adj[u]:
                cand = (t + dt, ln + dl)
                if v not in best or cand < best[v]:
                    best[v] = cand
                    heapq.heappush(heap, (cand[0], cand[1], v))
        for k in range(len(snaps)):
            dur[r, k], dist[r, k] = best.get(point_node[k], (np.inf, np.inf))
    return dur, dist
