"""How the service computes travel: one configuration per process, from the settings.

``LASTMILE_NETWORK`` (``lastmile serve --network``) names an OpenStreetMap
extract; with it every feature plans, times and re-plans on its roads, with
``LASTMILE_TRAFFIC`` (default, none or a CSV of speed factors) and
``LASTMILE_WEATHER`` (clear, conditions such as ``rain+strong_wind``, a file of
periods, or ``open-meteo``) through the day. ``LASTMILE_OSRM_URL`` asks a
running ``osrm-routed`` instead (no time of day). With none of them, travel is
a straight line at ``LASTMILE_TRAVEL_SPEED_KPH`` times
``LASTMILE_TRAVEL_DETOUR_FACTOR``.

:class:`ServiceTravel` is built once per process (``create_app`` keeps it on
``app.state.travel_model``): it checks what the settings name and loads the
road network (the car profile at once, others on first use; each from the
disk cache beside the extract when there), so a missing or unreadable file
stops start-up with an :class:`~lastmile.exceptions.InputError` naming it.

A plan's times count from its epoch (local midnight of its day), so the road
model is built per plan day and vehicle profile (:meth:`ServiceTravel.day_model`,
a few kept per process). :meth:`ServiceTravel.for_day` gives a :class:`DayTravel`:
the model of each profile for that day, with legs leaving at a given second
(re-planning and ETAs: now) or, for a planning job's problem, each row leaving
when it is expected to (:func:`expected_departures`). A planning job on a fleet
with one road profile is solved with
:func:`lastmile.planning.solve_time_dependent` when traffic or weather change
speeds through the day (:meth:`ServiceTravel.job_legs`; the worker process
builds the same model again from what :class:`JobLegs` holds, a few values).

An organisation whose speeds were learned from its own trips
(``service/learning``, a profile in use) plans and times with that profile
instead of the configured one: :func:`org_traffic` reads it (parsed once per
revision and process) and every query above takes it as ``traffic``; day
models are kept per traffic profile.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.domain import Depot as DomainDepot
from lastmile.domain import Location, Order, Vehicle
from lastmile.domain.time import HORIZON
from lastmile.exceptions import InputError
from lastmile.planning import PlanningProblem
from lastmile.service.learning.models import LearnedTraffic
from lastmile.service.settings import Settings
from lastmile.travel import HaversineModel, TravelMatrix, TravelModel, grown_matrix
from lastmile.travel.network import RoadNetwork, get_profile
from lastmile.travel.network_options import NetworkSpec
from lastmile.travel.osrm import OSRMClient, OSRMTravelModel
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

IntArray = npt.NDArray[np.int64]
#: Learned profiles (one per organisation and revision) kept parsed per process.
LEARNED_PROFILES = 64
#: A day model and when it is to be built again (monotonic seconds).
_Kept = tuple[TimeDependentModel, float]
#: Between[profile](origins, destinations) -> (durations, distances); see planning.live.grow.
Between = Callable[[Sequence[Location], Sequence[Location]], tuple[IntArray, IntArray]]

#: The profile loaded at start-up (the default of vehicle types).
DEFAULT_PROFILE = "car"
#: Day models (one per plan day and road profile) kept per process.
DAY_MODELS = 16
#: Held models (a day model's speeds at one moment, see :class:`HeldRoadModel`) kept per process.
HELD_MODELS = 8
#: Up to this many shortest-path trees, path lengths are walked target by target.
_FEW_TREES = 4
#: A day model built from a live forecast is built again after this long (s).
FORECAST_TTL_S = 3600.0


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment (safe to show)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class TravelConfig:
    """The travel settings of the process (see the module docstring)."""

    network: str = ""
    traffic: str = ""
    weather: str = ""
    osrm_url: str = ""
    speed_kph: float = 30.0
    detour_factor: float = 1.3

    @classmethod
    def from_settings(cls, settings: Settings) -> TravelConfig:
        config = cls(
            network=settings.network.strip(),
            traffic=settings.traffic.strip(),
            weather=settings.weather.strip(),
            osrm_url=settings.osrm_url.strip(),
            speed_kph=settings.travel_speed_kph,
            detour_factor=settings.travel_detour_factor,
        )
        config.check()
        return config

    def check(self) -> None:
        """Refuse settings that do not go together (each error names the setting)."""
        if self.network and self.osrm_url:
            raise InputError(
                "give a road network or an OSRM server, not both (LASTMILE_NETWORK is set)",
                where="LASTMILE_OSRM_URL",
            )
        for name, value in (("LASTMILE_TRAFFIC", self.traffic), ("LASTMILE_WEATHER", self.weather)):
            if value and not self.network:
                raise InputError(
                    f"{value!r} needs a road network (LASTMILE_NETWORK, serve --network)",
                    where=name,
                )
        if self.osrm_url and urlsplit(self.osrm_url).scheme not in ("http", "https"):
            raise InputError(
                f"expected an http(s) URL, got {public_url(self.osrm_url)!r}",
                where="LASTMILE_OSRM_URL",
            )

    @property
    def kind(self) -> str:
        if self.network:
            return "road"
        return "osrm" if self.osrm_url else "straight_line"

    @property
    def spec(self) -> NetworkSpec | None:
        if not self.network:
            return None
        return NetworkSpec(
            network=self.network,
            traffic=self.traffic or "default",
            weather=self.weather or "clear",
        )

    def public(self) -> dict[str, Any]:
        """What ``GET /health`` and every plan show: file names, never paths or secrets."""
        if self.network:
            spec = self.spec
            assert spec is not None
            traffic = spec.traffic
            if traffic not in ("default", "none"):
                traffic = Path(traffic).name
            weather = spec.weather
            if Path(weather).suffix.lower() in (".csv", ".json"):
                weather = Path(weather).name
            return {
                "kind": "road",
                "network": Path(self.network).name,
                "traffic": traffic,
                "weather": weather,
                "time_dependent": spec.time_dependent,
            }
        if self.osrm_url:
            return {"kind": "osrm", "url": public_url(self.osrm_url), "time_dependent": False}
        return {
            "kind": "straight_line",
            "speed_kph": self.speed_kph,
            "detour_factor": self.detour_factor,
            "time_dependent": False,
        }


@dataclass(frozen=True)
class OrgTraffic:
    """An organisation's learned traffic profile: ``key`` names it among the kept day
    models (organisation and revision), ``label`` says what it is in a travel note."""

    key: str
    profile: TrafficProfile
    label: str = ""


@dataclass(frozen=True)
class JobLegs:
    """What a planning worker needs to build a job's time-dependent model again."""

    spec: NetworkSpec
    profile: str
    epoch: dt.datetime
    traffic: OrgTraffic | None = None


class ServiceTravel:
    """The process's travel (see the module docstring). ``model`` replaces what the
    configuration would build with one model for every profile and day (tests)."""

    def __init__(self, config: TravelConfig, *, model: TravelModel | None = None) -> None:
        self.config = config
        self.spec = config.spec if model is None else None
        self._fixed = model
        self._custom = model is not None
        self._traffic: TrafficProfile | None = None
        self._networks: dict[str, RoadNetwork] = {}
        self._days: collections.OrderedDict[tuple[str, dt.datetime, str], _Kept]
        self._days = collections.OrderedDict()
        self._held: collections.OrderedDict[
            tuple[str, dt.datetime, int | None, str], HeldRoadModel
        ] = collections.OrderedDict()
        self._learned: collections.OrderedDict[tuple[Any, int], OrgTraffic]
        self._learned = collections.OrderedDict()
        self._lock = threading.Lock()
        if model is not None:
            return
        if self.spec is not None:
            try:
                self._traffic = self.spec.check()
            except InputError as exc:
                raise InputError(f"{exc}", where="travel settings") from None
            self.network(DEFAULT_PROFILE)
        elif config.osrm_url:
            self._fixed = OSRMTravelModel(OSRMClient(config.osrm_url, timeout_s=30.0))
        else:
            self._fixed = HaversineModel(
                speed_kph=config.speed_kph, detour_factor=config.detour_factor
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceTravel:
        return cls(TravelConfig.from_settings(settings))

    @classmethod
    def of_model(cls, model: TravelModel) -> ServiceTravel:
        """One model for every profile and day."""
        return cls(TravelConfig(), model=model)

    # -- what it is -------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The configuration as shown to users (``GET /health``, each plan)."""
        fixed = self._fixed
        if self._custom and isinstance(fixed, HaversineModel):
            return {
                "kind": "straight_line",
                "speed_kph": fixed.speed_kph,
                "detour_factor": fixed.detour_factor,
                "time_dependent": False,
            }
        if self._custom and fixed is not None:
            return {"kind": "custom", "description": fixed.description, "time_dependent": False}
        return self.config.public()

    @property
    def time_dependent(self) -> bool:
        """Whether travel times depend on the time of day (with the configured traffic)."""
        return self.spec is not None and self.spec.time_dependent

    @property
    def on_roads(self) -> bool:
        """Whether travel is on a road network of the process's own (speeds can be learned)."""
        return self.spec is not None

    @property
    def base_traffic(self) -> TrafficProfile:
        """The configured traffic profile (what learning starts from)."""
        if self._traffic is None:
            raise InputError("travel is not on a road network", where="travel settings")
        return self._traffic

    def learned(self, key: Any, revision: int, load: Callable[[], TrafficProfile]) -> OrgTraffic:
        """The learned profile ``revision`` of ``key`` (an organisation), parsed by ``load``
        the first time this process sees it."""
        with self._lock:
            found = self._learned.get((key, revision))
            if found is not None:
                self._learned.move_to_end((key, revision))
                return found
        made = OrgTraffic(f"{key}#{revision}", load(), f"learned revision {revision}")
        with self._lock:
            self._learned[(key, revision)] = made
            while len(self._learned) > LEARNED_PROFILES:
                self._learned.popitem(last=False)
        return made

    def network_key(self, profile: str) -> str:
        """Profiles with the same key share their travel times ("" for every profile
        when travel is not on a road network)."""
        if self.spec is None:
            return ""
        return get_profile(profile).name

    # -- road networks and day models ---------------------------------------------------------

    def network(self, profile: str) -> RoadNetwork:
        """The road network for ``profile``, loaded once per process."""
        assert self.spec is not None
        key = self.network_key(profile)
        with self._lock:
            found = self._networks.get(key)
        if found is not None:
            return found
        path = Path(self.spec.network)
        try:
            loaded = self.spec.load(key)
        except InputError as exc:
            if exc.where == str(path):
                raise InputError(f"road network {path}: {exc.args[0].split(': ', 1)[-1]}") from None
            raise InputError(f"road network {path}: {exc}") from None
        except OSError as exc:
            raise InputError(f"road network {path}: cannot read: {exc.strerror}") from None
        with self._lock:
            return self._networks.setdefault(key, loaded)

    def day_model(
        self, profile: str, epoch: dt.datetime, traffic: OrgTraffic | None = None
    ) -> TimeDependentModel:
        """The road model of ``profile`` for the day whose midnight is ``epoch`` (aware,
        in the plan's time zone: traffic follows its wall clock), with ``traffic``
        instead of the configured profile when given."""
        assert self.spec is not None
        key = (self.network_key(profile), epoch, traffic.key if traffic is not None else "")
        now = time.monotonic()
        with self._lock:
            found = self._days.get(key)
            if found is not None and (self.spec.weather != "open-meteo" or now < found[1]):
                self._days.move_to_end(key)
                return found[0]
        network = self.network(profile)
        model = self.spec.model(
            network,
            epoch=epoch,
            traffic=traffic.profile if traffic is not None else self._traffic,
            weather_fallback=True,
        )
        with self._lock:
            self._days[key] = (model, now + FORECAST_TTL_S)
            self._days.move_to_end(key)
            while len(self._days) > DAY_MODELS:
                self._days.popitem(last=False)
        return model

    def held_model(
        self,
        profile: str,
        epoch: dt.datetime,
        departure: int | None,
        traffic: OrgTraffic | None = None,
    ) -> HeldRoadModel:
        """The day model of ``profile`` with the speeds at ``departure`` held, kept per
        process: every re-planning request on a kept live view asks for the same one."""
        day = self.day_model(profile, epoch, traffic)
        key = (
            self.network_key(profile),
            epoch,
            departure,
            traffic.key if traffic is not None else "",
        )
        with self._lock:
            found = self._held.get(key)
            if found is not None and found.model is day:
                self._held.move_to_end(key)
                return found
        held = HeldRoadModel(day, departure)
        with self._lock:
            self._held[key] = held
            self._held.move_to_end(key)
            while len(self._held) > HELD_MODELS:
                self._held.popitem(last=False)
        return held

    def for_day(
        self,
        epoch: dt.datetime,
        timezone: str,
        *,
        departure: int | None = None,
        held: bool = False,
        traffic: OrgTraffic | None = None,
    ) -> DayTravel:
        """Travel on the day at ``epoch`` in ``timezone``; legs leave at ``departure``
        (seconds since the epoch) unless a query says otherwise. ``held``: on a road
        network, the speeds at ``departure`` hold on every leg (:class:`HeldRoadModel`,
        for re-planning) instead of each leg's own time-dependent fastest path.
        ``traffic``: an organisation's learned profile (see :func:`org_traffic`)."""
        return DayTravel(
            self,
            local_epoch(epoch, timezone),
            departure,
            held=held,
            traffic=traffic if self.spec is not None else None,
        )

    def job_legs(
        self,
        problem: PlanningProblem,
        epoch: dt.datetime,
        timezone: str,
        traffic: OrgTraffic | None = None,
    ) -> JobLegs | None:
        """How a planning job re-times ``problem`` through the day, or None when a plain
        solve on its matrices is right: travel does not depend on the time of day, or
        the fleet drives on several road profiles (each profile's matrix then has every
        row leaving when it is expected to, see :func:`expected_departures`)."""
        if self.spec is None or not problem.vehicles:
            return None
        if not (self.time_dependent or traffic is not None):
            return None
        profiles = {v.type.profile for v in problem.vehicles}
        keys = {self.network_key(p) for p in profiles}
        if len(keys) != 1:
            return None
        return JobLegs(self.spec, keys.pop(), local_epoch(epoch, timezone), traffic)


def traffic_revision_of(org_id: Any) -> Any:
    """The select of the revision of the learned traffic profile ``org_id`` uses (a
    value or a correlated column), for a scalar subquery: NULL when none is in use."""
    return select(LearnedTraffic.revision).where(
        LearnedTraffic.org_id == org_id, LearnedTraffic.in_use.is_(True)
    )


_UNREAD: Any = object()


def org_traffic(
    session: Session, org_id: Any, travel: ServiceTravel, *, revision: int | None = _UNREAD
) -> OrgTraffic | None:
    """The traffic profile learned from ``org_id``'s own trips, when one is in use and
    travel is on a road network (else None: the configured profile applies).
    ``revision``: the in-use profile's revision as already read with another query
    (:func:`traffic_revision_of`; None: none in use), instead of a query of its own."""
    if not travel.on_roads:
        return None
    if revision is _UNREAD:
        revision = session.scalar(traffic_revision_of(org_id))
    if revision is None:
        return None

    def load() -> TrafficProfile:
        row = session.scalar(select(LearnedTraffic).where(LearnedTraffic.org_id == org_id))
        assert row is not None
        return row.traffic_profile()

    return travel.learned(org_id, int(revision), load)


def local_epoch(epoch: dt.datetime, timezone: str) -> dt.datetime:
    """``epoch`` on the wall clock of ``timezone`` (naive means UTC)."""
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=dt.UTC)
    return epoch.astimezone(zoneinfo.ZoneInfo(timezone))


class RoadModelAt:
    """A day's road model as a :class:`~lastmile.travel.TravelModel` whose legs leave
    at ``departure`` unless a query says otherwise; it answers rectangular queries
    (:meth:`between`), so a problem grows by new rows without a whole new matrix."""

    def __init__(self, model: TimeDependentModel, departure: int | None) -> None:
        self.model = model
        self.departure = model.departure_s if departure is None else int(departure)

    @property
    def description(self) -> str:
        return f"{self.model.description}; OpenStreetMap contributors, ODbL"

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        if not locations:
            empty = np.zeros((0, 0), dtype=np.int64)
            return TravelMatrix(durations=empty, distances=empty)
        return self.model.matrix(locations, departure=self._at(departure))

    def departure_matrix(
        self, locations: Sequence[Location], departures: Sequence[int]
    ) -> TravelMatrix:
        """Row ``i`` leaves ``locations[i]`` at ``departures[i]``."""
        return self.model.bind(locations).departure_matrix(list(departures))

    def _at(self, departure: int | None) -> int:
        return self.departure if departure is None else int(departure)

    def between(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
        *,
        departure: int | None = None,
    ) -> tuple[IntArray, IntArray]:
        """Durations and distances from each origin (rows) to each destination, the
        figures :meth:`matrix` gives for the same pairs (zero from a location to
        itself)."""
        n, k = len(origins), len(destinations)
        if not n or not k:
            return np.zeros((n, k), dtype=np.int64), np.zeros((n, k), dtype=np.int64)
        model = self.model
        o_nodes, o_gap = model.snap_known(origins)
        d_nodes, d_gap = model.snap_known(destinations)
        o_access = o_gap / model.access_speed_mps
        d_access = d_gap / model.access_speed_mps
        leave = self._at(departure) + o_access
        found = model.earliest_arrivals(o_nodes, leave, targets=np.unique(d_nodes))
        arrival = found.arrival[:, d_nodes] - leave[:, None]
        if not np.isfinite(arrival).all():
            i, j = np.argwhere(~np.isfinite(arrival))[0]
            raise InputError(
                f"destination {int(j)} cannot be reached from origin {int(i)}", where="network"
            )
        durations = arrival + o_access[:, None] + d_access[None, :]
        distances = found.length_m[:, d_nodes] + o_gap[:, None] + d_gap[None, :]
        for i, origin in enumerate(origins):
            for j, destination in enumerate(destinations):
                if origin is destination:
                    durations[i, j] = distances[i, j] = 0.0
        return np.rint(durations).astype(np.int64), np.rint(distances).astype(np.int64)


class HeldRoadModel:
    """A day's road model with the speeds of one moment held on every leg (the
    library's :meth:`~lastmile.travel.time_dependent.BoundModel.frozen_matrix`):
    static fastest paths, so a new location's column is one search backwards from
    it instead of one search from every location. Re-planning uses it, held at the
    moment of the change."""

    def __init__(self, model: TimeDependentModel, departure: int | None) -> None:
        self.model = model
        self.departure = model.departure_s if departure is None else int(departure)
        network = model.network
        tail = np.asarray(network.edge_tail, dtype=np.int64)
        head = np.asarray(network.edge_head, dtype=np.int64)
        length = np.asarray(network.edge_length_m, dtype=np.float64)
        times = model.frozen_edge_times(self.departure)
        # Parallel edges: keep the fastest (a sparse matrix would add them up).
        order = np.lexsort((times, head, tail))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (tail[order][1:] != tail[order][:-1]) | (head[order][1:] != head[order][:-1])
        keep = order[first]
        n = model.num_nodes
        self._n = n
        weights = np.maximum(times[keep], 1e-6)
        self._graph = csr_matrix((weights, (tail[keep], head[keep])), shape=(n, n))
        self._reverse = self._graph.T.tocsr()
        self._keys = tail[keep] * n + head[keep]
        by_key = np.argsort(self._keys)
        self._keys = self._keys[by_key]
        self._lengths = length[keep][by_key]
        self._length_of = dict(zip(self._keys.tolist(), self._lengths.tolist(), strict=True))

    @property
    def description(self) -> str:
        clock = dt.timedelta(seconds=self.departure)
        return (
            f"{self.model.description}, speeds held at +{clock}; OpenStreetMap contributors, ODbL"
        )

    def _snap(
        self, locations: Sequence[Location]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        nodes, gap = self.model.snap_known(locations)
        return nodes, gap, gap / self.model.access_speed_mps

    def _edge_lengths(
        self, tails: npt.NDArray[np.int64], heads: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        found: npt.NDArray[np.float64] = self._lengths[
            np.searchsorted(self._keys, tails * self._n + heads)
        ]
        return found

    def _tree_lengths(
        self, times: npt.NDArray[np.float64], pred: npt.NDArray[Any], *, backwards: bool
    ) -> npt.NDArray[np.float64]:
        """Metres along each shortest-path tree (rows), nodes taken in time order."""
        rows = np.arange(times.shape[0])
        out = np.zeros(times.shape)
        for v in np.argsort(times, axis=1, kind="stable").T:
            p = pred[rows, v]
            ok = p >= 0
            if not ok.any():
                continue
            r, a, b = rows[ok], p[ok], v[ok]
            step = self._edge_lengths(b, a) if backwards else self._edge_lengths(a, b)
            out[r, b] = out[r, a] + step
        return out

    def _walked_lengths(
        self,
        roots: npt.NDArray[np.int64],
        pred: npt.NDArray[Any],
        there: npt.NDArray[np.int64],
        *,
        backwards: bool,
    ) -> npt.NDArray[np.float64]:
        """Metres from each root's tree to the nodes ``there`` only, walking each path
        once (few trees: cheaper than :meth:`_tree_lengths` over every node)."""
        out = np.zeros((len(roots), len(there)))
        n, length_of = self._n, self._length_of
        targets = there.tolist()
        for r, root in enumerate(roots.tolist()):
            up = pred[r].tolist()  # plain ints: a list is read much faster than an array
            memo: dict[int, float] = {root: 0.0}
            row = out[r]
            for j, node in enumerate(targets):
                chain = []
                v = node
                while v not in memo:
                    chain.append(v)
                    v = up[v]
                    if v < 0:
                        raise InputError(f"node {node} cannot be reached", where="network")
                for u in reversed(chain):
                    p = up[u]
                    memo[u] = memo[p] + length_of[u * n + p if backwards else p * n + u]
                row[j] = memo[node]
        return out

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        if departure is not None and int(departure) != self.departure:
            return HeldRoadModel(self.model, departure).matrix(locations)
        if not locations:
            empty = np.zeros((0, 0), dtype=np.int64)
            return TravelMatrix(durations=empty, distances=empty)
        durations, distances = self.between(locations, locations, same=True)
        return TravelMatrix(durations=durations, distances=distances)

    def between(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
        *,
        departure: int | None = None,
        same: bool = False,
    ) -> tuple[IntArray, IntArray]:
        """Durations and distances from each origin (rows) to each destination (zero
        from a location to itself, and on the diagonal when ``same``): one search per
        distinct origin, or backwards per distinct destination when there are fewer."""
        if departure is not None and int(departure) != self.departure:
            return HeldRoadModel(self.model, departure).between(origins, destinations)
        n, k = len(origins), len(destinations)
        if not n or not k:
            return np.zeros((n, k), dtype=np.int64), np.zeros((n, k), dtype=np.int64)
        o_nodes, o_gap, o_access = self._snap(origins)
        d_nodes, d_gap, d_access = (o_nodes, o_gap, o_access) if same else self._snap(destinations)
        backwards = len(np.unique(d_nodes)) < len(np.unique(o_nodes))
        roots, there = (d_nodes, o_nodes) if backwards else (o_nodes, d_nodes)
        unique, inverse = np.unique(roots, return_inverse=True)
        graph = self._reverse if backwards else self._graph
        times, pred = dijkstra(graph, indices=unique, return_predecessors=True)
        if len(unique) <= _FEW_TREES:
            lengths = self._walked_lengths(unique, pred, there, backwards=backwards)
            m = lengths[inverse]
        else:
            m = self._tree_lengths(times, pred, backwards=backwards)[inverse][:, there]
        t = times[inverse][:, there]
        if backwards:
            t, m = t.T, m.T
        if not np.isfinite(t).all():
            i, j = np.argwhere(~np.isfinite(t))[0]
            raise InputError(
                f"destination {int(j)} cannot be reached from origin {int(i)}", where="network"
            )
        durations = t + o_access[:, None] + d_access[None, :]
        distances = m + o_gap[:, None] + d_gap[None, :]
        if same:
            np.fill_diagonal(durations, 0.0)
            np.fill_diagonal(distances, 0.0)
        else:
            for i, origin in enumerate(origins):
                for j, destination in enumerate(destinations):
                    if origin is destination:
                        durations[i, j] = distances[i, j] = 0.0
        return np.rint(durations).astype(np.int64), np.rint(distances).astype(np.int64)


class DayTravel:
    """The travel models of one plan day, one per vehicle profile (see the module
    docstring); ``epoch`` is aware, on the plan's wall clock."""

    def __init__(
        self,
        travel: ServiceTravel,
        epoch: dt.datetime,
        departure: int | None,
        *,
        held: bool = False,
        traffic: OrgTraffic | None = None,
    ) -> None:
        self.travel = travel
        self.epoch = epoch
        self.departure = departure
        self.held = held
        self.traffic = traffic
        self._models: dict[str, TravelModel] = {}

    @property
    def time_dependent(self) -> bool:
        return self.travel.time_dependent or self.traffic is not None

    def model(self, profile: str) -> TravelModel:
        """The model vehicles of ``profile`` drive on (legs leaving at the day's departure)."""
        key = self.travel.network_key(profile)
        found = self._models.get(key)
        if found is None:
            fixed = self.travel._fixed
            if fixed is not None:
                found = fixed
            elif self.held:
                found = self.travel.held_model(key, self.epoch, self.departure, self.traffic)
            else:
                found = RoadModelAt(
                    self.travel.day_model(key, self.epoch, self.traffic), self.departure
                )
            self._models[key] = found
        return found

    def description(self, profiles: Iterable[str]) -> str:
        """How travel is computed for ``profiles`` (one line, the plan's travel note)."""
        seen: dict[str, str] = {}
        for p in sorted(set(profiles)) or [DEFAULT_PROFILE]:
            key = self.travel.network_key(p)
            if key not in seen:
                seen[key] = self.model(p).description
        learned = ""
        if self.traffic is not None:
            learned = f"; speeds learned from the organisation's trips ({self.traffic.label})"
        if len(seen) == 1:
            return next(iter(seen.values())) + learned
        return "; ".join(f"{key}: {text}" for key, text in seen.items()) + learned

    def matrices(
        self,
        locations: Sequence[Location],
        profiles: Iterable[str],
        *,
        departures: Sequence[int] | None = None,
    ) -> dict[str, TravelMatrix]:
        """A matrix per profile (profiles on the same roads share one). With
        ``departures``, row ``i`` leaves at ``departures[i]`` (time-dependent travel)."""
        by_key: dict[str, TravelMatrix] = {}
        out: dict[str, TravelMatrix] = {}
        for p in profiles:
            key = self.travel.network_key(p)
            if key not in by_key:
                model = self.model(p)
                if departures is not None and isinstance(model, RoadModelAt):
                    by_key[key] = model.departure_matrix(locations, departures)
                else:
                    by_key[key] = model.matrix(locations, departure=self.departure)
            out[p] = by_key[key]
        return out

    def grown(self, problem: PlanningProblem, extra: Sequence[Location]) -> dict[str, TravelMatrix]:
        """``problem``'s matrices with rows and columns for ``extra`` at the end."""
        done: dict[int, TravelMatrix] = {}
        out: dict[str, TravelMatrix] = {}
        for profile, matrix in problem.matrices.items():
            same = done.get(id(matrix))
            if same is None:
                same = grown_matrix(
                    self.model(profile), problem.locations, matrix, extra, departure=self.departure
                )
                done[id(matrix)] = same
            out[profile] = same
        return out

    def between(self, profiles: Iterable[str]) -> dict[str, Between] | None:
        """Rectangular queries per profile, or None when a model has none."""
        out: dict[str, Between] = {}
        for p in profiles:
            model = self.model(p)
            method = getattr(model, "between", None)
            if method is None:
                return None
            out[p] = method
        return out


def expected_departures(
    n_locations: int,
    depots: Sequence[DomainDepot],
    vehicles: Sequence[Vehicle],
    orders: Sequence[Order],
) -> list[int]:
    """When each location is expected to be left (seconds since the epoch), for
    matrices of a day whose travel depends on the time of day: a depot when its first
    vehicle leaves, a stop in the middle of its first window (within the fleet's
    working hours) after its service; anything else at the start of the day's work."""
    starts = [v.shift.start for v in vehicles] or [0]
    ends = [v.shift.end for v in vehicles if v.shift.end < HORIZON]
    span_start = min(starts)
    span_end = max(ends) if ends else span_start + 10 * 3600
    span_end = max(span_start, span_end)
    guesses: dict[int, list[int]] = collections.defaultdict(list)
    for order in orders:
        for stop in order.stops:
            window = next((w for w in stop.time_windows if w.end >= span_start), None)
            if window is None:
                middle = (span_start + span_end) // 2
            else:
                lo = max(window.start, span_start)
                hi = min(window.end, span_end) if window.end < HORIZON else span_end
                middle = (lo + max(lo, hi)) // 2
            guesses[stop.location].append(middle + stop.service)
    out = [span_start] * n_locations
    for row, values in guesses.items():
        out[row] = round(sum(values) / len(values))
    leaving: dict[int, int] = {}
    for vehicle in vehicles:
        if vehicle.start_depot is not None:
            row = depots[vehicle.start_depot].location
            leaving[row] = min(leaving.get(row, vehicle.shift.start), vehicle.shift.start)
    for row, start in leaving.items():
        out[row] = start
    return out


class LegDurations(Sequence[Sequence[int]]):
    """``durations[a][b]``: seconds from row ``a`` to row ``b`` of ``locations`` on a
    road model, the leg leaving at ``departure_of(a, b)``; each leg is computed when
    first read (an ETA reads a route's legs only, not a whole matrix)."""

    def __init__(
        self,
        model: RoadModelAt,
        locations: Sequence[Location],
        departure_of: Callable[[int, int], int],
    ) -> None:
        self._model = model.model
        self._size = len(locations)
        nodes, gap = self._model.snap_known(locations) if locations else (np.zeros(0), np.zeros(0))
        self._nodes: npt.NDArray[Any] = nodes
        self._access: npt.NDArray[np.float64] = gap / self._model.access_speed_mps
        self._departure_of = departure_of
        self._known: dict[tuple[int, int, int], int] = {}

    def prefetch(self, legs: Iterable[tuple[int, int, int]]) -> None:
        """Compute the legs ``(a, b, departure)`` not known yet, in one search call
        (at most)."""
        todo = list(dict.fromkeys(k for k in legs if k[0] != k[1] and k not in self._known))
        if not todo:
            return
        origins = np.array([a for a, _, _ in todo], dtype=np.int64)
        ends = np.array([b for _, b, _ in todo], dtype=np.int64)
        leave = np.array([t for _, _, t in todo], dtype=np.float64) + self._access[origins]
        # Pair by pair, remembered by the day's model across requests (see
        # TimeDependentModel.pair_seconds): a route's legs are asked for again and again.
        seconds = self._model.pair_seconds(
            np.asarray(self._nodes[origins], dtype=np.int64),
            leave,
            np.asarray(self._nodes[ends], dtype=np.int64),
        )
        if not np.isfinite(seconds).all():
            k = int(np.flatnonzero(~np.isfinite(seconds))[0])
            a, b, _ = todo[k]
            raise InputError(f"location {b} cannot be reached from location {a}", where="network")
        totals = np.rint(seconds + self._access[origins] + self._access[ends]).astype(np.int64)
        for key, value in zip(todo, totals.tolist(), strict=True):
            self._known[key] = int(value)

    def duration(self, a: int, b: int) -> int:
        """Seconds from row ``a`` to row ``b`` (the same formula as a matrix row)."""
        if a == b:
            return 0
        key = (a, b, self._departure_of(a, b))
        if key not in self._known:
            self.prefetch([key])
        return self._known[key]

    @overload
    def __getitem__(self, a: int) -> Sequence[int]: ...
    @overload
    def __getitem__(self, a: slice) -> Sequence[Sequence[int]]: ...
    def __getitem__(self, a: int | slice) -> Sequence[int] | Sequence[Sequence[int]]:
        if isinstance(a, slice):
            return [_LegRow(self, i) for i in range(self._size)[a]]
        return _LegRow(self, a)

    def __len__(self) -> int:
        return self._size


class _LegRow(Sequence[int]):
    def __init__(self, legs: LegDurations, a: int) -> None:
        self.legs = legs
        self.a = a

    @overload
    def __getitem__(self, b: int) -> int: ...
    @overload
    def __getitem__(self, b: slice) -> Sequence[int]: ...
    def __getitem__(self, b: int | slice) -> int | Sequence[int]:
        if isinstance(b, slice):
            return [self.legs.duration(self.a, j) for j in range(len(self.legs))[b]]
        return self.legs.duration(self.a, b)

    def __len__(self) -> int:
        return len(self.legs)


__all__ = [
    "DayTravel",
    "HeldRoadModel",
    "JobLegs",
    "LegDurations",
    "OrgTraffic",
    "RoadModelAt",
    "ServiceTravel",
    "TravelConfig",
    "expected_departures",
    "local_epoch",
    "org_traffic",
    "public_url",
]
