"""Today in a demo organisation, for ``lastmile demo --serve``.

:func:`seed_demo_day` fills a fresh database with one delivery day of "Demo
Deliveries" (Europe/Helsinki) the way its people would: the organisation and
its users come from the service functions an administrator's command uses, and
everything else goes through the HTTP API in-process (``TestClient`` on the
app), so the demo meets the validation a user meets. The day is caught at
mid-day: planned, dispatched, a few stops delivered or failed, a GPS fix per
vehicle and two customer tracking links. :func:`serve_demo` seeds and then
serves the app with uvicorn until Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
import socket
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError, LastmileError
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.orgs.service import create_org
from lastmile.service.settings import Settings
from lastmile.service.travel import DEFAULT_PROFILE

ORG_NAME = "Demo Deliveries"
ORG_SLUG = "demo-deliveries"
TIMEZONE = "Europe/Helsinki"
#: Central Helsinki: (min_lon, min_lat, max_lon, max_lat).
HELSINKI_BOX = (24.90, 60.155, 24.98, 60.195)
DIMENSIONS = ["parcels", "weight_kg"]
#: The working day, local time, and the lunch break's window.
SHIFT_HOURS = (7, 19)
LUNCH = (dt.time(11, 0), dt.time(13, 30), 30 * 60)

_FIRST = (
    "Aino", "Eero", "Helmi", "Juho", "Kaisa", "Lauri", "Maija", "Niko", "Oona", "Pekka",
    "Riikka", "Sanna", "Tuomas", "Venla", "Ville", "Elina", "Mikko", "Noora", "Antti", "Iida",
)  # fmt: skip
_LAST = (
    "Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
    "Koskinen", "Järvinen", "Lehtonen", "Lehtinen", "Saarinen", "Salminen", "Heinonen", "Niemi",
)  # fmt: skip
_STREETS = (
    "Mannerheimintie", "Runeberginkatu", "Fredrikinkatu", "Albertinkatu", "Bulevardi",
    "Lönnrotinkatu", "Iso Roobertinkatu", "Annankatu", "Yrjönkatu", "Eerikinkatu",
    "Hietalahdenkatu", "Pohjoisesplanadi", "Aleksanterinkatu", "Unioninkatu", "Liisankatu",
    "Mechelininkatu", "Topeliuksenkatu", "Museokatu", "Töölönkatu", "Sturenkatu",
    "Hämeentie", "Fleminginkatu", "Porthaninkatu", "Kaarlenkatu", "Tehtaankatu",
)  # fmt: skip
_GOODS = (
    "shoes", "books", "coffee beans", "a lamp", "kitchen scales", "a winter jacket",
    "vitamins", "a board game", "headphones", "bed linen", "a phone case", "wool socks",
)  # fmt: skip
_INSTRUCTIONS = (
    "", "", "", "Door code 2580", "Leave with the neighbour in B 12", "Call on arrival",
    "Second floor, no lift", "Back door in the courtyard",
)  # fmt: skip


class DemoSeedError(LastmileError):
    """The demo day could not be seeded: a request the API refused, or a plan that failed."""


@dataclass(frozen=True)
class DemoUser:
    """A person of the demo organisation and the password printed for them."""

    role: str
    name: str
    email: str
    password: str


@dataclass(frozen=True)
class SeededDay:
    """What :func:`seed_demo_day` made."""

    org_id: uuid.UUID
    day: dt.date
    plan_id: uuid.UUID
    users: tuple[DemoUser, ...]
    vehicles: int
    orders: int
    routed: int
    unassigned: int
    delivered: int
    failed: int
    tracking_urls: tuple[str, ...]
    seconds: float
    planning_seconds: float

    def user(self, role: str) -> DemoUser:
        """The first user with ``role`` (admin, dispatcher or driver)."""
        return next(u for u in self.users if u.role == role)


def fresh_database(path: Path) -> str:
    """Remove the SQLite database at ``path`` (and its WAL files); its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def demo_settings(database_url: str, *, public_base_url: str, network: str = "") -> Settings:
    """The demo's settings: its database, planning in threads (one process to
    stop with Ctrl-C), tracking links to ``public_base_url``."""
    return Settings(
        database_url=database_url,
        planning_executor="thread",
        public_base_url=public_base_url,
        network=network,
    )


# -- seeding ----------------------------------------------------------------------------------


class _Api:
    """The API in-process, as one signed-in user."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        response = self.client.request(method, path, json=body, headers=self.headers)
        if response.status_code != expect:
            raise DemoSeedError(
                f"{method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()


def _sign_in(client: TestClient, user: DemoUser) -> _Api:
    response = client.post("/auth/login", json={"email": user.email, "password": user.password})
    if response.status_code != 200:
        raise DemoSeedError(f"{user.email} could not sign in: {response.text[:300]}")
    return _Api(client, response.json()["access_token"])


def _password() -> str:
    return secrets.token_urlsafe(9)


def _places(app: FastAPI, rng: random.Random, count: int) -> list[tuple[float, float]]:
    """``count`` (lon, lat) points: in central Helsinki on straight lines; on a road
    network, crossings of its roads inside its bounds (central Helsinki where the
    extract covers it, else the middle of the extract)."""
    settings: Settings = app.state.settings
    if not settings.network:
        w, s, e, n = HELSINKI_BOX
        return [(rng.uniform(w, e), rng.uniform(s, n)) for _ in range(count)]
    network = app.state.travel_model.network(DEFAULT_PROFILE)
    w, s, e, n = network.bounds
    hw, hs, he, hn = HELSINKI_BOX
    if w <= hw and s <= hs and e >= he and n >= hn:
        box = HELSINKI_BOX
    else:
        dx, dy = (e - w) / 4, (n - s) / 4
        box = (w + dx, s + dy, e - dx, n - dy)
    lons, lats = network.node_lon, network.node_lat
    inside = ((lons >= box[0]) & (lons <= box[2]) & (lats >= box[1]) & (lats <= box[3])).nonzero()[
        0
    ]
    if len(inside) == 0:
        raise DemoSeedError(f"the road network {settings.network} has no roads inside {box}")
    picked = [int(inside[rng.randrange(len(inside))]) for _ in range(count)]
    return [(float(lons[k]), float(lats[k])) for k in picked]


def _people(
    session: Session, org_id: uuid.UUID, slug: str, drivers: Sequence[str]
) -> list[DemoUser]:
    """The organisation's users: an admin, a dispatcher and one driver user each."""
    wanted = [("admin", "Anna Admin"), ("dispatcher", "Dan Dispatcher")]
    wanted += [("driver", name) for name in drivers]
    users = []
    for role, name in wanted:
        local = role if role != "driver" else name.lower().replace(" ", ".")
        local = local.replace("ä", "a").replace("ö", "o")
        user = DemoUser(role, name, f"{local}@{slug}.example", _password())
        create_user(
            session,
            org_id=org_id,
            email=user.email,
            password=user.password,
            role=Role(role),
            name=name,
        )
        users.append(user)
    return users


def _order_body(
    rng: random.Random, k: int, place: tuple[float, float], at: Any, staff: Collection[str]
) -> dict[str, Any]:
    """One delivery: a customer, an address, parcels with barcodes, most with a
    2-hour window between 08:00 and 18:00."""
    parcels = rng.choices((1, 1, 1, 2, 2, 3), k=1)[0]
    customer = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    while customer in staff:  # a customer is nobody who works there
        customer = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    windows = []
    if rng.random() < 0.8:
        start = rng.choice((8, 10, 12, 14, 16))
        windows = [{"start": at(start), "end": at(start + 2)}]
    return {
        "external_id": f"HEL-{1001 + k}",
        "delivery": {
            "lon": round(place[0], 6),
            "lat": round(place[1], 6),
            "address": f"{rng.choice(_STREETS)} {rng.randint(1, 60)}, Helsinki",
            "service_s": rng.choice((90, 120, 120, 180, 240)),
            "time_windows": windows,
        },
        "amount": [parcels, sum(rng.randint(1, 12) for _ in range(parcels))],
        "customer": {
            "name": customer,
            "phone": f"+358 40 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        },
        "instructions": rng.choice(_INSTRUCTIONS),
        "items": [
            {"barcode": f"HEL{1001 + k:05d}-{p + 1}", "description": rng.choice(_GOODS)}
            for p in range(parcels)
        ],
    }


def seed_demo_day(
    app: FastAPI,
    *,
    orders: int = 120,
    vans: int = 6,
    time_limit_s: float = 10.0,
    seed: int = 7,
) -> SeededDay:
    """Seed today of "Demo Deliveries" into ``app``'s (fresh) database: ``vans``
    vans and a cargo bike, ``orders`` deliveries, planned (within ``time_limit_s``),
    dispatched and under way. Raises :class:`DemoSeedError` if any step is refused."""
    if orders < 1:
        raise DemoSeedError("the demo needs at least one order")
    began = time.perf_counter()
    rng = random.Random(seed)
    zone = ZoneInfo(TIMEZONE)
    today = dt.datetime.now(zone).date()

    def at(hour: int, minute: int = 0) -> str:
        return dt.datetime.combine(today, dt.time(hour, minute), zone).isoformat()

    names: list[str] = []
    while len(names) < vans + 1:
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if name not in names:
            names.append(name)
    with TestClient(app) as client:
        with app.state.sessionmaker() as session:
            org = create_org(
                session, name=ORG_NAME, slug=ORG_SLUG, timezone=TIMEZONE, dimensions=DIMENSIONS
            )
            users = _people(session, org.id, ORG_SLUG, names)
            org_id = org.id
            session.commit()
        admin = _sign_in(client, users[0])
        dispatcher = _sign_in(client, users[1])
        places = _places(app, rng, orders + 1)
        north = max(places, key=lambda p: p[1])  # the depot: north, towards Pasila
        places.remove(north)
        depot = admin.call(
            "POST",
            "/depots",
            {
                "name": "Helsinki depot",
                "lon": north[0],
                "lat": north[1],
                "opens_s": 6 * 3600,
                "closes_s": 20 * 3600,
            },
            expect=201,
        )
        # The work shared out as a depot would: no vehicle takes much more than its share.
        per_vehicle = math.ceil(orders * 1.2 / (vans + 1)) + 2
        van_type = admin.call(
            "POST",
            "/vehicle-types",
            {"name": "Van", "capacity": [150, 900], "profile": "van", "cost_per_hour": 3000},
            expect=201,
        )
        bike_type = admin.call(
            "POST",
            "/vehicle-types",
            {
                "name": "Cargo bike",
                "capacity": [30, 150],
                "profile": "cargo_bike",
                "cost_per_hour": 2500,
            },
            expect=201,
        )
        drivers = [u for u in users if u.role == "driver"]
        user_ids = {u["email"]: u["id"] for u in admin.call("GET", "/users")}
        driving: dict[str, DemoUser] = {}
        for k, person in enumerate(drivers):
            bike = k == len(drivers) - 1
            vehicle = admin.call(
                "POST",
                "/vehicles",
                {
                    "name": "Cargo bike 1" if bike else f"Van {k + 1}",
                    "registration": "" if bike else f"DEM-{101 + k}",
                    "type_id": (bike_type if bike else van_type)["id"],
                    "depot_id": depot["id"],
                    "max_tasks": per_vehicle // 2 if bike else per_vehicle,
                },
                expect=201,
            )
            driver = admin.call(
                "POST",
                "/drivers",
                {"name": person.name, "user_id": user_ids[person.email]},
                expect=201,
            )
            driving[driver["id"]] = person
            lunch = {
                "window_start": at(LUNCH[0].hour, LUNCH[0].minute),
                "window_end": at(LUNCH[1].hour, LUNCH[1].minute),
                "duration_s": LUNCH[2],
            }
            admin.call(
                "POST",
                "/shifts",
                {
                    "driver_id": driver["id"],
                    "vehicle_id": vehicle["id"],
                    "start_at": at(SHIFT_HOURS[0]),
                    "end_at": at(SHIFT_HOURS[1]),
                    "breaks": [lunch],
                },
                expect=201,
            )
        for k, place in enumerate(places):
            dispatcher.call("POST", "/orders", _order_body(rng, k, place, at, names), expect=201)

        if app.state.settings.network:
            # Load each profile's roads now (once per process), not in the plan's time.
            for profile in ("van", "cargo_bike"):
                app.state.travel_model.network(profile)
        planning = time.perf_counter()
        plan = _plan_and_dispatch(dispatcher, today, time_limit_s)
        planning_s = time.perf_counter() - planning
        delivered, failed = _under_way(client, plan, driving, zone, rng)
        tracking = _tracking_links(dispatcher, plan)
    routed = sum(1 for r in plan["routes"] for v in r["visits"] if v["order_id"])
    return SeededDay(
        org_id=org_id,
        day=today,
        plan_id=uuid.UUID(plan["id"]),
        users=tuple(users),
        vehicles=len(drivers),
        orders=orders,
        routed=routed,
        unassigned=len(plan["unassigned"]),
        delivered=delivered,
        failed=failed,
        tracking_urls=tuple(tracking),
        seconds=time.perf_counter() - began,
        planning_seconds=planning_s,
    )


def _plan_and_dispatch(api: _Api, day: dt.date, time_limit_s: float) -> dict[str, Any]:
    """Plan the day, wait for the job and dispatch the plan."""
    plan = api.call(
        "POST", "/plans", {"date": day.isoformat(), "time_limit_s": time_limit_s}, expect=202
    )
    deadline = time.monotonic() + time_limit_s + 120
    while (job := api.call("GET", f"/plans/{plan['id']}/job"))["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise DemoSeedError(f"planning did not finish: {job['message']}")
        time.sleep(0.2)
    if job["status"] != "succeeded":
        raise DemoSeedError(f"planning {job['status']}: {job['error']}")
    dispatched: dict[str, Any] = api.call("POST", f"/plans/{plan['id']}/dispatch", {})
    return dispatched


def _under_way(
    client: TestClient,
    plan: dict[str, Any],
    drivers: dict[str, DemoUser],
    zone: ZoneInfo,
    rng: random.Random,
) -> tuple[int, int]:
    """Each driver reports the first few stops of their route (one in five or so
    fails) and sends a GPS fix on the way to the next. Reports carry the planned
    times, moved earlier where those are still to come, so the day looks like
    mid-day whenever the demo runs. Returns (delivered, failed)."""
    now = dt.datetime.now(zone).replace(microsecond=0)
    delivered = failed = 0
    for route in plan["routes"]:
        stops = [v for v in route["visits"] if v["order_id"]]
        person = drivers.get(route["driver_id"])
        if not stops or person is None:
            continue
        done = stops[: min(len(stops) - 1, rng.randint(2, 5))]
        if not done:
            continue
        last = dt.datetime.fromisoformat(done[-1]["departure_at"])
        shift = max(dt.timedelta(0), last - (now - dt.timedelta(minutes=3)))
        events = []
        for visit in done:
            arrived = dt.datetime.fromisoformat(visit["arrival_at"]) - shift
            left = dt.datetime.fromisoformat(visit["departure_at"]) - shift
            events.append(_event("arrived", visit, arrived))
            if rng.random() < 0.18:
                events.append(_event("failed", visit, left, reason="recipient_absent"))
                failed += 1
            else:
                events.append(_event("delivered", visit, left))
                delivered += 1
        driver = _sign_in(client, person)
        driver.call("POST", f"/routes/{route['id']}/events", {"events": events})
        here, ahead = done[-1], stops[len(done)]
        part = 0.35
        fix = {
            "event_id": str(uuid.uuid4()),
            "at": (now - dt.timedelta(minutes=1)).isoformat(),
            "lon": here["lon"] + part * (ahead["lon"] - here["lon"]),
            "lat": here["lat"] + part * (ahead["lat"] - here["lat"]),
            "speed_kph": 24.0,
            "accuracy_m": 8.0,
        }
        driver.call("POST", f"/routes/{route['id']}/pings", {"pings": [fix]})
    return delivered, failed


def _event(kind: str, visit: dict[str, Any], at: dt.datetime, reason: str = "") -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "kind": kind,
        "at": at.isoformat(),
        "sequence": visit["sequence"],
        "lon": visit["lon"],
        "lat": visit["lat"],
    }
    if reason:
        event["reason"] = reason
    return event


def _tracking_links(api: _Api, plan: dict[str, Any]) -> list[str]:
    """Tracking links for two customers still waiting: the next stop of the
    first route and a later one of another route."""
    routes = [r for r in plan["routes"] if any(v["order_id"] for v in r["visits"])]
    reported = {
        e["sequence"]
        for e in api.call("GET", f"/routes/{routes[0]['id']}/events")
        if e["kind"] != "arrived"
    }
    first = [v for v in routes[0]["visits"] if v["order_id"] and v["sequence"] not in reported]
    later = [v for v in routes[-1]["visits"] if v["order_id"]]
    chosen = [first[0]["order_id"]] if first else []
    if later and later[-1]["order_id"] not in chosen:
        chosen.append(later[-1]["order_id"])
    return [
        api.call("POST", f"/orders/{order_id}/tracking-links", {}, expect=201)["url"]
        for order_id in chosen
    ]


# -- serving ----------------------------------------------------------------------------------


def _check_can_listen(host: str, port: int) -> None:
    """Refuse a host and port uvicorn could not listen on, before seeding for nothing."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", where="--port"
            ) from None


def serve_demo(
    *,
    out_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    orders: int = 120,
    network: str = "",
    seed: int = 7,
    time_limit_s: float = 10.0,
) -> int:
    """Seed today into a fresh ``out_dir/service.db``, print how to see it and
    serve the app until Ctrl-C."""
    import uvicorn
    from rich.console import Console

    from lastmile.service.app import create_app

    console = Console(highlight=False, soft_wrap=True)
    _check_can_listen(host, port)
    database = out_dir / "service.db"
    url = f"http://{host}:{port}"
    settings = demo_settings(fresh_database(database), public_base_url=url, network=network)
    app = create_app(settings, geocode=None)
    console.print(f"seeding today in {ORG_NAME} into {database} ...")
    facts = seed_demo_day(app, orders=orders, time_limit_s=time_limit_s, seed=seed)
    console.print(
        f"seeded {facts.day}: {facts.orders} orders, {facts.vehicles} vehicles; "
        f"{facts.routed} routed, {facts.unassigned} unassigned; "
        f"{facts.delivered} delivered and {facts.failed} failed so far "
        f"in {facts.seconds:.1f} s (planning {facts.planning_seconds:.1f} s)"
    )
    console.print(f"\n[bold]open {url}/login[/bold] and sign in as one of:")
    width = max(len(u.email) for u in facts.users)
    for user in facts.users:
        console.print(f"  {user.role:<10}  {user.email:<{width}}  {user.password}")
    console.print("customer tracking pages:")
    for link in facts.tracking_urls:
        console.print(f"  {link}")
    console.print("serving until Ctrl-C\n")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
