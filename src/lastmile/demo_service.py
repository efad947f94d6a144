"""The demo day through the service: ``lastmile demo --service``.

A day in central Helsinki, on the OpenStreetMap extract the package carries
(``lastmile/data/osm/helsinki.osm.pbf``, ODbL), played through a private lastmile
service (:func:`lastmile.service.simulation.private_service`: temporary SQLite,
simulated clock) as its people and their phones would:

* the service plans on the extract's roads with the built-in rush hours and
  geocodes addresses offline with an index over the same extract;
* a dispatcher enters the day through the API: a depot, vans and cargo bikes,
  drivers with shifts and a lunch break each, and orders posted with their
  address only (real addresses of the extract, each with a house number) for the
  service to place; then plans and dispatches it with the service's planning job;
* the drivers' phones (:class:`lastmile.simulate.http.ServiceDay`, moved by the
  digital twin on the same roads, travel times varying) send GPS pings, stop
  events and proofs of delivery; the service predicts arrivals and tells customers
  whose stop runs late; an urgent order arrives mid-day and is inserted; a customer
  is away, the delivery fails, and the delivery is booked again for later that day
  and inserted into the running plan;
* the texts the service sends customers are written to ``notifications.log``.

Then it prints the day's key figures (:func:`lastmile.analytics.summarise`,
overall and per vehicle) and writes the day's record and the HTML report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import random
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console

from lastmile.exceptions import InputError, LastmileError

if TYPE_CHECKING:
    from lastmile.geocode.base import Address

#: The demo's map (see ``lastmile/data/osm/README.md``).
EXTRACT = Path(__file__).parent / "data" / "osm" / "helsinki.osm.pbf"
TIMEZONE = "Europe/Helsinki"
#: The fleet: (name prefix, vehicle type, routing profile, parcels it carries, cost
#: per km, shift). Vans carry more and cost fuel; the bikes take the rest.
FLEET = (
    ("van", "Van", "van", 55, 200, (8 * 3600, 16 * 3600 + 1800)),
    ("bike", "Cargo bike", "cargo_bike", 20, 0, (8 * 3600 + 1800, 16 * 3600 + 1800)),
)
#: A lunch break of half an hour, started between 11:30 and 13:30.
LUNCH = (11 * 3600 + 1800, 13 * 3600 + 1800, 1800)
#: The day's plan request's per-stop on-time target (``robust.on_time``).
DEMO_ROBUST_ON_TIME = 0.5
#: Played live, the clock starts this many minutes before the first van leaves.
LEAD_MIN = 10


def _at(epoch: dt.datetime, seconds: float) -> str:
    return (epoch + dt.timedelta(seconds=seconds)).isoformat()


def demo_addresses(n: int, *, seed: int = 7) -> tuple[list[str], Address]:
    """``n`` addresses of the extract with a house number that the offline geocoder
    finds again exactly (drawn with ``seed``), and the depot's."""
    from lastmile.geocode import OfflineGeocoder

    geocoder = OfflineGeocoder.from_pbf(EXTRACT)
    known = sorted(
        {
            a.label: a for a in geocoder.addresses if a.housenumber and a.street and a.postcode
        }.values(),
        key=lambda a: a.label,
    )
    exact = []
    for a in known:
        found = geocoder.geocode(a.label, limit=1)
        if found.ok and (found.confidence or 0) >= 1.0:
            exact.append(a)
    if len(exact) < n + 1:
        raise InputError(
            f"the extract has {len(exact)} addresses the geocoder finds exactly; "
            f"at most {len(exact) - 1} orders",
            where="--orders",
        )
    # The depot: the address farthest west (a yard at the edge of the centre).
    depot = min(exact, key=lambda a: a.lon)
    rng = random.Random(seed)
    picked = rng.sample([a for a in exact if a is not depot], n)
    return [a.label for a in picked], depot


def fleet_sizes(orders: int) -> tuple[int, int]:
    """Vans and cargo bikes for ``orders`` orders."""
    vans = max(1, round(orders / 60))
    bikes = max(1, round(orders / 40))
    return vans, bikes


def seed_demo_day(
    admin: Any,
    *,
    day: dt.date,
    zone: ZoneInfo,
    spec: Any,
    dimensions: list[str],
    placed: list[dict[str, Any]] | None = None,
) -> dict[str, tuple[str, str]]:
    """The demo's day entered through the API (see the module docstring): the
    orders carry their address only and the service geocodes them (``placed``
    receives each order's delivery stop as the service answered it). Returns each
    driver's (e-mail, password) by driver id."""
    from lastmile.simulate.http import enrol_driver

    addresses, depot_at = demo_addresses(spec.orders, seed=spec.seed)
    rng = random.Random(spec.seed)
    epoch = dt.datetime.combine(day, dt.time(0), zone)
    first = min(shift[0] for *_, shift in FLEET)
    last = max(shift[1] for *_, shift in FLEET)
    depot = admin.call(
        "POST",
        "/depots",
        {
            "name": "Helsinki depot",
            "address": depot_at.label,
            "lon": depot_at.lon,
            "lat": depot_at.lat,
            "opens_s": first - 3600,
            "closes_s": last + 3600,
        },
        expect=201,
    )
    vans, bikes = fleet_sizes(spec.orders)
    tag = uuid.uuid4().hex[:6]
    people: dict[str, tuple[str, str]] = {}
    k = 0
    for (prefix, label, profile, capacity, per_km, shift), count in zip(
        FLEET, (vans, bikes), strict=True
    ):
        vtype = admin.call(
            "POST",
            "/vehicle-types",
            {
                "name": label,
                "capacity": [capacity] * len(dimensions),
                "profile": profile,
                "cost_per_km": per_km,
            },
            expect=201,
        )
        for j in range(count):
            k += 1
            email = f"driver.{k}.{tag}@demo.example"
            driver_id, password = enrol_driver(
                admin,
                number=k,
                email=email,
                vehicle=f"{prefix}-{j + 1:02d}",
                type_id=vtype["id"],
                depot_id=depot["id"],
                start_at=_at(epoch, shift[0]),
                end_at=_at(epoch, shift[1]),
                breaks=[
                    {
                        "id": "lunch",
                        "window_start": _at(epoch, LUNCH[0]),
                        "window_end": _at(epoch, LUNCH[1]),
                        "duration_s": LUNCH[2],
                    }
                ],
            )
            people[driver_id] = (email, password)
    for n, address in enumerate(addresses, start=1):
        windows = []
        if rng.random() < 0.6:  # two hours, booked by the customer
            start = rng.randrange(9, 15) * 3600
            windows = [{"start": _at(epoch, start), "end": _at(epoch, start + 2 * 3600)}]
        parcels = rng.choice((1, 1, 1, 2))
        created = admin.call(
            "POST",
            "/orders",
            {
                "external_id": f"HEL-{n:04d}",
                "delivery": {
                    "address": address,
                    "service_s": rng.choice((60, 90, 120, 180)),
                    "time_windows": windows,
                },
                "amount": [parcels] * len(dimensions),
                "customer": {
                    "name": f"Customer {n}",
                    "phone": f"+358 40 {rng.randrange(1_000_000, 9_999_999)}",
                },
                "items": [
                    {"barcode": f"HEL{n:05d}-{p + 1}-{tag}", "description": "parcel"}
                    for p in range(parcels)
                ],
            },
            expect=201,
        )
        if placed is not None:
            placed.append(created["delivery"])
    return people


def run_service_demo(
    *,
    out_dir: Path,
    orders: int = 100,
    speed: float = 400.0,
    time_limit: float = 5.0,
    seed: int = 7,
    day: dt.date | None = None,
    absent_rate: float = 0.05,
    live: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    start_after: float = 5.0,
    stop: threading.Event | None = None,
) -> int:
    """Play the demo day through a private service and report on it (see the
    module docstring); 0 when the day was played to its end.

    ``live`` (``lastmile serve --demo``): the service listens on ``host:port`` with
    its database at ``out_dir/service.db``; the dashboard's address and the admin's
    sign-in are printed once it is up, the day is set up and planned, and the clock
    starts ``start_after`` seconds later (time to open the page). After the report
    the clock is held at the day's end and the service goes on serving until Ctrl-C
    (or until ``stop`` is set)."""
    import httpx

    from lastmile.service.simulation import listen_socket, private_service
    from lastmile.simulate.http import DayPlan, ServiceDay, ServiceDriveError, clock_start
    from lastmile.simulate.twin import TwinConfig
    from lastmile.travel.network_options import build_travel_models
    from lastmile.travel.noise import TravelNoise

    console = Console(highlight=False)
    began = time.perf_counter()
    if orders < 2:
        raise InputError(f"must be at least 2, got {orders}", where="--orders")
    if not speed > 0:
        raise InputError(f"must be more than 0, got {speed:g}", where="--speed")
    if not start_after >= 0:
        raise InputError(f"must be 0 or more, got {start_after:g}", where="--start-after")
    if not 0 <= port <= 65535:
        raise InputError(f"must be between 0 and 65535, got {port}", where="--port")
    if live:  # said now, not after the map has been loaded for nothing
        listen_socket(host, port)[0].close()
    if not EXTRACT.is_file():
        raise LastmileError(f"the demo's map is missing from this installation: {EXTRACT}")
    zone = ZoneInfo(TIMEZONE)
    day = day or dt.datetime.now(zone).date()
    out_dir.mkdir(parents=True, exist_ok=True)
    sms_log = out_dir / "notifications.log"
    sms_log.write_text("", encoding="utf-8")
    (out_dir / "service.log").write_text("", encoding="utf-8")
    vans, bikes = fleet_sizes(orders)
    console.print(
        f"[bold]Helsinki, {day.isoformat()}[/bold]: {orders} orders at addresses of the "
        f"bundled OpenStreetMap extract, {vans} vans and {bikes} cargo bikes with shifts "
        "and a lunch break; map data (c) OpenStreetMap contributors, ODbL"
    )
    console.print("loading the road network and the traffic model for the drivers ...")
    ns = argparse.Namespace(
        network=str(EXTRACT), depart=f"{day.isoformat()}T09:00", traffic="default", weather=""
    )
    travel = build_travel_models(ns, ["van", "cargo_bike"])
    first_shift = min(shift[0] for *_, shift in FLEET)
    start = clock_start(day, zone, speed, shift_start_s=first_shift, setup_s=0)
    spec = DayPlan(
        orders=orders,
        vans=vans + bikes,
        seed=seed,
        time_limit_s=time_limit,
        shift=(first_shift, max(shift[1] for *_, shift in FLEET)),
        urgent_orders=1,
        breakdowns=0,
        reattempts=1,
        # Arrivals reach the service through the pings (it detects them); outcomes
        # through proofs of delivery. Each stop event recomputes the route's ETAs on
        # the road network, the day's main cost.
        arrived_events=False,
        # A dispatcher who tells customers times plans with buffers for the day's
        # variation (docs/robust.md): each stop late with a chance under one half.
        robust_on_time=DEMO_ROBUST_ON_TIME,
    )
    config = TwinConfig(
        noise=TravelNoise.parse("lognormal:sigma=0.2"),
        absent_rate=absent_rate,
        scan_failure_rate=0.0,
        day=day,
        timezone=TIMEZONE,
    )
    console.print(
        f"starting a private service (SQLite, road network with rush hours, offline "
        f"geocoder, simulated clock x{speed:g}, held while the day is set up) ..."
    )
    with (
        private_service(
            host=host,
            port=port,
            database=out_dir / "service.db" if live else None,
            start=start,
            speed=speed,
            timezone=TIMEZONE,
            planning_limit_s=time_limit,
            network=EXTRACT,
            traffic="default",
            geocoder_extract=EXTRACT,
            sms_log=sms_log,
            service_log=out_dir / "service.log",
            org_name="Helsinki Deliveries (demo)",
            # Late stops looked for every 20 simulated minutes (at least every 3 s).
            delay_scan_s=max(3.0, 1200 / speed),
        ) as svc,
        httpx.Client(base_url=svc.url, timeout=120) as client,
    ):
        before_driving = svc.run_clock
        if live:
            _print_sign_in(console, svc, day)
            before_driving = functools.partial(
                _start_clock, console, svc, day, speed=speed, after=start_after
            )
        placed: list[dict[str, Any]] = []
        service_day = ServiceDay(
            client,
            svc.token,
            spec=spec,
            config=config,
            log=console.print,
            before_driving=before_driving,
            seed=functools.partial(seed_demo_day, placed=placed),
            travel=travel,
            tolerate_server_errors=True,
            # Held while the drivers catch up when they fall 10 simulated minutes behind.
            pause=(svc.hold_clock, svc.run_clock) if svc.hold_clock else None,
            max_behind_s=600,
        )
        service_day.admin.attempts = 5
        console.print(
            f"entering the day through the API and planning it on the roads "
            f"(up to {time_limit:g} s, robust: each stop late with a chance under "
            f"{1 - DEMO_ROBUST_ON_TIME:.0%}) ..."
        )
        try:
            result = service_day.run()
        except ServiceDriveError as exc:
            console.print(f"[red]the day could not be played through the service: {exc}[/red]")
            return 1
        # The last texts leave with the outbox's next round.
        time.sleep(min(3.0, max(0.5, 2 * 600 / speed)))
        if live:
            if svc.hold_clock is not None:
                # The day stays on the dashboard as it ended (not the next, empty one).
                svc.hold_clock()
            _report(console, service_day, result, placed, sms_log, out_dir, day)
            console.print(f"done in {time.perf_counter() - began:.1f} s in all")
            _serve_until_stopped(console, svc, day, stop)
            return 0
    _report(console, service_day, result, placed, sms_log, out_dir, day)
    console.print(f"done in {time.perf_counter() - began:.1f} s in all")
    return 0


def _dashboard_url(svc: Any, day: dt.date) -> str:
    return f"{svc.url}/dashboard?day={day.isoformat()}"


def _print_sign_in(console: Console, svc: Any, day: dt.date) -> None:
    """Where to watch the day, and who to sign in as."""
    console.print(
        f"\n[bold]watch the day live: open {_dashboard_url(svc, day)}[/bold]\n"
        f"  sign in as {svc.email}  password {svc.password}\n"
        f"  the day's database (SQLite, kept afterwards): {svc.database}\n",
        soft_wrap=True,
    )


def _start_clock(console: Console, svc: Any, day: dt.date, *, speed: float, after: float) -> None:
    """Runs the service's held clock ``after`` seconds from now, said first; moved on
    first to a few minutes before the first van leaves (the plan has them leave as
    late as their stops allow: nothing would move on the dashboard until then)."""
    import httpx

    hour = 3600 / speed
    pace = f"an hour every {hour:.0f} s" if hour >= 1 else f"x{speed:g}"
    if svc.move_clock is not None:
        try:
            now, leaves = _departures(svc)
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            console.print(f"the plan's departures could not be read ({exc}): the clock starts here")
            leaves = []
        if leaves and min(leaves) - dt.timedelta(minutes=LEAD_MIN) > now:
            start = min(leaves) - dt.timedelta(minutes=LEAD_MIN)
            svc.move_clock(start)
            console.print(
                f"the first van leaves at {min(leaves).astimezone(ZoneInfo(TIMEZONE)):%H:%M}: "
                f"the clock moves on to {start.astimezone(ZoneInfo(TIMEZONE)):%H:%M}"
            )
    if after > 0:
        console.print(
            f"the day is planned and dispatched: the clock starts in {after:g} s ({pace}); "
            f"open {_dashboard_url(svc, day)} now",
            soft_wrap=True,
        )
        time.sleep(after)
    console.print(f"the clock runs ({pace}): the vans are on their way")
    svc.run_clock()


def _departures(svc: Any) -> tuple[dt.datetime, list[dt.datetime]]:
    """The service's time now and when the dispatched plan's vehicles leave."""
    import httpx

    with httpx.Client(
        base_url=svc.url, headers={"Authorization": f"Bearer {svc.token}"}, timeout=60
    ) as api:
        now = dt.datetime.fromisoformat(api.get("/health").json()["clock"]["now"])
        plans = api.get("/plans").raise_for_status().json()
        dispatched = [p for p in plans if p["status"] == "dispatched"]
        if not dispatched:
            return now, []
        plan = api.get(f"/plans/{dispatched[0]['id']}").raise_for_status().json()
    return now, [dt.datetime.fromisoformat(r["start_at"]) for r in plan["routes"] if r["visits"]]


def _serve_until_stopped(
    console: Console, svc: Any, day: dt.date, stop: threading.Event | None
) -> None:
    """Serves on, the clock held at the day's end, until Ctrl-C (or ``stop``)."""
    console.print(
        f"\n[bold]the day is over[/bold]; the service's clock is held at its end. Still "
        f"serving at {_dashboard_url(svc, day)} (sign in as {svc.email}, password "
        f"{svc.password}); the database is {svc.database}. Ctrl-C to stop.",
        soft_wrap=True,
    )
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        console.print("stopped")


def _report(
    console: Console,
    service_day: Any,
    result: Any,
    placed: list[dict[str, Any]],
    sms_log: Path,
    out_dir: Path,
    day: dt.date,
) -> None:
    """The day's figures, its record and its HTML report (see the module docstring)."""
    from lastmile.demo import report_day

    record = result.record
    counts = result.counts
    geocoded = [p for p in placed if p.get("geocode")]
    exact = sum(1 for p in geocoded if (p["geocode"].get("confidence") or 0) >= 1.0)
    console.print(
        f"\n{len(geocoded)} of {len(placed)} orders placed by the service's offline geocoder "
        f"from their address ({exact} exact matches)"
    )
    console.print(
        f"[bold]the day through the service[/bold]: {result.requests} requests in "
        f"{result.seconds:.0f} s; {counts.get('pings', 0)} GPS pings, "
        f"{counts.get('proofs', 0)} proofs of delivery, "
        f"{counts.get('urgent_orders', 0)} urgent order, "
        f"{counts.get('reattempts_booked', 0)} failed delivery booked again, "
        f"{counts.get('stops_predicted_late', 0)} stops predicted late; the service's clock "
        f"held {counts.get('clock_held', 0)} times for the drivers to catch up"
    )
    notes = {k[len("notifications_") :]: v for k, v in counts.items() if k.startswith("notif")}
    notes.pop("s", None)
    texts = sum(1 for line in sms_log.read_text(encoding="utf-8").splitlines() if line.strip())
    console.print(
        f"customer notifications: {counts.get('notifications', 0)} queued ("
        + ", ".join(f"{k} {v}" for k, v in sorted(notes.items()) if k)
        + f"); {texts} texts written to {sms_log}",
        soft_wrap=True,
    )
    if service_day.lost:
        console.print(
            f"[yellow]{len(service_day.lost)} requests failed after their retries and were "
            "left out[/yellow]"
        )
    report_day(
        console,
        record,
        out_dir,
        title=f"Helsinki, {day.isoformat()}: the day through the service",
        also={"notifications": sms_log},
    )
