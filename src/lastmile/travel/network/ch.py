"""A customizable contraction hierarchy (CCH) for exact many-to-many matrices.

Why: a matrix by one Dijkstra per source costs sources x network size; on a
city of several hundred thousand nodes that is seconds per hundred sources.
A contraction hierarchy answers a source-target pair by two small upward
searches instead.

Customizable, in three phases:

1. *Order* (metric-independent, once per network): nested dissection on the
   node coordinates (``_ch_kernels.dissection_order``).
2. *Contraction* (metric-independent, once): the chordal supergraph of that
   order, as upward arcs per node and its elimination tree. Phases 1 and 2 are
   :class:`ContractionHierarchy` and are saved beside the network's cache.
3. *Customization* (per metric: free-flow, a traffic slice, weather): the time
   and length of every arc, a linear pass over lower triangles
   (:meth:`ContractionHierarchy.customize`, well under a second on a city).

Queries (:meth:`ContractionHierarchy.many_to_many`) are bucket based: backward
searches from the targets leave entries at the nodes they reach, forward
searches from the sources scan them. Labels are (time, length) pairs compared
time first, as the Dijkstra kernels do, so a matrix holds the same fastest
paths and, among equal times, the same shortest lengths; sums are added in a
different order (rounding differences far below a microsecond).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from lastmile.exceptions import InputError
from lastmile.travel.network import _ch_kernels as kernels
from lastmile.travel.network.results import Floats, Ints

#: Version of the saved hierarchy's layout (a different one is rebuilt).
CH_VERSION = 1
#: Parts of at most this many nodes are ranked without splitting them further.
_LEAF = 8


@dataclass(frozen=True)
class Metric:
    """One customization: per upward arc, time and length upward and downward."""

    up_time: Floats
    up_length: Floats
    down_time: Floats
    down_length: Floats


def graph_fingerprint(indptr: Ints, head: Ints) -> str:
    """What a saved hierarchy must have been built for: the graph's arcs."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(indptr, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(head, dtype=np.int64).tobytes())
    digest.update(str(CH_VERSION).encode())
    return digest.hexdigest()[:24]


class ContractionHierarchy:
    """Order and chordal supergraph of a directed graph given as CSR arcs.

    ``indptr``/``head`` list the arcs leaving each node (parallel arcs allowed:
    the customization keeps the better one); ``x``/``y`` are node coordinates
    for the order (any planar projection; lon/lat will do for a city).
    """

    def __init__(
        self,
        *,
        rank: Ints,
        up_ptr: Ints,
        up_head: Ints,
        parent: Ints,
        arc_tail: Ints,
        arc_head: Ints,
        fingerprint: str,
    ) -> None:
        self.rank = rank
        self.up_ptr = up_ptr
        self.up_head = up_head
        self.parent = parent
        self.fingerprint = fingerprint
        self._edge_arc, self._edge_down = kernels.arc_of_edges(
            up_ptr, up_head, rank[arc_tail], rank[arc_head]
        )
        self._down = kernels.down_arcs(up_ptr, up_head)
        self._parallel = _subtree_split(parent, up_ptr)

    @property
    def n_nodes(self) -> int:
        return int(self.rank.shape[0])

    @property
    def n_arcs(self) -> int:
        """Upward arcs of the chordal supergraph (original edges and shortcuts)."""
        return int(self.up_head.shape[0])

    @classmethod
    def build(cls, indptr: Ints, head: Ints, x: Floats, y: Floats) -> ContractionHierarchy:
        """Order the nodes and contract them (phases 1 and 2)."""
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        head = np.ascontiguousarray(head, dtype=np.int64)
        n = indptr.shape[0] - 1
        if x.shape != (n,) or y.shape != (n,):
            raise InputError(f"coordinates must have {n} entries", where="x/y")
        tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        rank = kernels.dissection_order(
            *_undirected(n, tail, head),
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            _LEAF,
        )
        up_ptr, up_head, parent = kernels.eliminate(*_undirected(n, rank[tail], rank[head]))
        return cls(
            rank=rank,
            up_ptr=up_ptr,
            up_head=up_head,
            parent=parent,
            arc_tail=tail,
            arc_head=head,
            fingerprint=graph_fingerprint(indptr, head),
        )

    # -- disk cache -----------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write phases 1 and 2 (npz); the customizations are not kept."""
        target = Path(path)
        # Per process: two processes warming up at once do not write one file.
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            version=np.array(CH_VERSION),
            fingerprint=np.array(self.fingerprint),
            rank=self.rank,
            up_ptr=self.up_ptr,
            up_head=self.up_head,
            parent=self.parent,
        )
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | Path, indptr: Ints, head: Ints) -> ContractionHierarchy:
        """Read a hierarchy written by :meth:`save` for the graph ``indptr``/``head``.

        Raises ``ValueError`` when it was built for another graph or layout.
        """
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        head = np.ascontiguousarray(head, dtype=np.int64)
        fingerprint = graph_fingerprint(indptr, head)
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"]) != CH_VERSION or str(data["fingerprint"]) != fingerprint:
                raise ValueError("hierarchy built for another graph")
            arrays = {k: data[k].astype(np.int64) for k in ("rank", "up_ptr", "up_head", "parent")}
        n = indptr.shape[0] - 1
        tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        return cls(**arrays, arc_tail=tail, arc_head=head, fingerprint=fingerprint)

    @classmethod
    def cached(
        cls, path: Path | None, indptr: Ints, head: Ints, x: Floats, y: Floats
    ) -> ContractionHierarchy:
        """:meth:`load` from ``path`` if it holds this graph's hierarchy, else
        :meth:`build` and save it there (a cache that cannot be written is skipped)."""
        if path is not None and path.is_file():
            try:
                return cls.load(path, indptr, head)
            except (OSError, ValueError, KeyError):
                pass  # stale or unreadable: build again and overwrite it
        ch = cls.build(indptr, head, x, y)
        if path is not None:
            with contextlib.suppress(OSError):  # read-only location: work without a cache
                ch.save(path)
        return ch

    # -- customization and queries ----------------------------------------------

    def customize(self, arc_time: Floats, arc_length: Floats) -> Metric:
        """Arc weights for one metric (per original arc, in CSR order: phase 3)."""
        m = self._edge_arc.shape[0]
        if arc_time.shape != (m,) or arc_length.shape != (m,):
            raise InputError(f"needs one entry per arc ({m})", where="arc_time")
        ut, ul, dt, dl = kernels.initial_weights(
            self.n_arcs,
            self._edge_arc,
            self._edge_down,
            np.ascontiguousarray(arc_time, dtype=np.float64),
            np.ascontiguousarray(arc_length, dtype=np.float64),
        )
        common = (self.up_ptr, self.up_head, *self._down)
        left, right, top = self._parallel
        if (os.cpu_count() or 1) > 1 and len(left) and len(right):
            # Two disjoint subtrees of the elimination tree at once, then the top.
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [
                    pool.submit(kernels.customize_nodes, *common, part, ut, ul, dt, dl)
                    for part in (left, right)
                ]
                for f in futures:
                    f.result()
            kernels.customize_nodes(*common, top, ut, ul, dt, dl)
        else:
            kernels.customize_nodes(*common, np.arange(self.n_nodes), ut, ul, dt, dl)
        return Metric(ut, ul, dt, dl)

    def many_to_many(
        self,
        metric: Metric,
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

        The arguments are those of ``_kernels.many_to_many`` (sources as seeds,
        targets as goals, node numbers of the original graph); so is the result.
        """
        rank = self.rank
        n_src = seed_ptr.shape[0] - 1
        n_tgt = goal_ptr.shape[0] - 1
        fill_args = (self.up_ptr, self.up_head, metric.down_time, metric.down_length, self.parent)
        goal_ptr = np.ascontiguousarray(goal_ptr, dtype=np.int64)
        goal_rank = np.ascontiguousarray(rank[goal_node])
        goal_time = np.ascontiguousarray(goal_time, dtype=np.float64)
        goal_len = np.ascontiguousarray(goal_len, dtype=np.float64)
        if (threads or os.cpu_count() or 1) > 1 and n_tgt >= 128:
            # Targets in two halves, one thread each, buckets merged.
            half = n_tgt // 2
            parts = []
            for lo, hi in ((0, half), (half, n_tgt)):
                a, b = goal_ptr[lo], goal_ptr[hi]
                parts.append(
                    (goal_ptr[lo : hi + 1] - a, goal_rank[a:b], goal_time[a:b], goal_len[a:b])
                )
            with ThreadPoolExecutor(max_workers=2) as pool:
                found = [pool.submit(kernels.fill_buckets, *fill_args, *p) for p in parts]
                first, second = (f.result() for f in found)
            b_ptr, b_tgt, b_t, b_l = kernels.merge_buckets(*first, *second, half)
        else:
            b_ptr, b_tgt, b_t, b_l = kernels.fill_buckets(
                *fill_args, goal_ptr, goal_rank, goal_time, goal_len
            )
        out_t = np.full((n_src, n_tgt), np.inf)
        out_l = np.full((n_src, n_tgt), np.inf)
        args = (
            self.up_ptr, self.up_head, metric.up_time, metric.up_length, self.parent,
            np.ascontiguousarray(seed_ptr, dtype=np.int64), np.ascontiguousarray(rank[seed_node]),
            np.ascontiguousarray(seed_time, dtype=np.float64),
            np.ascontiguousarray(seed_len, dtype=np.float64),
            b_ptr, b_tgt, b_t, b_l,
        )  # fmt: skip
        workers = max(1, min(threads or os.cpu_count() or 1, n_src // 64))
        if workers == 1:
            kernels.bucket_rows(*args, 0, n_src, out_t, out_l)
            return out_t, out_l
        bounds = np.linspace(0, n_src, workers + 1).astype(np.int64)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(kernels.bucket_rows, *args, lo, hi, out_t, out_l)
                for lo, hi in pairwise(bounds.tolist())
            ]
            for f in futures:
                f.result()
        return out_t, out_l


def _subtree_split(parent: Ints, up_ptr: Ints) -> tuple[Ints, Ints, Ints]:
    """Nodes of the elimination tree in two sets of whole subtrees and the rest.

    A node's customization costs about its upward degree squared. From the root
    down, while one child's subtree holds most of the work, descend into it (the
    path and the small side branches stay in the rest, ``top``); then deal the
    children's subtrees to two sides, largest first to the lighter side. Each
    set is in ascending rank; ``top`` runs after both sides.
    """
    n = parent.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    all_nodes = np.arange(n, dtype=np.int64)
    if n < 2:
        return empty, empty, all_nodes
    work = np.diff(up_ptr).astype(np.float64) ** 2 + 1.0
    has = parent >= 0
    below = work.copy()
    for v in np.flatnonzero(has).tolist():  # ascending: children before parents
        below[parent[v]] += below[v]
    kids_of = np.argsort(np.where(has, parent, n), kind="stable")[: int(has.sum())]
    kid_ptr = np.searchsorted(parent[kids_of], np.arange(n + 1))
    roots = np.flatnonzero(~has)
    heads = roots
    for _ in range(n):
        total = float(below[heads].sum())
        big = int(heads[np.argmax(below[heads])])
        if heads.size > 1 and below[big] <= 0.6 * total:
            break
        kids = kids_of[kid_ptr[big] : kid_ptr[big + 1]]
        if kids.size == 0:
            return empty, empty, all_nodes
        heads = kids  # the other heads (small side branches) join the top
    side = np.zeros(heads.size, dtype=np.int64)
    load = [0.0, 0.0]
    for k in np.argsort(-below[heads], kind="stable").tolist():
        s = 0 if load[0] <= load[1] else 1
        side[k] = s
        load[s] += float(below[heads[k]])
    label = np.full(n, -1, dtype=np.int64)
    label[heads] = side
    for v in range(n - 1, -1, -1):  # parents first: a subtree takes its head's side
        if label[v] < 0 and parent[v] >= 0 and label[parent[v]] >= 0:
            label[v] = label[parent[v]]
    return (
        np.flatnonzero(label == 0).astype(np.int64),
        np.flatnonzero(label == 1).astype(np.int64),
        np.flatnonzero(label < 0).astype(np.int64),
    )


def _undirected(n: int, tail: Ints, head: Ints) -> tuple[Ints, Ints]:
    """Symmetric CSR adjacency (``indptr``, ``nbr``) of the arcs, without duplicates."""
    a = np.concatenate([tail, head])
    b = np.concatenate([head, tail])
    keep = a != b
    key = np.unique(a[keep] * n + b[keep])
    src, dst = np.divmod(key, n)
    indptr = np.searchsorted(src, np.arange(n + 1, dtype=np.int64)).astype(np.int64)
    return indptr, np.ascontiguousarray(dst, dtype=np.int64)
