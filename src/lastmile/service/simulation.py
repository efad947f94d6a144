"""A private service on a simulated clock, for ``lastmile simulate --serve``.

:func:`private_service` starts the app under uvicorn in a thread, on a fresh
SQLite database in a temporary directory, with ``LASTMILE_SIMULATED_CLOCK`` set
to the day's start and speed-up; it makes one organisation and its admin (as
``lastmile admin`` would) and yields the base URL and the admin's session
token. :mod:`lastmile.simulate.http` then drives the day through the API.

``lastmile demo`` gives it more: a road network with traffic to plan and re-plan
on, the offline geocoder over the same extract (orders are posted by address),
customer notifications sent through the log SMS gateway into a file of its own,
and delay scans often enough for a day that passes in minutes. ``lastmile serve
--demo`` gives it an address and a port of the user's choosing and a database
file that outlives it, so the day can be watched in a browser while it is played
and looked into afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from lastmile.exceptions import InputError, LastmileError
from lastmile.service.app import create_app
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.db import utcnow
from lastmile.service.notifications.gateways import LogGateway
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orgs.service import create_org
from lastmile.service.settings import Settings

ORG = "Simulated Deliveries"
TIMEZONE = "Europe/Helsinki"
DIMENSIONS = ["parcels"]


@dataclass(frozen=True)
class PrivateService:
    """A running private service: where it listens, and its admin's token."""

    url: str
    token: str
    database: Path
    #: Lets the held clock run (the day is set up): see :func:`private_service`.
    run_clock: Callable[[], None]
    #: Where the texts to customers are written (None: the service's log only).
    sms_log: Path | None = None
    #: Stops the clock where it is (:attr:`run_clock` lets it run on from there).
    hold_clock: Callable[[], None] | None = None
    #: Moves the held clock forward to an aware instant (see :meth:`SimulatedClock.move_to`).
    move_clock: Callable[[dt.datetime], None] | None = None
    #: The organisation's admin, who may sign in on the pages with this password.
    email: str = ""
    password: str = ""


@contextmanager
def private_service(
    *,
    start: dt.datetime,
    speed: float,
    timezone: str = TIMEZONE,
    planning_limit_s: float = 5.0,
    network: str | Path = "",
    traffic: str = "",
    geocoder_extract: str | Path = "",
    sms_log: Path | None = None,
    service_log: Path | None = None,
    delay_scan_s: float = 60.0,
    org_name: str = ORG,
    host: str = "127.0.0.1",
    port: int = 0,
    database: Path | None = None,
) -> Iterator[PrivateService]:
    """The service on a simulated clock starting at ``start`` (aware), ``speed``
    times faster than real time, until the block ends.

    ``network`` (an ``.osm.pbf``): plan, time and re-plan on its roads, with
    ``traffic`` (``default``: the built-in rush hours). ``geocoder_extract``: orders
    may come with an address only, placed by the offline geocoder over that extract.
    ``sms_log``: the texts the service sends customers (log gateway) are appended to
    this file as well, each after the service's (simulated) local time.
    ``service_log``: the service's own warnings and errors go to this file instead of
    the terminal. ``delay_scan_s``: how often (real seconds) the service looks
    for late stops to tell their customers about.

    ``host`` and ``port`` (0: any free one): where it listens; a port that cannot
    be listened on is an :class:`InputError` naming ``--port``. ``database``: the
    SQLite file, made afresh (a previous one there is removed) and left in place
    afterwards (default: in a temporary directory removed at the end).

    The clock is held at ``start`` until :attr:`PrivateService.run_clock` is called:
    setting a day up through the API takes as long as it takes (hundreds of orders
    posted one by one, planning, on a machine that may be busy), and no simulated
    hour passes meanwhile."""
    with tempfile.TemporaryDirectory(prefix="lastmile-sim-") as folder:
        if database is None:
            database = Path(folder) / "service.db"
        else:
            database.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
        sock, url = listen_socket(host, port)
        settings = Settings(
            database_url=f"sqlite:///{database}",
            planning_executor="thread",
            # Jobs queued here wake the planning slot at once: no need to poll the
            # queue often, nor for a scheduler of daily plans (fewer writers on SQLite).
            planning_poll_s=30.0,
            automation_tick_s=0,
            simulated_clock=f"{start.isoformat()} x{speed:g}",
            default_time_limit_s=planning_limit_s,
            # Sessions last a simulated week: a day at a high speed-up outlives 12 hours.
            session_ttl_s=7 * 86_400,
            login_attempts_per_minute=1000,
            login_attempts_per_address_per_minute=1000,
            network=str(network),
            traffic=traffic,
            geocoder="offline" if geocoder_extract else "none",
            geocoder_osm_extract=str(geocoder_extract),
            public_base_url=url,
            _env_file=None,  # type: ignore[call-arg]
        )
        app = create_app(settings, hold_clock=True)
        app.state.notify_settings = NotifySettings(
            notify_customers=True,
            sms_gateway="log",
            smtp_host="",
            delay_scan_s=delay_scan_s,
            notify_poll_s=2.0,
            sms_workers=1,
            _env_file=None,  # type: ignore[call-arg]
        )
        # This service's texts only (a child of ``lastmile.sms``: they still reach
        # the service's log), not those of other services in the same process.
        sms = logging.getLogger(f"lastmile.sms.private-{port}")
        root = logging.getLogger()
        handler: logging.Handler | None = None
        errors: logging.Handler | None = None
        previous_level = sms.level
        if sms_log is not None:
            sms_log.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(sms_log, encoding="utf-8")
            handler.addFilter(_LocalTime(ZoneInfo(timezone)))
            handler.setFormatter(logging.Formatter("%(local_time)s %(message)s"))
            sms.addHandler(handler)
            sms.setLevel(logging.INFO)
        if service_log is not None:
            service_log.parent.mkdir(parents=True, exist_ok=True)
            errors = logging.FileHandler(service_log, encoding="utf-8")
            errors.setLevel(logging.WARNING)
            errors.addFilter(_LocalTime(ZoneInfo(timezone)))
            errors.setFormatter(
                logging.Formatter("%(local_time)s %(levelname)s %(name)s: %(message)s")
            )
            root.addHandler(errors)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=2,
                # With a log file, uvicorn's loggers pass their records to it too.
                log_config=None if service_log is not None else uvicorn.config.LOGGING_CONFIG,
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        try:
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise LastmileError("the private service did not start")
                time.sleep(0.02)
            gateway = app.state.notifier.senders.sms
            if isinstance(gateway, LogGateway):
                gateway.log = sms
            password = secrets.token_urlsafe(12)
            email = "admin@simulated.example"
            with app.state.sessionmaker() as session:
                org = create_org(
                    session,
                    name=org_name,
                    slug="simulated",
                    timezone=timezone,
                    dimensions=DIMENSIONS,
                )
                create_user(
                    session,
                    org_id=org.id,
                    email=email,
                    password=password,
                    role=Role.ADMIN,
                    name="Simulation admin",
                )
                session.commit()
            answer = httpx.post(
                f"{url}/auth/login", json={"email": email, "password": password}, timeout=30
            )
            answer.raise_for_status()
            clock = app.state.simulated_clock
            yield PrivateService(
                url,
                answer.json()["access_token"],
                database,
                clock.run,
                sms_log,
                clock.hold,
                move_clock=clock.move_to,
                email=email,
                password=password,
            )
        finally:
            server.should_exit = True
            thread.join(15)
            sock.close()
            if handler is not None:
                sms.removeHandler(handler)
                sms.setLevel(previous_level)
                handler.close()
            if errors is not None:
                root.removeHandler(errors)
                errors.close()


def listen_socket(host: str, port: int) -> tuple[socket.socket, str]:
    """A socket bound to ``host:port`` and the URL it is reached at (links are made
    with it too): for a wildcard ``host``, this machine's loopback address, the only
    one known to reach it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host.strip("[]"), port))
    except OverflowError:
        sock.close()
        raise InputError(f"must be between 0 and 65535, got {port}", where="--port") from None
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", where="--port"
        ) from None
    port = sock.getsockname()[1]
    wildcard = host in ("", "0.0.0.0", "::", "[::]")
    if wildcard:
        local = "[::1]" if family == socket.AF_INET6 else "127.0.0.1"
    else:
        local = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    return sock, f"http://{local}:{port}"


class _LocalTime(logging.Filter):
    """Stamps each record with the service's time (simulated, local) as ``local_time``."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__()
        self.zone = zone

    def filter(self, record: logging.LogRecord) -> bool:
        now = utcnow()
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        record.local_time = now.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")
        return True
