"""Compiled time-dependent Dijkstra (numba): exact earliest arrivals under FIFO travel.

Speeds are piecewise constant per (profile row, slot) on a uniform grid of slots
starting at ``g0`` (seconds since the epoch), extended beyond both ends with the
first/last slot's speed. ``cum[r, k]`` is the free-flow seconds covered from
``g0`` to the start of slot ``k`` on a road of row ``r``; an edge of free-flow
time ``tau`` entered at ``t`` is left at ``F^-1(F(t) + tau)``.

Label-setting is exact because travel is FIFO (leaving later never arrives
earlier), so a node's label is final when it leaves the heap. Sources run in
parallel threads; each writes only its own row of the outputs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@njit(cache=True, nogil=True)
def _exit_time(
    row: int, tau: float, t: float, cum: Floats, mult: Floats, g0: float, slot: float
) -> float:
    n_slots = mult.shape[1]
    # F(t): free-flow seconds covered since g0.
    if t <= g0:
        k = 0
        f = (t - g0) * mult[row, 0]
    else:
        k = int((t - g0) / slot)
        if k >= n_slots:
            k = n_slots - 1
        f = cum[row, k] + (t - (g0 + k * slot)) * mult[row, k]
    y = f + tau
    # Usually the edge ends in the slot it started in.
    if t <= g0 and y <= 0.0:
        return float(g0 + y / mult[row, 0])
    if k < n_slots - 1 and y <= cum[row, k + 1]:
        return float(g0 + k * slot + (y - cum[row, k]) / mult[row, k])
    if y >= cum[row, n_slots - 1]:
        k = n_slots - 1
    else:
        # Binary search the slot whose cumulative range holds y.
        lo = max(k, 0)
        hi = n_slots - 1
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if cum[row, mid] <= y:
                lo = mid
            else:
                hi = mid
        k = lo
    out = g0 + k * slot + (y - cum[row, k]) / mult[row, k]
    return float(max(out, t))


@njit(cache=True, nogil=True)
def _search(
    indptr: Ints,
    csr: Ints,
    head: Ints,
    edge_row: Ints,
    freeflow: Floats,
    length: Floats,
    cum: Floats,
    mult: Floats,
    g0: float,
    slot: float,
    source: int,
    depart: float,
    is_target: npt.NDArray[np.bool_],
    n_targets: int,
    arrival: Floats,
    dlen: Floats,
    pred: Ints,
) -> None:
    n_edges = csr.shape[0]
    heap_key = np.empty(n_edges + 2, dtype=np.float64)
    heap_node = np.empty(n_edges + 2, dtype=np.int64)
    settled = np.zeros(arrival.shape[0], dtype=np.bool_)
    arrival[source] = depart
    dlen[source] = 0.0
    heap_key[0] = depart
    heap_node[0] = source
    size = 1
    remaining = n_targets
    while size > 0:
        key = heap_key[0]
        u = heap_node[0]
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
        if settled[u] or key > arrival[u]:
            continue
        settled[u] = True
        if is_target[u]:
            remaining -= 1
            if remaining == 0:
                break
        tu = arrival[u]
        lu = dlen[u]
        for idx in range(indptr[u], indptr[u + 1]):
            e = csr[idx]
            v = head[e]
            if settled[v]:
                continue
            t = _exit_time(edge_row[e], freeflow[e], tu, cum, mult, g0, slot)
            if t < arrival[v]:
                arrival[v] = t
                dlen[v] = lu + length[e]
                pred[v] = e
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


@njit(cache=True, nogil=True)
def earliest_arrivals_serial(
    indptr: Ints,
    csr: Ints,
    head: Ints,
    edge_row: Ints,
    freeflow: Floats,
    length: Floats,
    cum: Floats,
    mult: Floats,
    g0: float,
    slot: float,
    sources: Ints,
    departs: Floats,
    targets: Ints,
) -> tuple[Floats, Floats, Ints]:
    """:func:`earliest_arrivals` in the calling thread: for a few sources, waking
    the thread pool costs more than the searches (and on a busy machine it may
    wait for a core)."""
    n = indptr.shape[0] - 1
    n_src = sources.shape[0]
    arrival = np.full((n_src, n), np.inf)
    dlen = np.full((n_src, n), np.inf)
    pred = np.full((n_src, n), -1, dtype=np.int64)
    is_target = np.zeros(n, dtype=np.bool_)
    count = 0
    for k in range(targets.shape[0]):
        if not is_target[targets[k]]:
            is_target[targets[k]] = True
            count += 1
    if count == 0:
        count = n + 1  # never stop early
    for s in range(n_src):
        _search(
            indptr,
            csr,
            head,
            edge_row,
            freeflow,
            length,
            cum,
            mult,
            g0,
            slot,
            sources[s],
            departs[s],
            is_target,
            count,
            arrival[s],
            dlen[s],
            pred[s],
        )
    return arrival, dlen, pred


@njit(cache=True, nogil=True, parallel=True)
def earliest_arrivals(
    indptr: Ints,
    csr: Ints,
    head: Ints,
    edge_row: Ints,
    freeflow: Floats,
    length: Floats,
    cum: Floats,
    mult: Floats,
    g0: float,
    slot: float,
    sources: Ints,
    departs: Floats,
    targets: Ints,
) -> tuple[Floats, Floats, Ints]:
    """(arrival, length, predecessor edge) per source row; exact for every target.

    With no targets every node is settled.
    """
    n = indptr.shape[0] - 1
    n_src = sources.shape[0]
    arrival = np.full((n_src, n), np.inf)
    dlen = np.full((n_src, n), np.inf)
    pred = np.full((n_src, n), -1, dtype=np.int64)
    is_target = np.zeros(n, dtype=np.bool_)
    count = 0
    for k in range(targets.shape[0]):
        if not is_target[targets[k]]:
            is_target[targets[k]] = True
            count += 1
    if count == 0:
        count = n + 1  # never stop early
    for s in prange(n_src):
        _search(
            indptr,
            csr,
            head,
            edge_row,
            freeflow,
            length,
            cum,
            mult,
            g0,
            slot,
            sources[s],
            departs[s],
            is_target,
            count,
            arrival[s],
            dlen[s],
            pred[s],
        )
    return arrival, dlen, pred
