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

OSM data is (c) OpenStreetMap contributors, ODbL; see ``ATTRIBUTION``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import FormatError, InputError

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

ATTRIBUTION = "Map data (c) OpenStreetMap contributors, ODbL (openstreetmap.org/copyright)"

#: Road classes (OSM ``highway`` values) with stable codes: ``edge_class`` indexes this.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "track",
    "cycleway",
    "path",
    "pedestrian",
    "footway",
    "bridleway",
)

_CACHE_VERSION = 1
DEFAULT_MAX_SNAP_M = 200.0


@dataclass(frozen=True)
class Profile:
    """Who travels: which roads, how fast, which one-way rules.

    ``speeds_kph`` lists the usable road classes with their default speed (used
    when a way has no ``maxspeed``). With ``maxspeed`` the speed is
    ``maxspeed * maxspeed_factor`` (a posted limit is not an average speed). Every
    speed is capped at ``max_speed_kph``. ``mode`` is "motor" or "bicycle".
    ``explicit_only`` classes are usable only when the way explicitly allows the
    mode (``bicycle=yes`` on a footway).
    """

    name: str
    mode: str
    speeds_kph: Mapping[str, float]
    max_speed_kph: float
    maxspeed_factor: float = 1.0
    access_keys: tuple[str, ...] = ("access",)
    explicit_only: frozenset[str] = frozenset()

    def fingerprint(self) -> str:
        """Stable text of every setting (part of the cache key)."""
        data = {
            "name": self.name,
            "mode": self.mode,
            "speeds_kph": sorted(self.speeds_kph.items()),
            "max_speed_kph": self.max_speed_kph,
            "maxspeed_factor": self.maxspeed_factor,
            "access_keys": list(self.access_keys),
            "explicit_only": sorted(self.explicit_only),
        }
        return json.dumps(data, sort_keys=True)


# Default speeds follow OSRM's car profile; a posted limit counts at 80 % as there.
_CAR_SPEEDS_KPH: dict[str, float] = {
    "motorway": 90,
    "motorway_link": 45,
    "trunk": 85,
    "trunk_link": 40,
    "primary": 65,
    "primary_link": 30,
    "secondary": 55,
    "secondary_link": 25,
    "tertiary": 40,
    "tertiary_link": 20,
    "unclassified": 25,
    "residential": 25,
    "living_street": 10,
    "service": 15,
    "road": 20,
}

# A cargo bike: about 15 km/h on roads (electric assist stops at 25 km/h, and it
# is heavy); walking pace where it may only be pushed among pedestrians.
_BIKE_SPEEDS_KPH: dict[str, float] = {
    "primary": 15,
    "primary_link": 15,
    "secondary": 15,
    "secondary_link": 15,
    "tertiary": 15,
    "tertiary_link": 15,
    "unclassified": 15,
    "residential": 15,
    "living_street": 10,
    "service": 12,
    "road": 12,
    "track": 10,
    "cycleway": 16,
    "path": 10,
    "pedestrian": 6,
    "footway": 6,
    "bridleway": 6,
    "trunk": 15,
    "trunk_link": 15,
}

PROFILES: dict[str, Profile] = {
    "car": Profile(
        name="car",
        mode="motor",
        speeds_kph=_CAR_SPEEDS_KPH,
        max_speed_kph=130.0,
        maxspeed_factor=0.8,
        access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    ),
    # A delivery van: the car's roads, ``goods`` access tags, and a speed cap.
    "van": Profile(
        name="van",
        mode="motor",
        speeds_kph=_CAR_SPEEDS_KPH,
        max_speed_kph=90.0,
        maxspeed_factor=0.8,
        access_keys=("goods", "motor_vehicle", "vehicle", "access"),
    ),
    "bike": Profile(
        name="bike",
        mode="bicycle",
        speeds_kph=_BIKE_SPEEDS_KPH,
        max_speed_kph=20.0,
        maxspeed_factor=1.0,
        access_keys=("bicycle", "vehicle", "access"),
        explicit_only=frozenset({"pedestrian", "footway", "bridleway", "trunk", "trunk_link"}),
    ),
}
PROFILES["cargo_bike"] = PROFILES["bike"]


def get_profile(profile: str | Profile) -> Profile:
    """The named profile ("car", "van", "bike"/"cargo_bike"), or ``profile`` itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {profile!r}; known: {known}", where="profile") from None


# ---------------------------------------------------------------------------- tags

_MPH_KPH = 1.609344
_KNOT_KPH = 1.852
_SPEED_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?$")
# Implicit limits written as "<country>:<kind>" (e.g. "FR:urban", "DE:zone30").
_ZONE_KPH: dict[str, float] = {
    "urban": 50,
    "rural": 90,
    "trunk": 110,
    "motorway": 130,
    "living_street": 20,
    "bicycle_road": 30,
    "walk": 6,
}
_ZONE_RE = re.compile(r"^zone:?(\d+)$")


def parse_maxspeed_kph(value: str | None) -> float | None:
    """A ``maxspeed`` tag in km/h, or None when it sets no usable number.

    Understands "50", "50 km/h", "30 mph", "10 knots", "walk", "FR:urban",
    "DE:zone30"/"DE:zone:30", and "50;30" (the lowest). "none", "signals",
    "variable" and anything unknown give None (the road class decides).
    """
    if value is None:
        return None
    best: float | None = None
    for part in value.split(";"):
        kph = _parse_one_maxspeed(part.strip().lower())
        if kph is not None and kph > 0 and (best is None or kph < best):
            best = kph
    return best


def _parse_one_maxspeed(text: str) -> float | None:
    if text == "walk":
        return _ZONE_KPH["walk"]
    m = _SPEED_RE.match(text)
    if m:
        number = float(m.group(1))
        unit = m.group(2)
        if unit == "mph":
            return number * _MPH_KPH
        if unit == "knots":
            return number * _KNOT_KPH
        return number
    if ":" in text:
        kind = text.split(":", 1)[1]
        if kind in _ZONE_KPH:
            return _ZONE_KPH[kind]
        z = _ZONE_RE.match(kind)
        if z:
            return float(z.group(1))
    return None


_DENY = frozenset(
    {
        "no",
        "private",
        "agricultural",
        "forestry",
        "emergency",
        "psv",
        "bus",
        "military",
        "discouraged",
    }
)
_ALLOW_EXPLICIT = frozenset({"yes", "designated", "permissive", "destination", "dismount"})
_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"no", "false", "0"})


def way_directions(tags: Mapping[str, str], profile: Profile) -> tuple[bool, bool]:
    """Whether ``profile`` may travel a way forwards / backwards (node order)."""
    highway = tags.get("highway", "")
    if highway not in profile.speeds_kph or tags.get("area") == "yes":
        return False, False
    if profile.mode == "bicycle" and tags.get("bicycle") == "use_sidepath":
        return False, False
    decided = ""
    for key in profile.access_keys:
        if key in tags:
            decided = tags[key]
            break
    if decided in _DENY:
        return False, False
    if highway in profile.explicit_only and decided not in _ALLOW_EXPLICIT:
        return False, False
    if profile.mode == "bicycle" and tags.get("motorroad") == "yes":
        return False, False
    oneway = tags.get("oneway", "")
    if oneway in ("reversible", "alternating"):
        # Direction changes during the day: not safe to plan on.
        return False, False
    forward, backward = True, True
    if oneway in _YES:
        backward = False
    elif oneway == "-1" or oneway == "reverse":
        forward = False
    elif oneway not in _NO and (
        tags.get("junction") in ("roundabout", "circular")
        or (profile.mode == "motor" and highway in ("motorway", "motorway_link"))
    ):
        backward = False
    if profile.mode == "bicycle":
        ob = tags.get("oneway:bicycle", "")
        contraflow = any(
            tags.get(k, "").startswith("opposite")
            for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
        )
        if ob in _NO or contraflow:
            forward, backward = True, True
        elif ob in _YES:
            backward = False
        elif ob == "-1":
            forward = False
    return forward, backward


def way_speeds_kph(tags: Mapping[str, str], profile: Profile) -> tuple[float, float]:
    """Free-flow speeds forwards / backwards (``maxspeed:forward`` etc. honoured)."""
    default = float(profile.speeds_kph[tags.get("highway", "")])
    both = parse_maxspeed_kph(tags.get("maxspeed"))
    out = []
    for direction in ("forward", "backward"):
        posted = parse_maxspeed_kph(tags.get(f"maxspeed:{direction}"))
        if posted is None:
            posted = both
        if posted is None:
            speed = default
        elif profile.mode == "bicycle":
            speed = min(default, posted)
        else:
            speed = posted * profile.maxspeed_factor
        out.append(max(1.0, min(speed, profile.max_speed_kph)))
    return out[0], out[1]


# ---------------------------------------------------------------------------- geometry


def haversine_m_array(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> Floats:
    """Great-circle distances in metres, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))))


@dataclass(frozen=True)
class SnapResult:
    """Where each point meets the network.

    Point ``k`` lies on the segment between nodes ``node_a[k]`` and
    ``node_b[k]`` at ``fraction[k]`` (0 at a, 1 at b), at ``snapped_lon/lat``,
    ``distance_m[k]`` metres from where it was asked. ``edge_ab``/``edge_ba``
    are the directed edges along that segment (-1 where a one-way street has
    none). ``far`` marks points further than ``max_snap_m`` from any road.
    """

    lon: Floats
    lat: Floats
    node_a: Ints
    node_b: Ints
    fraction: Floats
    edge_ab: Ints
    edge_ba: Ints
    snapped_lon: Floats
    snapped_lat: Floats
    distance_m: Floats
    max_snap_m: float
    far: Bools = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "far", self.distance_m > self.max_snap_m)

    def __len__(self) -> int:
        return int(self.lon.shape[0])

    @property
    def far_indices(self) -> list[int]:
        """Indices of the points further than ``max_snap_m`` from any road."""
        return [int(i) for i in np.flatnonzero(self.far)]

    def subset(self, index: Sequence[int] | Ints) -> SnapResult:
        """The rows ``index`` of this result, in that order."""
        idx = np.asarray(index, dtype=np.int64)
        return SnapResult(
            lon=self.lon[idx],
            lat=self.lat[idx],
            node_a=self.node_a[idx],
            node_b=self.node_b[idx],
            fraction=self.fraction[idx],
            edge_ab=self.edge_ab[idx],
            edge_ba=self.edge_ba[idx],
            snapped_lon=self.snapped_lon[idx],
            snapped_lat=self.snapped_lat[idx],
            distance_m=self.distance_m[idx],
            max_snap_m=self.max_snap_m,
        )


@dataclass(frozen=True)
class PathResult:
    """The fastest path between two snapped points.

    ``lon``/``lat`` run from the first snapped point through every road node to
    the last snapped point (at least two positions). ``edges`` are the network
    edges used, partly for the first and last.
    """

    duration_s: float
    distance_m: float
    lon: Floats
    lat: Floats
    edges: Ints


# ---------------------------------------------------------------------------- network

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
        self._snapper: _Snapper | None = None
        self._search: Any = None
        self._edge_keys: Ints | None = None

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
        profile's settings, and read from there next time. A cache that cannot
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
        network = _read_pbf(src, prof)
        if cache_file is not None:
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                network.save(cache_file)
            except OSError:
                pass  # read-only location: work without a cache
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
        return cls(
            **arrays,
            class_names=meta["class_names"],
            profile=meta["profile"],
            source=source if source is not None else meta["source"],
        )

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
            self._snapper = _Snapper(self)
        return self._snapper.snap(lon_a, lat_a, max_snap_m)

    # -- queries ---------------------------------------------------------------

    def _searcher(self) -> Any:
        if self._search is None:
            from lastmile.travel._chains import ChainGraph

            self._search = ChainGraph(self)
        return self._search

    def matrix(
        self,
        sources: SnapResult,
        targets: SnapResult | None = None,
        *,
        edge_time_s: npt.ArrayLike | None = None,
    ) -> tuple[Floats, Floats]:
        """Durations (s) and distances (m, of the fastest path) as float arrays.

        Rows follow ``sources``, columns ``targets`` (default: the sources).
        Unreachable pairs are ``inf`` (cannot happen inside one strongly
        connected network).
        """
        times = self.check_edge_time(edge_time_s)
        result: tuple[Floats, Floats] = self._searcher().matrix(
            sources, sources if targets is None else targets, times
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


# ---------------------------------------------------------------------------- snapping

_SAMPLE_SPACING_M = 20.0


class _Snapper:
    """KD-tree over points sampled along every segment, exact nearest segment."""

    def __init__(self, net: RoadNetwork) -> None:
        from scipy.spatial import cKDTree

        self.net = net
        self.lat0 = float(np.mean(net.node_lat)) if net.n_nodes else 0.0
        self.kx = EARTH_RADIUS_M * math.cos(math.radians(self.lat0)) * math.pi / 180
        self.ky = EARTH_RADIUS_M * math.pi / 180
        a = np.minimum(net.edge_tail, net.edge_head)
        b = np.maximum(net.edge_tail, net.edge_head)
        pairs = np.unique(np.stack([a, b], axis=1), axis=0)
        self.seg_a = pairs[:, 0]
        self.seg_b = pairs[:, 1]
        x, y = self.project(net.node_lon, net.node_lat)
        self.x, self.y = x, y
        seg_len = np.hypot(x[self.seg_b] - x[self.seg_a], y[self.seg_b] - y[self.seg_a])
        counts = np.maximum(1, np.ceil(seg_len / _SAMPLE_SPACING_M).astype(np.int64)) + 1
        seg_of = np.repeat(np.arange(pairs.shape[0]), counts)
        starts = np.cumsum(counts) - counts
        pos = (np.arange(seg_of.shape[0]) - starts[seg_of]) / (counts[seg_of] - 1)
        sx = x[self.seg_a[seg_of]] + pos * (x[self.seg_b[seg_of]] - x[self.seg_a[seg_of]])
        sy = y[self.seg_a[seg_of]] + pos * (y[self.seg_b[seg_of]] - y[self.seg_a[seg_of]])
        self.sample_seg = seg_of
        self.tree = cKDTree(np.stack([sx, sy], axis=1))
        # Samples lie at most half a spacing from any point of their segment.
        self.slack_m = float((seg_len / (counts - 1)).max() / 2) if seg_len.size else 0.0

    def project(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        return np.asarray(lon * self.kx), np.asarray(lat * self.ky)

    def snap(self, lon: Floats, lat: Floats, max_snap_m: float) -> SnapResult:
        net = self.net
        px, py = self.project(lon, lat)
        pts = np.stack([px, py], axis=1)
        d0, _ = self.tree.query(pts)
        cand = self.tree.query_ball_point(pts, d0 + self.slack_m + 1e-6)
        lens = np.fromiter((len(c) for c in cand), dtype=np.int64, count=len(cand))
        point_of = np.repeat(np.arange(len(cand)), lens)
        seg = self.sample_seg[np.concatenate([np.asarray(c, dtype=np.int64) for c in cand])]
        ax, ay = self.x[self.seg_a[seg]], self.y[self.seg_a[seg]]
        dx, dy = self.x[self.seg_b[seg]] - ax, self.y[self.seg_b[seg]] - ay
        qx, qy = px[point_of], py[point_of]
        norm2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(norm2 > 0, ((qx - ax) * dx + (qy - ay) * dy) / norm2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        d2 = (ax + t * dx - qx) ** 2 + (ay + t * dy - qy) ** 2
        # Per point: the candidate with the least distance (ties: lowest segment).
        order = np.lexsort((seg, d2, point_of))
        first = np.ones(order.shape[0], dtype=bool)
        first[1:] = point_of[order][1:] != point_of[order][:-1]
        best = order[first]
        s = seg[best]
        frac = t[best]
        a, b = self.seg_a[s], self.seg_b[s]
        slon = net.node_lon[a] + frac * (net.node_lon[b] - net.node_lon[a])
        slat = net.node_lat[a] + frac * (net.node_lat[b] - net.node_lat[a])
        edge_ab = net.edge_indices(a, b)
        edge_ba = net.edge_indices(b, a)
        return SnapResult(
            lon=lon,
            lat=lat,
            node_a=a.astype(np.int64),
            node_b=b.astype(np.int64),
            fraction=frac,
            edge_ab=edge_ab,
            edge_ba=edge_ba,
            snapped_lon=slon,
            snapped_lat=slat,
            distance_m=haversine_m_array(lon, lat, slon, slat),
            max_snap_m=float(max_snap_m),
        )


# ---------------------------------------------------------------------------- reading


def _read_pbf(path: Path, profile: Profile) -> RoadNetwork:
    import osmium

    class_code = {name: k for k, name in enumerate(ROAD_CLASSES)}
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    way_start: list[int] = []
    way_id: list[int] = []
    way_class: list[int] = []
    way_fwd: list[float] = []  # speed forwards in km/h, 0 = not allowed
    way_bwd: list[float] = []
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {t.k: t.v for t in way.tags}
            if tags.get("highway") not in profile.speeds_kph:
                continue
            forward, backward = way_directions(tags, profile)
            if not (forward or backward):
                continue
            fwd_kph, bwd_kph = way_speeds_kph(tags, profile)
            way_start.append(len(refs))
            way_id.append(way.id)
            way_class.append(class_code[tags["highway"]])
            way_fwd.append(fwd_kph if forward else 0.0)
            way_bwd.append(bwd_kph if backward else 0.0)
            for nd in way.nodes:
                refs.append(nd.ref)
                loc = nd.location
                if loc.valid():
                    lons.append(loc.lon)
                    lats.append(loc.lat)
                else:  # node outside the extract: its edges are dropped
                    lons.append(math.nan)
                    lats.append(math.nan)
    except RuntimeError as exc:
        raise FormatError(f"cannot read as OSM PBF: {exc}", where=str(path)) from exc
    if not way_start:
        raise InputError(f"no road usable by profile {profile.name!r}", where=str(path))
    ref_a = np.asarray(refs, dtype=np.int64)
    lon_a = np.asarray(lons, dtype=np.float64)
    lat_a = np.asarray(lats, dtype=np.float64)
    starts = np.asarray(way_start, dtype=np.int64)
    ends = np.append(starts[1:], ref_a.shape[0])
    n_way = starts.shape[0]
    way_of = np.repeat(np.arange(n_way), ends - starts)
    # Consecutive node pairs inside one way.
    i = np.arange(ref_a.shape[0] - 1)
    same_way = way_of[i] == way_of[i + 1]
    i = i[same_way]
    j = i + 1
    ok = (ref_a[i] != ref_a[j]) & np.isfinite(lon_a[i]) & np.isfinite(lon_a[j])
    i, j = i[ok], j[ok]
    w = way_of[i]
    length = haversine_m_array(lon_a[i], lat_a[i], lon_a[j], lat_a[j])
    length = np.maximum(length, 0.01)  # distinct nodes on one spot: keep times positive
    fwd = np.asarray(way_fwd)[w]
    bwd = np.asarray(way_bwd)[w]
    cls = np.asarray(way_class, dtype=np.int64)[w]
    wid = np.asarray(way_id, dtype=np.int64)[w]
    f, b = fwd > 0, bwd > 0
    tail_ref = np.concatenate([ref_a[i][f], ref_a[j][b]])
    head_ref = np.concatenate([ref_a[j][f], ref_a[i][b]])
    e_len = np.concatenate([length[f], length[b]])
    e_time = np.concatenate([length[f] / (fwd[f] / 3.6), length[b] / (bwd[b] / 3.6)])
    e_cls = np.concatenate([cls[f], cls[b]])
    e_wid = np.concatenate([wid[f], wid[b]])
    # Nodes: unique OSM ids among edge ends.
    node_ids, first = np.unique(ref_a, return_index=True)
    tail = np.searchsorted(node_ids, tail_ref)
    head = np.searchsorted(node_ids, head_ref)
    # Parallel edges (two ways over the same nodes): keep the fastest.
    order = np.lexsort((e_time, head, tail))
    keep = np.ones(order.shape[0], dtype=bool)
    keep[1:] = (tail[order][1:] != tail[order][:-1]) | (head[order][1:] != head[order][:-1])
    sel = order[keep]
    tail, head = tail[sel], head[sel]
    e_len, e_time, e_cls, e_wid = e_len[sel], e_time[sel], e_cls[sel], e_wid[sel]
    # Largest strongly connected component: every stop can reach every other.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = node_ids.shape[0]
    graph = csr_matrix((np.ones(tail.shape[0]), (tail, head)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    counts = np.bincount(label[np.unique(np.concatenate([tail, head]))], minlength=label.max() + 1)
    biggest = int(np.argmax(counts))
    in_scc = label == biggest
    keep_e = in_scc[tail] & in_scc[head]
    new_index = np.cumsum(in_scc) - 1
    kept_nodes = np.flatnonzero(in_scc)
    return RoadNetwork(
        node_id=node_ids[kept_nodes],
        node_lon=lon_a[first[kept_nodes]],
        node_lat=lat_a[first[kept_nodes]],
        edge_tail=new_index[tail[keep_e]],
        edge_head=new_index[head[keep_e]],
        edge_length_m=e_len[keep_e],
        edge_freeflow_s=e_time[keep_e],
        edge_class=e_cls[keep_e],
        edge_way_id=e_wid[keep_e],
        class_names=ROAD_CLASSES,
        profile=profile.name,
        source=str(path),
    )
