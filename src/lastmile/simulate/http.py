"""The digital twin driving the real service through its HTTP API.

:class:`ServiceDay` plays a delivery day against a running lastmile service the
way its people and their phones would: a dispatcher sets the day up (depot,
vans, drivers with shifts, orders), plans it with the service's planning job and
dispatches it; then each driver, signed in with their own account, sends GPS
pings in batches, ``arrived`` stop events and proofs of delivery (the order's
barcodes; a wrong scan first when the parcel fails the scan), and the
dispatcher reacts to incidents through the service (an urgent order posted and
inserted, a van's breakdown re-planned). What moves is the in-process
:class:`~lastmile.simulate.twin.Twin`, fed with the service's own routes (and
their changes after every re-plan), advanced to the service's clock.

The service must run on a simulated clock (``LASTMILE_SIMULATED_CLOCK``, shown
by ``GET /health``): a simulated day then passes ``speed`` times faster than
real time, and every timestamp the twin sends is the simulated time. A service
on the wall clock is refused unless the day is today at real speed.

This module talks to the service over HTTP only (httpx); it never imports the
service. ``lastmile simulate --service URL --token TOKEN`` runs it against a
server; ``lastmile simulate --serve`` starts a private one first.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.domain.day import DayRecord, EtaSample
from lastmile.exceptions import InputError, LastmileError
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step, build_route
from lastmile.simulate.config import TwinConfig
from lastmile.simulate.events import EventKind, TwinEvent
from lastmile.simulate.incidents import BREAKDOWN, URGENT_ORDER, Scheduled
from lastmile.simulate.twin import Twin
from lastmile.travel.base import TravelModel
from lastmile.travel.haversine import HaversineModel

#: Central Helsinki, where a seeded day happens: (min_lon, min_lat, max_lon, max_lat).
AREA = (24.90, 60.155, 24.98, 60.195)
#: The failure reasons the twin gives, as the service's codes.
REASONS = {"customer absent": "recipient_absent", "parcel failed the scan": "damaged"}
_TASKS = {"job": VisitKind.JOB, "pickup": VisitKind.PICKUP, "delivery": VisitKind.DELIVERY}


class ServiceDriveError(LastmileError):
    """The service refused a request the day needs, or cannot be driven at all
    (``status``: the HTTP status it answered, if it answered)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# -- the API ------------------------------------------------------------------------------


class Api:
    """The service's HTTP API as one signed-in user."""

    def __init__(
        self, client: httpx.Client, token: str, login: tuple[str, str] | None = None
    ) -> None:
        self.client = client
        self.token = token
        self.login = login  # (e-mail, password): signs in again when the session expires
        self.requests = 0
        self.errors: list[str] = []
        #: Tries per request: a server error or a lost connection is tried again.
        self.attempts = 3

    def call(
        self, method: str, path: str, body: Any = None, *, expect: int | tuple[int, ...] = 200
    ) -> Any:
        """One request; an answer other than ``expect`` raises :class:`ServiceDriveError`.
        A server error (5xx) or a lost connection is tried again, twice, as a phone
        would: every write of the API is idempotent (event ids) or checked by the
        service. :attr:`errors` keeps each one retried."""
        wanted = (expect,) if isinstance(expect, int) else expect
        last = self.attempts - 1
        for attempt in range(self.attempts):
            self.requests += 1
            try:
                response = self.client.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
                )
            except httpx.TransportError as exc:
                if attempt == last:
                    raise ServiceDriveError(f"{method} {path}: {exc}") from None
                self.errors.append(f"{method} {path}: {exc}")
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code == 401 and self.login is not None and attempt < last:
                self.token = sign_in(self.client, *self.login).token
                self.errors.append(f"{method} {path}: session expired, signed in again")
                continue
            if (
                response.status_code >= 500
                and response.status_code not in wanted
                and attempt < last
            ):
                self.errors.append(f"{method} {path} answered {response.status_code}")
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code not in wanted:
                raise ServiceDriveError(
                    f"{method} {path} answered {response.status_code}: {response.text[:400]}",
                    status=response.status_code,
                )
            return response.json() if response.content else None
        raise AssertionError("unreachable")


def sign_in(client: httpx.Client, email: str, password: str) -> Api:
    """A session for ``email`` (``POST /auth/login``)."""
    response = client.post("/auth/login", json={"email": email, "password": password})
    if response.status_code != 200:
        raise ServiceDriveError(f"{email} could not sign in: {response.text[:300]}")
    return Api(client, response.json()["access_token"], (email, password))


@dataclass(frozen=True)
class ServiceClock:
    """The service's clock as ``GET /health`` gives it, read against ours."""

    simulated: bool
    speed: float
    now: dt.datetime
    read_at: float  # time.monotonic() when it was read
    held: bool = False  # stopped while the day is set up (a private service's clock)

    @classmethod
    def read(cls, client: httpx.Client) -> ServiceClock:
        sent = time.monotonic()
        health = client.get("/health").json()
        back = time.monotonic()
        clock = health.get("clock") or {}
        if "now" not in clock:
            raise ServiceDriveError("GET /health shows no clock: the service is too old")
        return cls(
            simulated=bool(clock.get("simulated")),
            speed=float(clock.get("speed", 1.0)),
            now=dt.datetime.fromisoformat(str(clock["now"])),
            read_at=(sent + back) / 2,
            held=bool(clock.get("held", False)),
        )

    def current(self) -> dt.datetime:
        """The service's time now, without asking it."""
        if self.held:
            return self.now
        return self.now + dt.timedelta(seconds=(time.monotonic() - self.read_at) * self.speed)

    def check_drivable(self, day: dt.date, zone: ZoneInfo) -> None:
        """Refuse a service on the wall clock, unless the day is today at real speed."""
        if self.simulated:
            return
        if self.current().astimezone(zone).date() != day:
            raise ServiceDriveError(
                f"the service runs on the wall clock and {day} is not today: start it with "
                "LASTMILE_SIMULATED_CLOCK='<the day's start> x<speed-up>' to simulate a day"
            )


# -- the day set up through the API --------------------------------------------------------


@dataclass(frozen=True)
class DayPlan:
    """What a simulated day through the service is made of."""

    orders: int = 20
    vans: int = 3
    seed: int = 0
    time_limit_s: float = 2.0
    shift: tuple[int, int] = (7 * 3600, 19 * 3600)
    urgent_orders: int = 1
    breakdowns: int = 0
    breakdown_share: float = 0.4
    eta_every_s: int = 900
    tick_s: float = 0.05
    #: Failed deliveries (customer absent) booked again the same day, an hour later.
    reattempts: int = 0
    #: Phones report ``arrived`` at each stop; False: the service learns arrivals from
    #: the GPS pings alone (each reported event recomputes the route's ETAs).
    arrived_events: bool = True
    #: The plan request's per-stop on-time target (``robust.on_time``, docs/robust.md);
    #: None plans without buffers.
    robust_on_time: float | None = None

    def __post_init__(self) -> None:
        if self.orders < 1:
            raise InputError(f"must be at least 1, got {self.orders}", where="orders")
        if self.vans < 1:
            raise InputError(f"must be at least 1, got {self.vans}", where="vans")
        if self.breakdowns >= self.vans:
            raise InputError("fewer breakdowns than vans, please", where="breakdowns")
        if not 0 <= self.breakdown_share < 1:
            raise InputError(
                f"must be at least 0 and less than 1, got {self.breakdown_share}",
                where="breakdown_share",
            )
        if not 0 <= self.shift[0] < self.shift[1] <= 24 * 3600:
            raise InputError(f"not a shift within the day: {self.shift}", where="shift")
        if self.robust_on_time is not None and not 0 < self.robust_on_time < 1:
            raise InputError(
                f"must be between 0 and 1, got {self.robust_on_time}", where="robust_on_time"
            )


def clock_start(
    day: dt.date,
    zone: ZoneInfo,
    speed: float,
    *,
    shift_start_s: int = 7 * 3600,
    setup_s: float = 15,
) -> dt.datetime:
    """Where a service's simulated clock should start so that setting the day up
    (about ``setup_s`` real seconds of requests and planning) ends before the first
    shift: ``setup_s x speed`` simulated seconds earlier, at least ten minutes,
    never before the day's midnight."""
    ahead = max(600.0, setup_s * speed)
    start = max(1.0, shift_start_s - ahead)
    return dt.datetime.combine(day, dt.time(0), zone) + dt.timedelta(seconds=int(start))


#: How a day is set up through the API: ``(admin, day=, zone=, spec=, dimensions=)`` ->
#: each driver's (e-mail, password) by driver id (see :func:`seed_day`).
SeedDay = Callable[..., dict[str, tuple[str, str]]]


def enrol_driver(
    admin: Api,
    *,
    number: int,
    email: str,
    vehicle: str,
    type_id: str,
    depot_id: str,
    start_at: str,
    end_at: str,
    breaks: list[dict[str, Any]] | None = None,
) -> tuple[str, str]:
    """A driver's user (a random password), their vehicle, the driver and their shift,
    entered as an admin would; returns the driver's id and password."""
    password = uuid.uuid4().hex
    name = f"Driver {number}"
    user = admin.call(
        "POST",
        "/users",
        {"email": email, "password": password, "role": "driver", "name": name},
        expect=201,
    )
    van = admin.call(
        "POST", "/vehicles", {"name": vehicle, "type_id": type_id, "depot_id": depot_id}, expect=201
    )
    driver = admin.call("POST", "/drivers", {"name": name, "user_id": user["id"]}, expect=201)
    shift: dict[str, Any] = {
        "driver_id": driver["id"],
        "vehicle_id": van["id"],
        "start_at": start_at,
        "end_at": end_at,
    }
    if breaks:
        shift["breaks"] = breaks
    admin.call("POST", "/shifts", shift, expect=201)
    return str(driver["id"]), password


def _at(epoch: dt.datetime, seconds: float) -> str:
    return (epoch + dt.timedelta(seconds=seconds)).isoformat()


def seed_day(
    admin: Api, *, day: dt.date, zone: ZoneInfo, spec: DayPlan, dimensions: list[str]
) -> dict[str, tuple[str, str]]:
    """Depot, vans, driver users with shifts and orders for ``day``, as an admin
    would enter them; returns each driver's (e-mail, password)."""
    rng = random.Random(spec.seed)
    epoch = dt.datetime.combine(day, dt.time(0), zone)
    w, s, e, n = AREA
    depot = admin.call(
        "POST",
        "/depots",
        {
            "name": "Simulated depot",
            "lon": (w + e) / 2,
            "lat": n,
            "opens_s": max(0, spec.shift[0] - 3600),
            "closes_s": min(24 * 3600, spec.shift[1] + 3600),
        },
        expect=201,
    )
    van = admin.call(
        "POST",
        "/vehicle-types",
        {"name": "Van", "capacity": [10_000] * len(dimensions), "profile": "van"},
        expect=201,
    )
    tag = uuid.uuid4().hex[:6]
    people: dict[str, tuple[str, str]] = {}
    for k in range(spec.vans):
        email = f"driver.{k + 1}.{tag}@simulated.example"
        driver_id, password = enrol_driver(
            admin,
            number=k + 1,
            email=email,
            vehicle=f"van-{k + 1:02d}",
            type_id=van["id"],
            depot_id=depot["id"],
            start_at=_at(epoch, spec.shift[0]),
            end_at=_at(epoch, spec.shift[1]),
        )
        people[driver_id] = (email, password)
    first, last = spec.shift[0] + 3600, spec.shift[1] - 3 * 3600
    for k in range(spec.orders):
        windows = []
        if rng.random() < 0.7 and last > first:
            start = first + rng.randrange(0, max(1, (last - first) // 3600)) * 3600
            windows = [{"start": _at(epoch, start), "end": _at(epoch, start + 3 * 3600)}]
        parcels = rng.choice((1, 1, 2))
        admin.call(
            "POST",
            "/orders",
            {
                "external_id": f"sim-{k + 1:04d}",
                "delivery": {
                    "lon": round(rng.uniform(w, e), 6),
                    "lat": round(rng.uniform(s, n), 6),
                    "address": f"Simulated street {k + 1}",
                    "service_s": rng.choice((60, 120, 180)),
                    "time_windows": windows,
                },
                "amount": [1] * len(dimensions),
                "customer": {"name": f"Customer {k + 1}", "email": f"c{k + 1}@simulated.example"},
                "items": [
                    {"barcode": f"SIM{k + 1:05d}-{p + 1}-{tag}", "description": "parcel"}
                    for p in range(parcels)
                ],
            },
            expect=201,
        )
    return people


def plan_and_dispatch(
    api: Api, day: dt.date, time_limit_s: float, robust_on_time: float | None = None
) -> dict[str, Any]:
    """Plan ``day`` with the service's planning job (robust to ``robust_on_time`` per
    stop when given) and dispatch the plan."""
    request: dict[str, Any] = {"date": day.isoformat(), "time_limit_s": time_limit_s}
    if robust_on_time is not None:
        request["robust"] = {"on_time": robust_on_time}
    plan = api.call("POST", "/plans", request, expect=202)
    deadline = time.monotonic() + time_limit_s + 120
    while (job := api.call("GET", f"/plans/{plan['id']}/job"))["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise ServiceDriveError(f"planning did not finish: {job.get('message')}")
        time.sleep(0.1)
    if job["status"] != "succeeded":
        raise ServiceDriveError(f"planning {job['status']}: {job.get('error')}")
    dispatched: dict[str, Any] = api.call("POST", f"/plans/{plan['id']}/dispatch", {})
    return dispatched


# -- the service's plan as the twin's -------------------------------------------------------


@dataclass
class Mirror:
    """The service's plan as a :class:`PlanningProblem` and :class:`Plan` for the
    twin: places in one growing list (rows never move), vehicles by name, orders
    by their external id; travel as the service's straight-line model, or per
    routing profile as ``models`` give it (a road network's)."""

    epoch: dt.datetime
    travel: HaversineModel
    orders: dict[str, dict[str, Any]]  # service order id -> its GET /orders answer
    models: Mapping[str, TravelModel] | None = None  # routing profile -> its travel
    profiles: dict[str, str] = field(default_factory=dict)  # vehicle name -> routing profile
    breaks: dict[str, dict[str, Break]] = field(default_factory=dict)  # vehicle -> its breaks
    locations: list[Location] = field(default_factory=list)
    rows: dict[tuple[float, float], int] = field(default_factory=dict)
    vehicle_names: dict[str, str] = field(default_factory=dict)  # service id -> name
    vehicle_ids: dict[str, str] = field(default_factory=dict)  # name -> service id
    route_ids: dict[str, str] = field(default_factory=dict)  # name -> service route id
    order_ids: dict[str, str] = field(default_factory=dict)  # twin id -> service id
    homes: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)

    def seconds(self, text: str) -> int:
        return round((dt.datetime.fromisoformat(text) - self.epoch).total_seconds())

    def row(self, lon: float, lat: float) -> int:
        key = (round(lon, 6), round(lat, 6))
        if key not in self.rows:
            self.rows[key] = len(self.locations)
            self.locations.append(Location(key[0], key[1]))
        return self.rows[key]

    def twin_id(self, service_order_id: str) -> str:
        order = self.orders[service_order_id]
        name = str(order.get("external_id") or service_order_id)
        self.order_ids[name] = service_order_id
        return name

    def _stop(self, raw: Mapping[str, Any] | None, lon: float, lat: float) -> Stop:
        windows = tuple(
            TimeWindow(self.seconds(w["start"]), self.seconds(w["end"]))
            for w in (raw or {}).get("time_windows", [])
        )
        return Stop(
            self.row(lon, lat), service=int((raw or {}).get("service_s", 0)), time_windows=windows
        )

    def _model(self, profile: str) -> TravelModel:
        if self.models is not None and profile in self.models:
            return self.models[profile]
        return self.travel

    def build(self, detail: Mapping[str, Any]) -> tuple[PlanningProblem, Plan]:
        """The plan ``detail`` (``GET /plans/{id}``) as the twin's problem and plan."""
        depots: dict[str, int] = {}
        places: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
        routes_raw = [r for r in detail["routes"] if r["status"] != "broken_down"]
        for r in detail["routes"]:
            name = self.vehicle_names.setdefault(r["vehicle_id"], r["vehicle_id"])
            self.vehicle_ids[name] = r["vehicle_id"]
            self.route_ids[name] = r["id"]
            for v in r["visits"]:
                if v["order_id"] and v["kind"] in _TASKS and v["lon"] is not None:
                    places[v["order_id"]][v["kind"]] = (v["lon"], v["lat"])
                elif v["depot_id"] and v["lon"] is not None and v["depot_id"] not in depots:
                    depots[v["depot_id"]] = self.row(v["lon"], v["lat"])
        depot_ids = list(depots)
        orders: list[Order] = []
        for oid, kinds in places.items():
            raw = self.orders[oid]
            name = self.twin_id(oid)
            if "pickup" in kinds and "delivery" in kinds:
                orders.append(
                    Order(
                        name,
                        OrderKind.SHIPMENT,
                        pickup=self._stop(raw.get("pickup"), *kinds["pickup"]),
                        delivery=self._stop(raw.get("delivery"), *kinds["delivery"]),
                    )
                )
            else:
                lon, lat = next(iter(kinds.values()))
                pickup = raw.get("kind") == "pickup"
                stop = self._stop(raw.get("pickup" if pickup else "delivery"), lon, lat)
                kind = OrderKind.PICKUP if pickup else OrderKind.DELIVERY
                orders.append(
                    Order(
                        name,
                        kind,
                        pickup=stop if pickup else None,
                        delivery=None if pickup else stop,
                    )
                )
        vehicles: list[Vehicle] = []
        types: dict[str, VehicleType] = {}
        day_end = 24 * 3600 - 1
        for r in detail["routes"]:
            name = self.vehicle_names[r["vehicle_id"]]
            profile = self.profiles.get(name, "van")
            vtype = types.setdefault(profile, VehicleType(profile, profile=profile))
            visits = r["visits"]
            start = next((v for v in visits if v["kind"] == "start"), None)
            end = next((v for v in visits if v["kind"] == "end"), None)
            ends = (
                depot_ids.index(start["depot_id"]) if start else None,
                depot_ids.index(end["depot_id"]) if end else None,
            )
            if ends == (None, None):  # a route without visits (e.g. a broken van's): home
                ends = self.homes.get(name, (0, 0))
            self.homes[name] = ends
            # The breaks the service planned, taken when planned (or up to half an
            # hour later, when the day runs late); one planned before stays known.
            for v in visits:
                if v["kind"] == "break" and v.get("break_id"):
                    begin = min(self.seconds(v["start_at"]), day_end - 1)
                    self.breaks.setdefault(name, {})[v["break_id"]] = Break(
                        v["break_id"],
                        (TimeWindow(begin, min(begin + 1800, day_end)),),
                        max(1, self.seconds(v["departure_at"]) - self.seconds(v["start_at"])),
                    )
            vehicles.append(
                Vehicle(
                    name,
                    vtype,
                    start_depot=ends[0],
                    end_depot=ends[1],
                    shift=TimeWindow(min(self.seconds(r["start_at"]), day_end), day_end),
                    breaks=tuple(self.breaks.get(name, {}).values()),
                )
            )
        # The organisation's other vehicles, at home: a re-plan may give one its first
        # route (the twin has a vehicle for each from the start).
        routed = {v.id for v in vehicles}
        for service_id, name in sorted(self.vehicle_names.items(), key=lambda kv: kv[1]):
            if name in routed or not depot_ids:
                continue
            self.vehicle_ids.setdefault(name, service_id)
            profile = self.profiles.get(name, "van")
            vtype = types.setdefault(profile, VehicleType(profile, profile=profile))
            home = self.homes.get(name, (0, 0))
            vehicles.append(
                Vehicle(
                    name,
                    vtype,
                    start_depot=home[0],
                    end_depot=home[1],
                    shift=TimeWindow(0, day_end),
                    breaks=tuple(self.breaks.get(name, {}).values()),
                )
            )
        problem = PlanningProblem(
            locations=tuple(self.locations),
            matrices={p: self._model(p).matrix(self.locations) for p in types},
            depots=tuple(Depot(d, depots[d]) for d in depot_ids),
            vehicles=tuple(vehicles),
            orders=tuple(orders),
            name="service day",
        )
        by_name = {v.id: v for v in vehicles}
        routes: list[Route] = []
        for r in routes_raw:
            name = self.vehicle_names[r["vehicle_id"]]
            steps = [
                Step(_TASKS[v["kind"]], order_id=self.twin_id(v["order_id"]))
                if v["kind"] in _TASKS
                else Step(VisitKind.BREAK, break_id=v["break_id"])
                for v in r["visits"]
                if (v["order_id"] and v["kind"] in _TASKS)
                or (v["kind"] == "break" and v.get("break_id"))
            ]
            if any(step.kind is not VisitKind.BREAK for step in steps):
                start_s = self.seconds(r["start_at"])
                routes.append(build_route(problem, by_name[name], steps, start_time=start_s))
        unassigned = tuple(
            Unassigned(self.twin_id(u["order_id"]), u.get("reason", ""), "service")
            for u in detail.get("unassigned", [])
            if u.get("order_id") in self.orders
        )
        return problem, Plan(tuple(routes), unassigned, engine="service")


# -- the day ---------------------------------------------------------------------------------


@dataclass
class ServiceDayResult:
    """What the day through the service gave: the twin's record (source
    ``service``, with the ETAs the service predicted) and what the service did."""

    record: DayRecord
    plan_id: str
    counts: dict[str, int]
    seconds: float
    started_s: int  # the service's clock when the day was driven from (seconds since midnight)
    simulated_s: int  # ... and when it ended
    behind_s: float
    requests: int


class ServiceDay:
    """One day driven through the service at ``base_url`` as ``token``'s
    organisation (an admin: the day is set up with its API)."""

    def __init__(
        self,
        client: httpx.Client,
        token: str,
        *,
        spec: DayPlan | None = None,
        config: TwinConfig | None = None,
        log: Callable[[str], None] | None = None,
        before_driving: Callable[[], None] | None = None,
        seed: SeedDay | None = None,
        travel: Mapping[str, TravelModel] | None = None,
        tolerate_server_errors: bool = False,
        pause: tuple[Callable[[], None], Callable[[], None]] | None = None,
        max_behind_s: float = 600.0,
    ) -> None:
        self.client = client
        # How the day is set up (default: :func:`seed_day`'s generated Helsinki day).
        self.seed = seed or seed_day
        # The drivers' travel per routing profile; needed when the service plans on a
        # road network (default: the service's straight lines).
        self.travel = travel
        # Go on when a request still fails with a server error after its retries (the
        # event, ping or reading is lost, the day goes on); default: stop the day.
        self.tolerate_server_errors = tolerate_server_errors
        # (hold, run) the service's clock (a private service's): when the drivers fall
        # more than ``max_behind_s`` simulated seconds behind it, it is held while they
        # report what happened up to then, so the service never sees a day later than
        # the drivers' (it would predict lateness that is only their reports' delay).
        self.pause = pause
        self.max_behind_s = max_behind_s
        self.pauses = 0
        self.lost: list[str] = []
        # Called once the day is set up, planned and dispatched, just before the drivers
        # set off: a private service runs its held clock from there.
        self.before_driving = before_driving
        self.admin = Api(client, token)
        self.spec = spec or DayPlan()
        self.config = replace(
            config or TwinConfig(),
            breakdowns=0,
            urgent_orders=0,
            road_closures=(config or TwinConfig()).road_closures,
            replan=False,
            eta_every_s=0,
        )
        self.log = log or (lambda _text: None)
        self.drivers: dict[str, Api] = {}  # vehicle name -> the driver's session
        self.samples: list[tuple[str, str, VisitKind, int, int]] = []
        self.people: dict[str, tuple[str, str]] = {}  # driver id -> (e-mail, password)
        self.urgent: dict[str, Order] = {}  # the urgent orders to come, by id
        self.late: set[tuple[str, str]] = set()  # stops the service ever predicted late
        self.mirror: Mirror | None = None  # the service's plan as the twin's, once planned
        self.deferred: list[TwinEvent] = []  # breakdowns waiting for the stop in hand
        self.behind_s = 0.0
        self.rebook: list[tuple[str, int]] = []  # (service order id, failed at): to book again
        self.rebooked = 0

    # The set-up and the plan.

    def run(self) -> ServiceDayResult:
        began = time.perf_counter()
        org = self.admin.call("GET", "/org")
        zone = ZoneInfo(org["timezone"])
        clock = ServiceClock.read(self.client)
        day = clock.current().astimezone(zone).date()
        clock.check_drivable(day, zone)
        epoch = dt.datetime.combine(day, dt.time(0), zone)
        self.log(
            f"service clock {clock.current().astimezone(zone):%Y-%m-%d %H:%M} x{clock.speed:g}"
        )
        people = self.seed(
            self.admin, day=day, zone=zone, spec=self.spec, dimensions=org["dimensions"]
        )
        detail = plan_and_dispatch(
            self.admin, day, self.spec.time_limit_s, self.spec.robust_on_time
        )
        plan_id = detail["id"]
        orders = self._orders(detail)
        health = self.client.get("/health").json()
        mirror = Mirror(
            epoch,
            _travel(health.get("travel", {}), given=self.travel is not None),
            orders,
            models=self.travel,
        )
        profiles = {
            t["id"]: t.get("profile") or "van"
            for t in self.admin.call("GET", "/vehicle-types?limit=1000")
        }
        for vehicle in self.admin.call("GET", "/vehicles?limit=1000"):
            name = vehicle["name"] or vehicle["id"]
            mirror.vehicle_names[vehicle["id"]] = name
            mirror.profiles[name] = profiles.get(vehicle.get("type_id"), "van")
        self.mirror = mirror
        problem, plan = mirror.build(detail)
        self.people = people
        self._sign_in_drivers(detail, mirror)
        incidents = self._incidents(problem, plan, mirror)
        twin = Twin(problem, plan, config=self.config, seed=self.spec.seed, incidents=incidents)
        self.log(
            f"planned and dispatched {sum(len(r.tasks) for r in plan.routes)} stops on "
            f"{len(plan.routes)} routes in {time.perf_counter() - began:.0f} s (service clock "
            f"{clock.current().astimezone(zone):%H:%M}); driving the day"
        )
        if self.before_driving is not None:
            self.before_driving()
            clock = ServiceClock.read(self.client)
        if clock.held:
            raise ServiceDriveError("the service's clock is held: nothing would ever happen")
        started_s = int(self._now_s(clock, mirror))
        counts = self._drive(twin, mirror, clock, plan_id)
        if self.pauses:
            counts["clock_held"] = self.pauses
        record = twin.record(source="service")
        record = replace(record, eta_samples=self._eta_samples(record), source="service")
        counts.update(self._service_counts(plan_id, mirror))
        requests = self.admin.requests + sum(d.requests for d in self.drivers.values())
        errors = self.admin.errors + [e for d in self.drivers.values() for e in d.errors]
        if errors:
            counts["server_errors_retried"] = len(errors)
            self.log(f"server errors, retried: {errors[:5]}")
        return ServiceDayResult(
            record=record,
            plan_id=plan_id,
            counts=counts,
            seconds=time.perf_counter() - began,
            started_s=started_s,
            simulated_s=int(self._now_s(clock, mirror)),
            behind_s=self.behind_s,
            requests=requests,
        )

    def _sign_in_drivers(self, detail: Mapping[str, Any], mirror: Mirror) -> None:
        """Each driver of a route, signed in once (a re-plan may give a van its first route)."""
        for r in detail["routes"]:
            name = mirror.vehicle_names[r["vehicle_id"]]
            if r["driver_id"] in self.people and name not in self.drivers:
                self.drivers[name] = sign_in(self.client, *self.people[r["driver_id"]])

    def _orders(self, detail: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Every order of the plan (routed or not), as ``GET /orders/{id}`` answers."""
        ids = {v["order_id"] for r in detail["routes"] for v in r["visits"] if v["order_id"]}
        ids |= {u["order_id"] for u in detail.get("unassigned", []) if u.get("order_id")}
        return {oid: self.admin.call("GET", f"/orders/{oid}") for oid in sorted(ids)}

    def _incidents(self, problem: PlanningProblem, plan: Plan, mirror: Mirror) -> list[Scheduled]:
        """Breakdowns of the longest routes at ``breakdown_share`` of their day (0:
        of the first to leave, a minute before it leaves, its parcels still at the
        depot); urgent orders (a shipment between two customers) between 10:00 and
        14:00."""
        rng = random.Random(self.spec.seed + 101)
        found: list[Scheduled] = []
        if self.spec.breakdown_share > 0:  # the busiest vans
            ranked = sorted(plan.routes, key=lambda r: -len(r.tasks))
        else:  # the first to leave: the others can still take its parcels at the depot
            ranked = sorted(plan.routes, key=lambda r: r.visits[0].departure)
        for r in ranked[: self.spec.breakdowns]:
            first, last = r.visits[0].departure, r.visits[-1].arrival
            share = self.spec.breakdown_share
            t = int(first + share * (last - first)) if share > 0 else first - 60
            found.append(Scheduled(t, BREAKDOWN, r.vehicle_id))
        stops = [o.delivery for o in problem.orders if o.delivery is not None]
        for k in range(self.spec.urgent_orders if len(stops) >= 2 else 0):
            a, b = rng.sample(stops, 2)
            t = rng.randrange(10 * 3600, 14 * 3600, 60)
            window = (TimeWindow(t, t + 4 * 3600),)
            found.append(
                Scheduled(
                    t,
                    URGENT_ORDER,
                    order=Order(
                        f"urgent-{k + 1:02d}",
                        OrderKind.SHIPMENT,
                        pickup=Stop(a.location, service=120, time_windows=window),
                        delivery=Stop(b.location, service=120, time_windows=window),
                    ),
                )
            )
        self.urgent = {s.order.id: s.order for s in found if s.order is not None}
        return found

    # The day, paced on the service's clock.

    def _drive(
        self, twin: Twin, mirror: Mirror, clock: ServiceClock, plan_id: str
    ) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        lag = 2.0 * clock.speed * 0.01 + 1  # seconds of simulated time kept behind the service
        next_eta = (
            max(0, self._now_s(clock, mirror)) // self.spec.eta_every_s + 1
        ) * self.spec.eta_every_s
        reached: float | None = None  # how far the twin has been driven
        while not twin.finished or self.deferred:
            held = False
            if (
                self.pause is not None
                and reached is not None
                and self._now_s(clock, mirror) - reached > self.max_behind_s
            ):
                self.pause[0]()
                clock = ServiceClock.read(self.client)
                held = True
                self.pauses += 1
            target = int(self._now_s(clock, mirror) - lag)
            batch: list[TwinEvent] = []
            for event in twin.advance_to(target):
                if event.kind is EventKind.INCIDENT:
                    self._tolerant(self._post, batch, mirror, counts)
                    batch = []
                    self._tolerant(self._incident, twin, mirror, event, plan_id, counts)
                elif event.kind is EventKind.FAILED and self.rebooked < self.spec.reattempts:
                    # A failure may be booked again: told now, while the twin's
                    # vehicles are where they are at that moment.
                    self._tolerant(self._post, [*batch, event], mirror, counts)
                    batch = []
                    while self.rebook:
                        order_id, failed_at = self.rebook.pop(0)
                        self._tolerant(
                            self._book_again, twin, mirror, order_id, failed_at, plan_id, counts
                        )
                else:
                    batch.append(event)
            self._tolerant(self._post, batch, mirror, counts)
            for event in list(self.deferred):
                if not twin.busy(event.vehicle_id or ""):
                    self.deferred.remove(event)
                    self._tolerant(
                        self._incident, twin, mirror, event, plan_id, counts, deferred=True
                    )
            self.behind_s = max(self.behind_s, self._now_s(clock, mirror) - target - lag)
            reached = target
            if held:
                assert self.pause is not None
                self.pause[1]()
                clock = ServiceClock.read(self.client)
            if self.spec.eta_every_s and target >= next_eta:
                self._tolerant(self._sample_etas, mirror, counts)
                next_eta = (target // self.spec.eta_every_s + 1) * self.spec.eta_every_s
            time.sleep(self.spec.tick_s)
        return counts

    def _tolerant(self, step: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """``step``; with :attr:`tolerate_server_errors`, a server error it still meets
        after its retries (or a lost connection) is noted in :attr:`lost` and the day
        goes on without that request."""
        try:
            step(*args, **kwargs)
        except ServiceDriveError as exc:
            if not self.tolerate_server_errors or (exc.status is not None and exc.status < 500):
                raise
            self.lost.append(str(exc))
            self.log(f"  a request failed and is left out: {_short(str(exc))}")

    @staticmethod
    def _now_s(clock: ServiceClock, mirror: Mirror) -> float:
        return (clock.current() - mirror.epoch).total_seconds()

    def _post(self, events: list[TwinEvent], mirror: Mirror, counts: dict[str, int]) -> None:
        pings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        stops: list[TwinEvent] = []
        for e in events:
            if e.vehicle_id not in self.drivers:
                continue
            if e.kind is EventKind.DEPARTED and e.visit_kind is VisitKind.START:
                route = mirror.route_ids[e.vehicle_id]
                self.drivers[e.vehicle_id].call(
                    "POST", f"/routes/{route}/start", {}, expect=(200, 409)
                )
                counts["routes_started"] += 1
            elif e.kind is EventKind.PING and e.lon is not None:
                pings[e.vehicle_id].append(
                    {
                        "event_id": uuid.uuid4().hex,
                        "at": _at(mirror.epoch, e.t),
                        "lon": e.lon,
                        "lat": e.lat,
                        "accuracy_m": 8.0,
                    }
                )
            elif (
                e.kind
                in (EventKind.ARRIVED, EventKind.DELIVERED, EventKind.PICKED_UP, EventKind.FAILED)
                and e.order_id
                and e.visit_kind in (VisitKind.JOB, VisitKind.PICKUP, VisitKind.DELIVERY)
            ):
                stops.append(e)
        for vehicle, batch in pings.items():
            route = mirror.route_ids[vehicle]
            for k in range(0, len(batch), 1000):
                self.drivers[vehicle].call(
                    "POST", f"/routes/{route}/pings", {"pings": batch[k : k + 1000]}
                )
            counts["pings"] += len(batch)
        for e in stops:
            self._stop_event(e, mirror, counts)

    def _stop_event(self, e: TwinEvent, mirror: Mirror, counts: dict[str, int]) -> None:
        assert e.vehicle_id is not None and e.order_id is not None
        driver = self.drivers[e.vehicle_id]
        route = mirror.route_ids[e.vehicle_id]
        order_id = mirror.order_ids[e.order_id]
        at = _at(mirror.epoch, e.t)
        where = {"lon": e.lon, "lat": e.lat} if e.lon is not None else {}
        if e.kind is EventKind.ARRIVED:
            if not self.spec.arrived_events:
                return
            body = {"event_id": uuid.uuid4().hex, "kind": "arrived", "at": at, "order_id": order_id}
            driver.call("POST", f"/routes/{route}/events", {"events": [body | where]})
            counts["arrived"] += 1
            return
        if e.kind is EventKind.PICKED_UP:
            body = {
                "event_id": uuid.uuid4().hex,
                "kind": "picked_up",
                "at": at,
                "order_id": order_id,
            }
            driver.call("POST", f"/routes/{route}/events", {"events": [body | where]})
            counts["picked_up"] += 1
            return
        barcodes = [
            i["barcode"] for i in mirror.orders[order_id].get("items", []) if i.get("barcode")
        ]
        proof: dict[str, Any] = {"event_id": uuid.uuid4().hex, "order_id": order_id, "at": at}
        if e.kind is EventKind.DELIVERED:
            proof |= {"outcome": "delivered", "barcodes": barcodes, "recipient_name": "Customer"}
            counts["delivered"] += 1
        else:
            reason = REASONS.get(e.reason or "", "recipient_absent")
            if reason == "damaged" and barcodes:
                # The scanner reads a label that is not this order's.
                driver.call(
                    "POST",
                    f"/routes/{route}/pod/scan",
                    {"order_id": order_id, "barcode": f"WRONG-{barcodes[0]}"},
                    expect=(200, 404, 409, 422),
                )
                counts["wrong_scans"] += 1
            proof |= {"outcome": "failed", "failure_reason": reason}
            counts["failed"] += 1
        answer = driver.call("POST", f"/routes/{route}/pod", proof | where)
        counts["proofs"] += 1
        if (
            e.kind is EventKind.FAILED
            and reason == "recipient_absent"
            and self.rebooked < self.spec.reattempts
            and mirror.orders[order_id].get("kind", "delivery") == "delivery"
            and e.t < 16 * 3600
        ):
            self.rebooked += 1
            self.rebook.append((order_id, e.t))
            if isinstance(answer, dict) and answer.get("reattempt_note"):
                self.log(f"  {_hhmm(e.t)} {e.order_id}: {answer['reattempt_note']}")

    def _incident(
        self,
        twin: Twin,
        mirror: Mirror,
        event: TwinEvent,
        plan_id: str,
        counts: dict[str, int],
        *,
        deferred: bool = False,
    ) -> None:
        incident = event.incident
        if incident is None:
            return
        if incident.kind == BREAKDOWN and incident.vehicle_id in mirror.vehicle_ids:
            if not deferred and twin.busy(incident.vehicle_id or ""):
                # Broken down at a stop: the driver finishes it (its outcome is
                # still to be reported) before the dispatcher tells the service.
                self.deferred.append(event)
                return
            answer = self.admin.call(
                "POST",
                f"/plans/{plan_id}/breakdown",
                {"vehicle_id": mirror.vehicle_ids[incident.vehicle_id]},
            )
            counts["breakdowns"] += 1
            self.log(
                f"  {_hhmm(event.t)} {incident.vehicle_id} broke down: {_short(answer['summary'])}"
            )
        elif incident.kind == URGENT_ORDER and incident.order_id:
            order = self.urgent[incident.order_id]
            answer = self._urgent(order, mirror, plan_id)
            counts["urgent_orders"] += 1
            self.log(f"  {_hhmm(event.t)} urgent order {order.id}: {_short(answer['summary'])}")
        else:
            return
        self._apply(answer, twin, mirror, plan_id)

    def _book_again(
        self,
        twin: Twin,
        mirror: Mirror,
        order_id: str,
        failed_at: int,
        plan_id: str,
        counts: dict[str, int],
    ) -> None:
        """The absent customer called back: the failed delivery is booked again for
        the same afternoon (a new order to the same address, in a window from an hour
        on) and inserted into the running plan; the first order is cancelled so it is
        not also tried again on the next day."""
        first = mirror.orders[order_id]
        stop = first.get("delivery") or {}
        start = failed_at + 3600
        end = min(max(start + 3 * 3600, 17 * 3600), 24 * 3600 - 60)
        name = f"{first.get('external_id') or order_id}-2"
        created = self.admin.call(
            "POST",
            "/orders",
            {
                "external_id": name,
                "delivery": {
                    "lon": stop.get("lon"),
                    "lat": stop.get("lat"),
                    "address": stop.get("address", ""),
                    "service_s": stop.get("service_s", 120),
                    "time_windows": [
                        {"start": _at(mirror.epoch, start), "end": _at(mirror.epoch, end)}
                    ],
                },
                "amount": first.get("amount") or [1],
                "customer": first.get("customer") or {},
                "items": [
                    {"barcode": f"{i['barcode']}-2", "description": i.get("description", "")}
                    for i in first.get("items", [])
                    if i.get("barcode")
                ],
            },
            expect=201,
        )
        mirror.orders[created["id"]] = created
        mirror.order_ids[name] = created["id"]
        self.admin.call("POST", f"/orders/{order_id}/cancel", {}, expect=(200, 409, 422))
        answer: dict[str, Any] = self.admin.call(
            "POST", f"/plans/{plan_id}/orders", {"order_id": created["id"]}
        )
        counts["reattempts_booked"] += 1
        self.log(f"  {_hhmm(failed_at)} re-attempt {name}: {_short(answer['summary'])}")
        self._apply(answer, twin, mirror, plan_id)

    def _apply(self, answer: Mapping[str, Any], twin: Twin, mirror: Mirror, plan_id: str) -> None:
        """A re-plan the service answered, dispatched and given to the twin."""
        if answer.get("needs_dispatch"):
            self.admin.call("POST", f"/plans/{plan_id}/dispatch", {})
        if not answer.get("applied"):
            return
        detail = self.admin.call("GET", f"/plans/{plan_id}")
        for r in detail["routes"]:
            for v in r["visits"]:
                known = mirror.orders.get(v["order_id"]) if v["order_id"] else None
                if v["order_id"] and (
                    known is None
                    # Goods handed over after a breakdown: the order is a shipment now.
                    or (v["kind"] == "pickup" and known.get("kind") == "delivery")
                ):
                    mirror.orders[v["order_id"]] = self.admin.call(
                        "GET", f"/orders/{v['order_id']}"
                    )
        problem, plan = mirror.build(detail)
        self._sign_in_drivers(detail, mirror)
        twin.replace_plan(problem, plan)

    def _urgent(self, order: Order, mirror: Mirror, plan_id: str) -> dict[str, Any]:
        assert order.pickup is not None and order.delivery is not None

        def stop(s: Stop) -> dict[str, Any]:
            place = mirror.locations[s.location]
            return {
                "lon": place.lon,
                "lat": place.lat,
                "service_s": s.service,
                "time_windows": [
                    {"start": _at(mirror.epoch, w.start), "end": _at(mirror.epoch, w.end)}
                    for w in s.time_windows
                ],
            }

        dims = len(self.admin.call("GET", "/org")["dimensions"])
        created = self.admin.call(
            "POST",
            "/orders",
            {
                "external_id": order.id,
                "kind": "shipment",
                "pickup": stop(order.pickup),
                "delivery": stop(order.delivery),
                "amount": [1] * dims,
            },
            expect=201,
        )
        mirror.orders[created["id"]] = created
        mirror.order_ids[order.id] = created["id"]
        answer: dict[str, Any] = self.admin.call(
            "POST", f"/plans/{plan_id}/orders", {"order_id": created["id"]}
        )
        return answer

    # What the service predicted and produced.

    def _sample_etas(self, mirror: Mirror, counts: dict[str, int]) -> None:
        for name, route in mirror.route_ids.items():
            if name not in self.drivers:
                continue
            eta = self.admin.call("GET", f"/routes/{route}/eta")
            if eta["status"] not in ("dispatched", "started"):
                continue
            asked = mirror.seconds(eta["computed_at"])
            for s in eta["stops"]:
                if (
                    s["order_id"] in mirror.orders
                    and s["kind"] in _TASKS
                    and s["state"] == "pending"
                ):
                    oid = mirror.twin_id(s["order_id"])
                    if s.get("late"):
                        self.late.add((oid, s["kind"]))
                    self.samples.append(
                        (oid, name, _TASKS[s["kind"]], asked, mirror.seconds(s["eta_at"]))
                    )
            counts["eta_reads"] += 1

    def _eta_samples(self, record: DayRecord) -> tuple[EtaSample, ...]:
        actual = {
            (s.order_id, s.vehicle_id, s.kind): s.arrival
            for s in record.stops
            if s.arrival is not None
        }
        return tuple(
            EtaSample(oid, vid, asked, predicted, arrival)
            for oid, vid, kind, asked, predicted in self.samples
            if (arrival := actual.get((oid, vid, kind))) is not None and arrival >= asked
        )

    def _service_counts(self, plan_id: str, mirror: Mirror) -> dict[str, int]:
        """What the service made of the day: plan changes, and the customer
        notifications it queued (``delay``: a late alert)."""
        counts: dict[str, int] = defaultdict(int)
        counts["plan_changes"] = len(self.admin.call("GET", f"/plans/{plan_id}/changes"))
        counts["stops_predicted_late"] = len(self.late)
        for oid in mirror.orders:
            for note in self.admin.call("GET", f"/orders/{oid}/notifications"):
                counts["notifications"] += 1
                counts[f"notifications_{note['event']}"] += 1
        return dict(counts)


def _travel(described: Mapping[str, Any], *, given: bool = False) -> HaversineModel:
    """The service's straight-line travel as ``GET /health`` describes it (``given``:
    the drivers' travel is given per profile, whatever the service computes)."""
    if not given and described.get("kind") not in (None, "straight_line"):
        raise ServiceDriveError(
            f"the service computes travel as {described.get('kind')}: driving it is built "
            "for its straight-line model only"
        )
    if described.get("kind") not in (None, "straight_line"):
        return HaversineModel()
    return HaversineModel(
        speed_kph=float(described.get("speed_kph", 30.0)),
        detour_factor=float(described.get("detour_factor", 1.3)),
    )


def _hhmm(t: int) -> str:
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def _short(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
