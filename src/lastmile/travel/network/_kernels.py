"""Compiled shortest-path kernels over a CSR road graph (numba).

Dijkstra with a binary heap and lazy deletion, labelled with travel time and,
for the same path, its length: among paths of equal time the shorter one wins,
so distances are those of the fastest path, never of the shortest one.

Sources may start part-way along an edge: each source is a small set of
``(node, time, length)`` seeds. A search stops as soon as every node it is
asked about is settled. ``many_to_many`` shares the sources among threads
(the kernels release the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from numba import njit

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@njit(cache=True, nogil=True)
def _search(
    indptr: Ints,
    head: Ints,
    time_s: Floats,
    length_m: Floats,
    seed_node: Ints,
    seed_time: Floats,
    seed_len: Floats,
    is_wanted: npt.NDArray[np.bool_],
    n_wanted: int,
    dist: Floats,
    dlen: Floats,
    pred_edge: Ints,
) -> None:
    """One Dijkstra from seeds; fills dist/dlen/pred_edge (pre-set to inf/inf/-1)."""
    n_edges = head.shape[0]
    heap_key = np.empty(n_edges + seed_node.shape[0] + 1, dtype=np.float64)
    heap_node = np.empty(n_edges + seed_node.shape[0] + 1, dtype=np.int64)
    settled = np.zeros(dist.shape[0], dtype=np.bool_)
    size = 0
    for k in range(seed_node.shape[0]):
        v = seed_node[k]
        t = seed_time[k]
        if t < dist[v] or (t == dist[v] and seed_len[k] < dlen[v]):
            dist[v] = t
            dlen[v] = seed_len[k]
            pred_edge[v] = -1
            # push
            i = size
            size += 1
            while i > 0:
                p = (i - 1) >> 1
                if heap_key[p] <= t:
                    break
                heap_key[i] = heap_key[p]
                heap_node[i] = heap_node[p]
                i = p
            heap_key[i] = t
            heap_node[i] = v
    remaining = n_wanted
    while size > 0 and remaining > 0:
        key = heap_key[0]
        u = heap_node[0]
        # pop: move the last element down from the root
        size -= 1
        last_key = heap_key[size]
        last_node = heap_node[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and heap_key[c + 1] < heap_key[c]:
                c += 1
            if heap_key[c] >= last_key:
                break
            heap_key[i] = heap_key[c]
            heap_node[i] = heap_node[c]
            i = c
        heap_key[i] = last_key
        heap_node[i] = last_node
        if settled[u] or key > dist[u]:
            continue
        settled[u] = True
        if is_wanted[u]:
            remaining -= 1
        du = dist[u]
        lu = dlen[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head[e]
            if settled[v]:
                continue
            t = du + time_s[e]
            ln = lu + length_m[e]
            if t < dist[v]:
                dist[v] = t
                dlen[v] = ln
                pred_edge[v] = e
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) >> 1
                    if heap_key[p] <= t:
                        break
                    heap_key[i] = heap_key[p]
                    heap_node[i] = heap_node[p]
                    i = p
                heap_key[i] = t
                heap_node[i] = v
            elif t == dist[v] and ln < dlen[v]:
                dlen[v] = ln
                pred_edge[v] = e


@njit(cache=True, nogil=True)
def single_source(
    indptr: Ints,
    head: Ints,
    time_s: Floats,
    length_m: Floats,
    seed_node: Ints,
    seed_time: Floats,
    seed_len: Floats,
    wanted: Ints,
) -> tuple[Floats, Floats, Ints]:
    """Labels (time, length, predecessor edge) of every node, exact for ``wanted``."""
    n = indptr.shape[0] - 1
    dist = np.full(n, np.inf)
    dlen = np.full(n, np.inf)
    pred = np.full(n, -1, dtype=np.int64)
    is_wanted = np.zeros(n, dtype=np.bool_)
    count = 0
    for k in range(wanted.shape[0]):
        if not is_wanted[wanted[k]]:
            is_wanted[wanted[k]] = True
            count += 1
    _search(
        indptr, head, time_s, length_m, seed_node, seed_time, seed_len,
        is_wanted, count, dist, dlen, pred,
    )  # fmt: skip
    return dist, dlen, pred


@njit(cache=True, nogil=True)
def many_to_many_rows(
    indptr: Ints,
    head: Ints,
    time_s: Floats,
    length_m: Floats,
    seed_ptr: Ints,
    seed_node: Ints,
    seed_time: Floats,
    seed_len: Floats,
    goal_ptr: Ints,
    goal_node: Ints,
    goal_time: Floats,
    goal_len: Floats,
    first: int,
    stop: int,
    out_t: Floats,
    out_l: Floats,
) -> None:
    """Rows ``first:stop`` of ``many_to_many`` written into ``out_t``/``out_l``.

    Releases the GIL, so threads can fill disjoint row ranges at once.
    """
    n = indptr.shape[0] - 1
    n_tgt = goal_ptr.shape[0] - 1
    is_wanted = np.zeros(n, dtype=np.bool_)
    count = 0
    for k in range(goal_node.shape[0]):
        if not is_wanted[goal_node[k]]:
            is_wanted[goal_node[k]] = True
            count += 1
    dist = np.empty(n, dtype=np.float64)
    dlen = np.empty(n, dtype=np.float64)
    pred = np.empty(n, dtype=np.int64)
    for s in range(first, stop):
        dist[:] = np.inf
        dlen[:] = np.inf
        a = seed_ptr[s]
        b = seed_ptr[s + 1]
        _search(
            indptr, head, time_s, length_m, seed_node[a:b], seed_time[a:b], seed_len[a:b],
            is_wanted, count, dist, dlen, pred,
        )  # fmt: skip
        for t in range(n_tgt):
            best_t = np.inf
            best_l = np.inf
            for k in range(goal_ptr[t], goal_ptr[t + 1]):
                v = goal_node[k]
                ct = dist[v] + goal_time[k]
                cl = dlen[v] + goal_len[k]
                if ct < best_t or (ct == best_t and cl < best_l):
                    best_t = ct
                    best_l = cl
            out_t[s, t] = best_t
            out_l[s, t] = best_l


def many_to_many(
    indptr: Ints,
    head: Ints,
    time_s: Floats,
    length_m: Floats,
    seed_ptr: Ints,
    seed_node: Ints,
    seed_time: Floats,
    seed_len: Floats,
    goal_ptr: Ints,
    goal_node: Ints,
    goal_time: Floats,
    goal_len: Floats,
    *,
    threads: int | None = None,
) -> tuple[Floats, Floats]:
    """Time and length from every source to every target.

    Source ``s`` starts from seeds ``seed_ptr[s]:seed_ptr[s+1]``; target ``t`` is
    reached through goals ``goal_ptr[t]:goal_ptr[t+1]``: node ``goal_node[k]``
    plus ``goal_time[k]``/``goal_len[k]``. Returns two ``(n_sources, n_targets)``
    arrays (the fastest goal, the shorter on equal time); unreachable is ``inf``.
    Sources are shared among ``threads`` threads (default: one per CPU).
    """
    n_src = seed_ptr.shape[0] - 1
    n_tgt = goal_ptr.shape[0] - 1
    out_t = np.empty((n_src, n_tgt), dtype=np.float64)
    out_l = np.empty((n_src, n_tgt), dtype=np.float64)
    args = (
        indptr, head, time_s, length_m, seed_ptr, seed_node, seed_time, seed_len,
        goal_ptr, goal_node, goal_time, goal_len,
    )  # fmt: skip
    workers = max(1, min(threads or os.cpu_count() or 1, n_src // 16))
    if workers == 1:
        many_to_many_rows(*args, 0, n_src, out_t, out_l)
        return out_t, out_l
    bounds = np.linspace(0, n_src, workers + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(many_to_many_rows, *args, lo, hi, out_t, out_l)
            for lo, hi in pairwise(bounds.tolist())
        ]
        for f in futures:
            f.result()
    return out_t, out_l
