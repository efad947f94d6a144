"""Compiled kernels of the customizable contraction hierarchy (numba).

Four steps, each a loop over arrays:

- ``dissection_order``: a nested-dissection node order from coordinates (split a
  part at its median along its longer side, the nodes along the cut get the
  highest ranks, recurse into both halves);
- ``eliminate``: the chordal supergraph of that order (contract nodes lowest rank
  first, connecting each node's higher neighbours), as upward arcs per node;
- ``customize``: the weights of every upward arc for one metric, by lower
  triangles (labels are (time, length) pairs compared time first);
- ``bucket_rows``: many-to-many queries. Every upward search walks the node's
  ancestors in the elimination tree in rank order, no priority queue; targets
  leave (target, time, length) entries in buckets at the nodes they reach
  backwards, sources scan the buckets of the nodes they reach forwards.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@njit(cache=True)
def dissection_order(indptr: Ints, nbr: Ints, x: Floats, y: Floats, leaf: int) -> Ints:
    """Rank of every node (0 lowest) by geometric nested dissection.

    ``indptr``/``nbr`` is the undirected adjacency; parts of at most ``leaf``
    nodes are ranked as they come.
    """
    n = indptr.shape[0] - 1
    perm = np.arange(n)
    rank = np.full(n, -1, dtype=np.int64)
    side = np.full(n, -1, dtype=np.int64)
    stack_lo = np.empty(2 * n + 2, dtype=np.int64)
    stack_hi = np.empty(2 * n + 2, dtype=np.int64)
    top = 0
    stack_lo[0] = 0
    stack_hi[0] = n
    top = 1
    stamp = 0
    while top > 0:
        top -= 1
        lo = stack_lo[top]
        hi = stack_hi[top]
        size = hi - lo
        if size <= leaf:
            for i in range(lo, hi):
                rank[perm[i]] = i
            continue
        seg = perm[lo:hi].copy()
        x0 = x[seg].min()
        x1 = x[seg].max()
        y0 = y[seg].min()
        y1 = y[seg].max()
        key = x[seg] if x1 - x0 >= y1 - y0 else y[seg]
        seg = seg[np.argsort(key, kind="mergesort")]
        half = size // 2
        stamp += 2
        for i in range(size):
            side[seg[i]] = stamp if i < half else stamp + 1
        # Nodes of each half with a neighbour in the other: keep the smaller set.
        n_left_cut = 0
        n_right_cut = 0
        cut = np.zeros(size, dtype=np.bool_)
        for i in range(size):
            v = seg[i]
            other = stamp + 1 if i < half else stamp
            for k in range(indptr[v], indptr[v + 1]):
                if side[nbr[k]] == other:
                    cut[i] = True
                    break
            if cut[i]:
                if i < half:
                    n_left_cut += 1
                else:
                    n_right_cut += 1
        take_left = n_left_cut <= n_right_cut
        n_sep = n_left_cut if take_left else n_right_cut
        a = lo
        # Left rest, right rest, separator last (highest ranks of this part).
        for i in range(half):
            if not (cut[i] and take_left):
                perm[a] = seg[i]
                a += 1
        mid = a
        for i in range(half, size):
            if not (cut[i] and not take_left):
                perm[a] = seg[i]
                a += 1
        for i in range(size):
            if cut[i] and ((i < half) == take_left):
                perm[a] = seg[i]
                rank[seg[i]] = a
                a += 1
        if mid > lo:
            stack_lo[top] = lo
            stack_hi[top] = mid
            top += 1
        if hi - n_sep > mid:
            stack_lo[top] = mid
            stack_hi[top] = hi - n_sep
            top += 1
    return rank


@njit(cache=True)
def eliminate(indptr: Ints, nbr: Ints) -> tuple[Ints, Ints, Ints]:
    """Upward arcs of the chordal supergraph, nodes numbered by rank.

    Returns ``up_ptr``, ``up_head`` (each node's higher neighbours, ascending)
    and ``parent`` (the lowest of them: the elimination tree; -1 at roots).
    """
    n = indptr.shape[0] - 1
    parent = np.full(n, -1, dtype=np.int64)
    up_ptr = np.zeros(n + 1, dtype=np.int64)
    cap = max(16, 4 * nbr.shape[0])
    buf = np.empty(cap, dtype=np.int64)
    child_head = np.full(n, -1, dtype=np.int64)
    child_next = np.full(n, -1, dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    for v in range(n):
        cnt = 0
        for k in range(indptr[v], indptr[v + 1]):
            w = nbr[k]
            if w > v and mark[w] != v:
                mark[w] = v
                tmp[cnt] = w
                cnt += 1
        c = child_head[v]
        while c != -1:
            for k in range(up_ptr[c], up_ptr[c + 1]):
                w = buf[k]
                if w != v and mark[w] != v:
                    mark[w] = v
                    tmp[cnt] = w
                    cnt += 1
            c = child_next[c]
        s = np.sort(tmp[:cnt])
        start = up_ptr[v]
        if start + cnt > cap:
            cap = max(2 * cap, start + cnt)
            grown = np.empty(cap, dtype=np.int64)
            grown[:start] = buf[:start]
            buf = grown
        buf[start : start + cnt] = s
        up_ptr[v + 1] = start + cnt
        if cnt:
            p = s[0]
            parent[v] = p
            child_next[v] = child_head[p]
            child_head[p] = v
    return up_ptr, buf[: up_ptr[n]].copy(), parent


@njit(cache=True)
def arc_of_edges(up_ptr: Ints, up_head: Ints, tail: Ints, head: Ints) -> tuple[Ints, Ints]:
    """For each edge (ranks ``tail`` -> ``head``): its upward arc and 0 (upward) or 1.

    A loop (a ring back to its own node) is on no fastest path: arc -1.
    """
    m = tail.shape[0]
    arc = np.empty(m, dtype=np.int64)
    down = np.empty(m, dtype=np.int64)
    for e in range(m):
        u = tail[e]
        w = head[e]
        if u == w:
            arc[e] = -1
            down[e] = 0
            continue
        lo = min(u, w)
        hi = max(u, w)
        a = up_ptr[lo]
        b = up_ptr[lo + 1]
        arc[e] = a + np.searchsorted(up_head[a:b], hi)
        down[e] = 0 if u < w else 1
    return arc, down


@njit(cache=True)
def down_arcs(up_ptr: Ints, up_head: Ints) -> tuple[Ints, Ints, Ints]:
    """Arcs by their higher end: ``down_ptr``, and per entry the arc and its lower end."""
    n = up_ptr.shape[0] - 1
    m = up_head.shape[0]
    down_ptr = np.zeros(n + 1, dtype=np.int64)
    for a in range(m):
        down_ptr[up_head[a] + 1] += 1
    for v in range(n):
        down_ptr[v + 1] += down_ptr[v]
    fill = down_ptr[:-1].copy()
    down_arc = np.empty(m, dtype=np.int64)
    down_src = np.empty(m, dtype=np.int64)
    for v in range(n):
        for a in range(up_ptr[v], up_ptr[v + 1]):
            x = up_head[a]
            down_arc[fill[x]] = a
            down_src[fill[x]] = v
            fill[x] += 1
    return down_ptr, down_arc, down_src


@njit(cache=True, nogil=True)
def initial_weights(
    m: int, edge_arc: Ints, edge_down: Ints, edge_t: Floats, edge_l: Floats
) -> tuple[Floats, Floats, Floats, Floats]:
    """Arc weights before customization: the best original edge on each arc, else inf."""
    ut = np.full(m, np.inf)
    ul = np.full(m, np.inf)
    dt = np.full(m, np.inf)
    dl = np.full(m, np.inf)
    for e in range(edge_arc.shape[0]):
        a = edge_arc[e]
        if a < 0:
            continue
        t = edge_t[e]
        ln = edge_l[e]
        if edge_down[e] == 0:
            if t < ut[a] or (t == ut[a] and ln < ul[a]):
                ut[a] = t
                ul[a] = ln
        elif t < dt[a] or (t == dt[a] and ln < dl[a]):
            dt[a] = t
            dl[a] = ln
    return ut, ul, dt, dl


@njit(cache=True, nogil=True)
def customize_nodes(
    up_ptr: Ints,
    up_head: Ints,
    down_ptr: Ints,
    down_arc: Ints,
    down_src: Ints,
    nodes: Ints,
    ut: Floats,
    ul: Floats,
    dt: Floats,
    dl: Floats,
) -> None:
    """Finish the arcs ``x -> y`` of every ``x`` in ``nodes`` (ascending rank), in place.

    Each ``x`` takes the lower triangles ``x - v - y`` (``v`` below ``x``: a
    descendant in the elimination tree, whose arcs are final by then); a
    node-indexed scratch array finds arc ``x -> y`` without a search. Node sets
    in disjoint subtrees can run in parallel threads (the GIL is released).
    """
    n = up_ptr.shape[0] - 1
    slot = np.full(n, -1, dtype=np.int64)
    for q in range(nodes.shape[0]):
        x = nodes[q]
        for b in range(up_ptr[x], up_ptr[x + 1]):
            slot[up_head[b]] = b
        for k in range(down_ptr[x], down_ptr[x + 1]):
            i = down_arc[k]  # arc v - x
            v = down_src[k]
            xv_t = dt[i]  # x -> v
            xv_l = dl[i]
            vx_t = ut[i]  # v -> x
            vx_l = ul[i]
            if xv_t == np.inf and vx_t == np.inf:
                continue
            for j in range(i + 1, up_ptr[v + 1]):
                b = slot[up_head[j]]
                # x -> v -> y
                t = xv_t + ut[j]
                if t < ut[b]:
                    ut[b] = t
                    ul[b] = xv_l + ul[j]
                elif t == ut[b] and xv_l + ul[j] < ul[b]:
                    ul[b] = xv_l + ul[j]
                # y -> v -> x
                t = dt[j] + vx_t
                if t < dt[b]:
                    dt[b] = t
                    dl[b] = dl[j] + vx_l
                elif t == dt[b] and dl[j] + vx_l < dl[b]:
                    dl[b] = dl[j] + vx_l
        for b in range(up_ptr[x], up_ptr[x + 1]):
            slot[up_head[b]] = -1


@njit(cache=True)
def merge_buckets(
    ptr_a: Ints,
    tgt_a: Ints,
    t_a: Floats,
    l_a: Floats,
    ptr_b: Ints,
    tgt_b: Ints,
    t_b: Floats,
    l_b: Floats,
    offset_b: int,
) -> tuple[Ints, Ints, Floats, Floats]:
    """Two bucket sets as one (the second's targets shifted by ``offset_b``)."""
    n = ptr_a.shape[0] - 1
    size = tgt_a.shape[0] + tgt_b.shape[0]
    ptr = np.zeros(n + 1, dtype=np.int64)
    tgt = np.empty(size, dtype=np.int64)
    tt = np.empty(size)
    ll = np.empty(size)
    p = 0
    for v in range(n):
        for k in range(ptr_a[v], ptr_a[v + 1]):
            tgt[p] = tgt_a[k]
            tt[p] = t_a[k]
            ll[p] = l_a[k]
            p += 1
        for k in range(ptr_b[v], ptr_b[v + 1]):
            tgt[p] = tgt_b[k] + offset_b
            tt[p] = t_b[k]
            ll[p] = l_b[k]
            p += 1
        ptr[v + 1] = p
    return ptr, tgt, tt, ll


@njit(cache=True, nogil=True)
def _upward(
    up_ptr: Ints,
    up_head: Ints,
    wt: Floats,
    wl: Floats,
    parent: Ints,
    seed_node: Ints,
    seed_t: Floats,
    seed_l: Floats,
    dist_t: Floats,
    dist_l: Floats,
    seen: npt.NDArray[np.bool_],
    space: Ints,
) -> int:
    """Labels of the seeds' ancestors (``dist_*`` pre-set to inf); their count in ``space``."""
    cnt = 0
    for k in range(seed_node.shape[0]):
        v = seed_node[k]
        while v != -1 and not seen[v]:
            seen[v] = True
            space[cnt] = v
            cnt += 1
            v = parent[v]
    space[:cnt] = np.sort(space[:cnt])
    for k in range(seed_node.shape[0]):
        v = seed_node[k]
        t = seed_t[k]
        if t < dist_t[v] or (t == dist_t[v] and seed_l[k] < dist_l[v]):
            dist_t[v] = t
            dist_l[v] = seed_l[k]
    for i in range(cnt):
        v = space[i]
        seen[v] = False
        tv = dist_t[v]
        if tv == np.inf:
            continue
        lv = dist_l[v]
        for a in range(up_ptr[v], up_ptr[v + 1]):
            t = tv + wt[a]
            w = up_head[a]
            if t < dist_t[w]:
                dist_t[w] = t
                dist_l[w] = lv + wl[a]
            elif t == dist_t[w]:
                ln = lv + wl[a]
                if ln < dist_l[w]:
                    dist_l[w] = ln
    return cnt


@njit(cache=True, nogil=True)
def fill_buckets(
    up_ptr: Ints,
    up_head: Ints,
    dt: Floats,
    dl: Floats,
    parent: Ints,
    goal_ptr: Ints,
    goal_node: Ints,
    goal_t: Floats,
    goal_l: Floats,
) -> tuple[Ints, Ints, Floats, Floats]:
    """Backward searches from every target: buckets as CSR over nodes.

    Returns ``bucket_ptr`` and, per entry, target, time and length to the target.
    """
    n = up_ptr.shape[0] - 1
    n_tgt = goal_ptr.shape[0] - 1
    dist_t = np.full(n, np.inf)
    dist_l = np.full(n, np.inf)
    seen = np.zeros(n, dtype=np.bool_)
    space = np.empty(n, dtype=np.int64)
    cap = 1024
    e_node = np.empty(cap, dtype=np.int64)
    e_tgt = np.empty(cap, dtype=np.int64)
    e_t = np.empty(cap)
    e_l = np.empty(cap)
    size = 0
    for g in range(n_tgt):
        a = goal_ptr[g]
        b = goal_ptr[g + 1]
        cnt = _upward(
            up_ptr, up_head, dt, dl, parent, goal_node[a:b], goal_t[a:b], goal_l[a:b],
            dist_t, dist_l, seen, space,
        )  # fmt: skip
        if size + cnt > cap:
            cap = max(2 * cap, size + cnt)
            n2 = np.empty(cap, dtype=np.int64)
            n2[:size] = e_node[:size]
            e_node = n2
            g2 = np.empty(cap, dtype=np.int64)
            g2[:size] = e_tgt[:size]
            e_tgt = g2
            t2 = np.empty(cap)
            t2[:size] = e_t[:size]
            e_t = t2
            l2 = np.empty(cap)
            l2[:size] = e_l[:size]
            e_l = l2
        for i in range(cnt):
            v = space[i]
            if dist_t[v] < np.inf:
                e_node[size] = v
                e_tgt[size] = g
                e_t[size] = dist_t[v]
                e_l[size] = dist_l[v]
                size += 1
            dist_t[v] = np.inf
            dist_l[v] = np.inf
    ptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(size):
        ptr[e_node[k] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    fill = ptr[:-1].copy()
    b_tgt = np.empty(size, dtype=np.int64)
    b_t = np.empty(size)
    b_l = np.empty(size)
    for k in range(size):
        v = e_node[k]
        p = fill[v]
        fill[v] += 1
        b_tgt[p] = e_tgt[k]
        b_t[p] = e_t[k]
        b_l[p] = e_l[k]
    return ptr, b_tgt, b_t, b_l


@njit(cache=True, nogil=True)
def bucket_rows(
    up_ptr: Ints,
    up_head: Ints,
    ut: Floats,
    ul: Floats,
    parent: Ints,
    seed_ptr: Ints,
    seed_node: Ints,
    seed_t: Floats,
    seed_l: Floats,
    bucket_ptr: Ints,
    bucket_tgt: Ints,
    bucket_t: Floats,
    bucket_l: Floats,
    first: int,
    stop: int,
    out_t: Floats,
    out_l: Floats,
) -> None:
    """Rows ``first:stop``: forward searches scanning the targets' buckets.

    ``out_t``/``out_l`` rows are pre-set to inf. Releases the GIL, so threads can
    fill disjoint row ranges at once.
    """
    n = up_ptr.shape[0] - 1
    dist_t = np.full(n, np.inf)
    dist_l = np.full(n, np.inf)
    seen = np.zeros(n, dtype=np.bool_)
    space = np.empty(n, dtype=np.int64)
    for s in range(first, stop):
        a = seed_ptr[s]
        b = seed_ptr[s + 1]
        cnt = _upward(
            up_ptr, up_head, ut, ul, parent, seed_node[a:b], seed_t[a:b], seed_l[a:b],
            dist_t, dist_l, seen, space,
        )  # fmt: skip
        row_t = out_t[s]
        row_l = out_l[s]
        for i in range(cnt):
            v = space[i]
            tv = dist_t[v]
            lv = dist_l[v]
            dist_t[v] = np.inf
            dist_l[v] = np.inf
            if tv == np.inf:
                continue
            for k in range(bucket_ptr[v], bucket_ptr[v + 1]):
                g = bucket_tgt[k]
                t = tv + bucket_t[k]
                if t < row_t[g]:
                    row_t[g] = t
                    row_l[g] = lv + bucket_l[k]
                elif t == row_t[g]:
                    ln = lv + bucket_l[k]
                    if ln < row_l[g]:
                        row_l[g] = ln
