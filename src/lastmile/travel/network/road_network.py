"""A drivable (or rideable) road network read from an OpenStreetMap extract.

``RoadNetwork.from_pbf(path, profile="car")`` reads any ``.osm.pbf`` with pyosmium,
keeps the ways the profile may use, honours one-way streets, turns ``maxspeed``
(else a speed per road class) into free-flow travel time, keeps the largest
strongly connected part and caches the result next to the file.

The network is plain numpy arrays, the contract other modules build on:

- nodes ``0..n_nodes-1``: ``node_id`` (OSM id), ``node_lon``, ``node_lat``;
- directed edges sorted by tail (CSR, ``edge_offsets[u]:edge_offsets[u+1]`` leave
  ``u``): ``edge_tail``, ``edge_head``, ``edge_length_m``, ``edge_freeflow_s``,
  ``edge_class`` (index into ``class_names``), ``edge_way_id``.

Queries (``snap``, ``matrix``, ``path``) accept ``edge_time_s``, a per-edge travel
time array that replaces ``edge_freeflow_s`` (time-of-day traffic, weather).

Matrices on networks of at least ``CH_MIN_JUNCTIONS`` junctions (a city, not a
town) go through a customizable contraction hierarchy (``ch``), kept in the
disk cache beside the parsed network (``*.cch.lastmile.npz``); smaller ones run
one Dijkstra per source. Both give the same fastest paths.

OSM data is (c) OpenStreetMap contributors, ODbL; see ``ATTRIBUTION``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lastmile.exceptions import InputError
from lastmile.travel.network.pbf import read_pbf_arrays
from lastmile.travel.network.profiles import ROAD_CLASSES, Profile, get_profile
from lastmile.travel.network.results import Floats, Ints, PathResult, SnapResult
from lastmile.travel.network.snapping import DEFAULT_MAX_SNAP_M, Snapper

if TYPE_CHECKING:
    from lastmile.travel.network.ch import ContractionHierarchy

_CACHE_VERSION = 1

#: From this many junctions on, ``matrix(method="auto")`` uses the contraction hierarchy...
CH_MIN_JUNCTIONS = 20_000
#: ... for at least this many sources, or when it is customized for the edge times already
#: (a customization costs about as much as this many searches).
CH_MIN_SOURCES = 64
_METHODS = ("auto", "dijkstra", "ch")

_ARRAYS = (
    "node_id",
    "node_lon",
    "node_lat",
    "edge_tail",
    "edge_head",
    "edge_length_m",
    "edge_freeflow_s",
    "edge_class",
    "edge_way_id",
)


class RoadNetwork:
    """Directed road graph as numpy arrays (see the module docstring).

    Build with ``from_pbf`` (or the keyword constructor: arrays, no loops, no
    twin edges); every array is read-only.
    """

    node_id: Ints
    node_lon: Floats
    node_lat: Floats
    edge_tail: Ints
    edge_head: Ints
    edge_length_m: Floats
    edge_freeflow_s: Floats
    edge_class: Ints
    edge_way_id: Ints
    edge_offsets: Ints

    def __init__(
        self,
        *,
        node_id: npt.ArrayLike,
        node_lon: npt.ArrayLike,
        node_lat: npt.ArrayLike,
        edge_tail: npt.ArrayLike,
        edge_head: npt.ArrayLike,
        edge_length_m: npt.ArrayLike,
        edge_freeflow_s: npt.ArrayLike,
        edge_class: npt.ArrayLike,
        edge_way_id: npt.ArrayLike | None = None,
        class_names: Sequence[str] = ROAD_CLASSES,
        profile: str = "car",
        source: str = "",
    ) -> None:
        self.profile = profile
        self.source = source
        self.class_names: tuple[str, ...] = tuple(class_names)
        self.node_id = np.asarray(node_id, dtype=np.int64)
        self.node_lon = np.asarray(node_lon, dtype=np.float64)
        self.node_lat = np.asarray(node_lat, dtype=np.float64)
        n = self.node_id.shape[0]
        tail = np.asarray(edge_tail, dtype=np.int64)
        m = tail.shape[0]
        arrays: dict[str, Any] = {
            "edge_tail": tail,
            "edge_head": np.asarray(edge_head, dtype=np.int64),
            "edge_length_m": np.asarray(edge_length_m, dtype=np.float64),
            "edge_freeflow_s": np.asarray(edge_freeflow_s, dtype=np.float64),
            "edge_class": np.asarray(edge_class, dtype=np.int64),
            "edge_way_id": (
                np.zeros(m, dtype=np.int64)
                if edge_way_id is None
                else np.asarray(edge_way_id, dtype=np.int64)
            ),
        }
        for name in ("node_lon", "node_lat"):
            if getattr(self, name).shape != (n,):
                raise InputError(f"must have {n} entries", where=name)
        for name, arr in arrays.items():
            if arr.shape != (m,):
                raise InputError(f"must have {m} entries", where=name)
        if m and (tail.min() < 0 or tail.max() >= n):
            raise InputError("node index out of range", where="edge_tail")
        head = arrays["edge_head"]
        if m and (head.min() < 0 or head.max() >= n):
            raise InputError("node index out of range", where="edge_head")
        if m and not (arrays["edge_freeflow_s"] > 0).all():
            raise InputError("every edge needs a positive travel time", where="edge_freeflow_s")
        if m and (arrays["edge_class"].min() < 0 or arrays["edge_class"].max() >= len(class_names)):
            raise InputError("class code out of range", where="edge_class")
        if m and (tail == head).any():
            k = int(np.flatnonzero(tail == head)[0])
            raise InputError(f"edge {k} is a loop on node {tail[k]}", where="edge_tail")
        # CSR order: by tail, then head.
        order = np.lexsort((head, tail))
        st, sh = tail[order], head[order]
        twins = (st[1:] == st[:-1]) & (sh[1:] == sh[:-1])
        if twins.any():
            k = int(np.flatnonzero(twins)[0])
            raise InputError(
                f"two edges from node {st[k]} to node {sh[k]}; keep the faster one",
                where="edge_tail",
            )
        for name, arr in arrays.items():
            setattr(self, name, arr[order])
        self.edge_offsets = np.searchsorted(
            self.edge_tail, np.arange(n + 1, dtype=np.int64)
        ).astype(np.int64)
        for name in (*_ARRAYS, "edge_offsets"):
            getattr(self, name).setflags(write=False)
        self._snapper: Snapper | None = None
        self._search: Any = None
        self._edge_keys: Ints | None = None
        #: The file the parsed network is cached in (set by ``from_pbf``/``load``);
        #: the contraction hierarchy is kept beside it.
        self.cache_file: Path | None = None

    # -- size and description --------------------------------------------------

    @property
    def n_nodes(self) -> int:
        return int(self.node_id.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_tail.shape[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat)."""
        return (
            float(self.node_lon.min()),
            float(self.node_lat.min()),
            float(self.node_lon.max()),
            float(self.node_lat.max()),
        )

    def __repr__(self) -> str:
        name = Path(self.source).name if self.source else "arrays"
        return (
            f"RoadNetwork({name}, profile={self.profile!r}, "
            f"{self.n_nodes} nodes, {self.n_edges} edges)"
        )

    def edge_index(self, tail: int, head: int) -> int:
        """Index of the edge ``tail -> head``, or -1."""
        return int(self.edge_indices(np.array([tail]), np.array([head]))[0])

    def edge_indices(self, tail: npt.ArrayLike, head: npt.ArrayLike) -> Ints:
        """Indices of the edges ``tail[k] -> head[k]`` (-1 where there is none)."""
        # Edges are sorted by (tail, head), so tail * n + head is sorted too.
        if self._edge_keys is None:
            self._edge_keys = self.edge_tail * self.n_nodes + self.edge_head
        keys = self._edge_keys
        want = np.asarray(tail, dtype=np.int64) * self.n_nodes + np.asarray(head, dtype=np.int64)
        k = np.minimum(np.searchsorted(keys, want), max(self.n_edges - 1, 0))
        found = (keys[k] == want) if self.n_edges else np.zeros(want.shape, dtype=bool)
        return np.where(found, k, -1).astype(np.int64)

    def check_edge_time(self, edge_time_s: npt.ArrayLike | None) -> Floats:
        """``edge_time_s`` validated (or the free-flow times when None)."""
        if edge_time_s is None:
            return self.edge_freeflow_s
        arr = np.asarray(edge_time_s, dtype=np.float64)
        if arr.shape != (self.n_edges,):
            raise InputError(
                f"needs one entry per edge ({self.n_edges}), got shape {arr.shape}",
                where="edge_time_s",
            )
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"must be finite and > 0, edge {k} has {arr[k]}", where="edge_time_s")
        return arr

    # -- loading --------------------------------------------------------------

    @classmethod
    def from_pbf(
        cls,
        path: str | Path,
        *,
        profile: str | Profile = "car",
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> RoadNetwork:
        """Read an ``.osm.pbf`` extract for ``profile``.

        With ``cache`` the parsed network is saved as ``.npz`` in ``cache_dir``
        (default: beside the extract), keyed by the file's SHA-256 and the
        profile's settings with the version of the tag rules
        (``Profile.fingerprint``), and read from there next time. A cache that cannot
        be written is skipped.
        """
        prof = get_profile(profile)
        src = Path(path)
        if not src.is_file():
            raise InputError("no such file", where=str(path))
        cache_file: Path | None = None
        if cache:
            digest = hashlib.sha256()
            with src.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            digest.update(prof.fingerprint().encode())
            digest.update(str(_CACHE_VERSION).encode())
            key = digest.hexdigest()[:16]
            folder = Path(cache_dir) if cache_dir is not None else src.parent
            cache_file = folder / f"{src.name}.{prof.name}.{key}.lastmile.npz"
            if cache_file.is_file():
                try:
                    return cls.load(cache_file, source=str(src))
                except (OSError, ValueError, KeyError):
                    pass  # unreadable cache: parse again and overwrite it
        network = cls(**read_pbf_arrays(src, prof))
        if cache_file is not None:
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                network.save(cache_file)
            except OSError:
                pass  # read-only location: work without a cache
            else:
                network.cache_file = cache_file
        return network

    def save(self, path: str | Path) -> None:
        """Write the arrays and metadata to ``path`` (npz)."""
        meta = json.dumps(
            {
                "version": _CACHE_VERSION,
                "profile": self.profile,
                "class_names": list(self.class_names),
                "source": self.source,
            }
        )
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp.npz")
        np.savez(tmp, meta=np.array(meta), **{name: getattr(self, name) for name in _ARRAYS})
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | Path, *, source: str | None = None) -> RoadNetwork:
        """Read a network written by ``save``."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("version") != _CACHE_VERSION:
                raise ValueError("cache version differs")
            arrays = {name: data[name] for name in _ARRAYS}
        network = cls(
            **arrays,
            class_names=meta["class_names"],
            profile=meta["profile"],
            source=source if source is not None else meta["source"],
        )
        network.cache_file = Path(path)
        return network

    @property
    def ch_file(self) -> Path | None:
        """Where the contraction hierarchy is cached: beside ``cache_file``."""
        if self.cache_file is None:
            return None
        name = self.cache_file.name.removesuffix(".npz").removesuffix(".lastmile")
        return self.cache_file.with_name(f"{name}.cch.lastmile.npz")

    # -- snapping ---------------------------------------------------------------

    def snap(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ) -> SnapResult:
        """Nearest point on any road segment for each (lon, lat)."""
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
            raise InputError("lon and lat must be 1-d arrays of one length", where="snap")
        if not (np.isfinite(lon_a).all() and np.isfinite(lat_a).all()):
            raise InputError("coordinates must be finite", where="snap")
        if max_snap_m < 0:
            raise InputError(f"must be >= 0, got {max_snap_m}", where="max_snap_m")
        if self._snapper is None:
            self._snapper = Snapper(self)
        return self._snapper.snap(lon_a, lat_a, max_snap_m)

    def node_points(self, nodes: npt.ArrayLike) -> SnapResult:
        """Road nodes as points for ``matrix``: a search leaves and reaches each
        node along every road through it (node-to-node figures, as a graph
        library's)."""
        idx = np.atleast_1d(np.asarray(nodes, dtype=np.int64))
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_nodes):
            raise InputError(f"node index out of range [0, {self.n_nodes})", where="nodes")
        offsets = self.edge_offsets
        edge = offsets[idx]
        dead = offsets[idx + 1] == edge
        if dead.any():
            k = int(np.flatnonzero(dead)[0])
            raise InputError(f"node {int(idx[k])} has no road leaving it", where="nodes")
        # The start of an edge leaving the node and the end of one arriving (its
        # reverse on a two-way road): placements on every chain through the node.
        other = self.edge_head[edge]
        back = self.edge_indices(other, idx)
        if (back < 0).any():
            first_in = np.full(self.n_nodes, -1, dtype=np.int64)
            first_in[self.edge_head[::-1]] = np.arange(self.n_edges - 1, -1, -1)
            back = np.where(back < 0, first_in[idx], back)
        lon = self.node_lon[idx]
        lat = self.node_lat[idx]
        zero = np.zeros(len(idx))
        return SnapResult(
            lon=lon,
            lat=lat,
            node_a=idx,
            node_b=other,
            fraction=zero,
            edge_ab=edge,
            edge_ba=back,
            snapped_lon=lon,
            snapped_lat=lat,
            distance_m=zero,
            max_snap_m=0.0,
        )

    # -- queries ---------------------------------------------------------------

    def _searcher(self) -> Any:
        if self._search is None:
            from lastmile.travel.network.chains import ChainGraph

            self._search = ChainGraph(self)
        self._search.ch_path = self.ch_file
        return self._search

    @property
    def n_junctions(self) -> int:
        """Nodes that are not the middle of a street (the graph searches run on)."""
        return int(self._searcher().n_junctions)

    def hierarchy(self) -> ContractionHierarchy:
        """The contraction hierarchy of the junction graph (read from the cache or built).

        A :class:`~lastmile.travel.network.ch.ContractionHierarchy`; ``matrix``
        builds it on first use, this builds it ahead (a service warming up).
        """
        ch: ContractionHierarchy = self._searcher().hierarchy()
        return ch

    def matrix(
        self,
        sources: SnapResult,
        targets: SnapResult | None = None,
        *,
        edge_time_s: npt.ArrayLike | None = None,
        method: str = "auto",
    ) -> tuple[Floats, Floats]:
        """Durations (s) and distances (m, of the fastest path) as float arrays.

        Rows follow ``sources``, columns ``targets`` (default: the sources).
        Unreachable pairs are ``inf`` (cannot happen inside one strongly
        connected network). ``method``: ``"dijkstra"`` (one search per source),
        ``"ch"`` (contraction hierarchy, customized once per ``edge_time_s``) or
        ``"auto"``: the hierarchy from ``CH_MIN_JUNCTIONS`` junctions on, for
        ``CH_MIN_SOURCES`` sources or more or edge times it is customized for.
        """
        if method not in _METHODS:
            raise InputError(
                f"must be one of {', '.join(_METHODS)}; got {method!r}", where="method"
            )
        times = self.check_edge_time(edge_time_s)
        searcher = self._searcher()
        if method == "auto":
            big = searcher.n_junctions >= CH_MIN_JUNCTIONS
            many = len(sources) >= CH_MIN_SOURCES or searcher.customized(times)
            method = "ch" if big and many else "dijkstra"
        result: tuple[Floats, Floats] = searcher.matrix(
            sources, sources if targets is None else targets, times, method=method
        )
        return result

    def path(
        self,
        source: SnapResult,
        target: SnapResult,
        *,
        edge_time_s: npt.ArrayLike | None = None,
    ) -> PathResult:
        """Fastest path from the first point of ``source`` to the first of ``target``."""
        times = self.check_edge_time(edge_time_s)
        result: PathResult = self._searcher().path(source, target, times)
        return result
