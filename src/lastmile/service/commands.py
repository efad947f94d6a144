"""Command-line entry points of the service, for the main ``lastmile`` CLI.

Wire them into the main parser with::

    from lastmile.service.commands import (
        add_admin_parser, add_db_parser, add_orders_parser, add_serve_parser,
        add_worker_parser)
    add_serve_parser(subparsers); add_admin_parser(subparsers); add_db_parser(subparsers)
    add_orders_parser(subparsers); add_worker_parser(subparsers)
    ...
    args = parser.parse_args(argv)
    return args.handler(args)          # every sub-command sets ``handler``

``python -m lastmile.service`` runs the same commands on their own.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lastmile.exceptions import InputError

if TYPE_CHECKING:
    from lastmile.service.orders.schemas import ImportResult


def _settings(**overrides: Any) -> Any:
    """The settings from ``LASTMILE_*`` variables, with ``overrides`` (not None) on top."""
    from lastmile.service.settings import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


# -- serve -------------------------------------------------------------------------------


def add_serve_parser(
    subparsers: Any, *, play_demo: Callable[..., int] | None = None
) -> argparse.ArgumentParser:
    """``lastmile serve [--host HOST] [--port PORT] [--network EXTRACT.osm.pbf]
    [--traffic default|none|FILE.csv] [--weather clear|CONDITIONS|FILE|open-meteo]
    [--osrm-url URL]``; with ``play_demo`` (``lastmile.demo_service.run_service_demo``,
    which sits above the service and is handed in by the main CLI), also
    ``--demo [--speed N] [--orders N] [--out DIR] [--seed S] [--time-limit T]
    [--start-after S]``."""
    description = (
        "Run the lastmile API under uvicorn. Configuration comes from "
        "LASTMILE_* environment variables (LASTMILE_DATABASE_URL, ...); the travel options "
        "below override LASTMILE_NETWORK, LASTMILE_TRAFFIC, LASTMILE_WEATHER and "
        "LASTMILE_OSRM_URL. Without any, travel is a straight line at a fixed speed."
    )
    if play_demo is not None:
        description += (
            " --demo: play the demo day in Helsinki live instead, on a simulated clock, "
            "and watch it on the dashboard (docs/simulation.md)."
        )
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the web service (API at /docs)", description=description
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--public-base-url",
        metavar="URL",
        help="address customers and trackers reach the service at, put in front of the "
        "links it makes (overrides LASTMILE_PUBLIC_BASE_URL; default: http://HOST:PORT when "
        "--host names one address)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    travel = p.add_argument_group("travel (shown by GET /health)")
    travel.add_argument(
        "--network",
        metavar="EXTRACT.osm.pbf",
        help="plan, time and re-plan on this OpenStreetMap extract's roads",
    )
    travel.add_argument(
        "--traffic",
        metavar="default|none|FILE.csv",
        help="speed factors per road class and 15-minute slice (default: built-in rush hours)",
    )
    travel.add_argument(
        "--weather",
        metavar="clear|CONDITIONS|FILE|open-meteo",
        help="e.g. rain+strong_wind, a CSV/JSON file of periods, or the live forecast "
        "(default: clear)",
    )
    travel.add_argument(
        "--osrm-url", metavar="URL", help="ask a running osrm-routed for travel times instead"
    )
    if play_demo is not None:
        demo = p.add_argument_group(
            "the demo day, live",
            "--demo: a private service on HOST:PORT (SQLite in --out, a simulated clock, the "
            "bundled Helsinki road network and geocoder) plays the demo day of lastmile demo "
            "while you watch: it prints the dashboard's address and a sign-in, waits "
            "--start-after seconds, drives the day at --speed, prints its report and serves "
            "on until Ctrl-C",
        )
        demo.add_argument("--demo", action="store_true", help="play the demo day live (see above)")
        demo.add_argument(
            "--speed",
            type=float,
            default=None,
            metavar="N",
            help="simulated seconds per real second (default 60: an hour a minute)",
        )
        demo.add_argument(
            "--orders", type=int, default=None, metavar="N", help="deliveries (default 100)"
        )
        demo.add_argument(
            "--out",
            default=None,
            metavar="DIR",
            help="folder for the day's database, record, report and texts (default out/demo-live)",
        )
        demo.add_argument("--seed", type=int, default=None, help="the day's draw (default 7)")
        demo.add_argument(
            "--time-limit",
            type=float,
            default=None,
            metavar="T",
            help="seconds to plan (default 5)",
        )
        demo.add_argument(
            "--start-after",
            type=float,
            default=None,
            metavar="S",
            help="seconds between the day being planned and its clock starting, to open "
            "the dashboard (default 5)",
        )
        p.set_defaults(play_demo=play_demo)
    p.set_defaults(handler=run_serve)
    return p


#: ``lastmile serve --demo``'s own options and their defaults.
DEMO_OPTIONS: dict[str, object] = {
    "speed": 60.0,
    "orders": 100,
    "out": "out/demo-live",
    "seed": 7,
    "time_limit": 5.0,
    "start_after": 5.0,
}


def listening_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` when ``host`` names one address; empty for the wildcards
    (``0.0.0.0``, ``::``), which name no address a customer could reach."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        return ""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def run_serve_demo(args: argparse.Namespace) -> int:
    """``lastmile serve --demo``: the demo day played live (``args.play_demo``)."""
    from pathlib import Path

    for option in ("network", "traffic", "weather", "osrm_url", "public_base_url"):
        if getattr(args, option, None) is not None:
            flag = "--" + option.replace("_", "-")
            raise InputError(
                "not with --demo: the demo day plans on the bundled Helsinki road network "
                "with rush hours, and its links start with the address it listens on",
                where=flag,
            )

    def given(option: str) -> Any:
        value = getattr(args, option, None)
        return DEMO_OPTIONS[option] if value is None else value

    result: int = args.play_demo(
        out_dir=Path(str(given("out"))),
        orders=int(given("orders")),
        speed=float(given("speed")),
        time_limit=float(given("time_limit")),
        seed=int(given("seed")),
        live=True,
        host=args.host,
        port=args.port,
        start_after=float(given("start_after")),
    )
    return result


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if getattr(args, "demo", False):
        return run_serve_demo(args)
    for option in DEMO_OPTIONS:
        if getattr(args, option, None) is not None:
            flag = "--" + option.replace("_", "-")
            raise InputError("only with --demo", where=flag)

    from lastmile.service import accesslog
    from lastmile.service.app import create_app

    settings = _settings(
        network=getattr(args, "network", None),
        traffic=getattr(args, "traffic", None),
        weather=getattr(args, "weather", None),
        osrm_url=getattr(args, "osrm_url", None),
        public_base_url=getattr(args, "public_base_url", None),
    )
    if not settings.public_base_url:
        default = listening_url(args.host, args.port)
        if default:
            settings = settings.model_copy(update={"public_base_url": default})
            print(
                f"links start with {default} (set LASTMILE_PUBLIC_BASE_URL or "
                "--public-base-url to the address customers reach)",
                file=sys.stderr,
            )
        else:
            print(
                f"warning: --host {args.host} names no single address and "
                "LASTMILE_PUBLIC_BASE_URL is not set: tracking links and trackers are "
                "refused until it is",
                file=sys.stderr,
            )
    try:
        app = create_app(settings)
        _check_sms_gateway()
    except InputError as exc:
        print(f"error: cannot start: {exc}", file=sys.stderr)
        return 2
    accesslog.install()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=log_config(args.log_level),
    )
    return 0


def _check_sms_gateway() -> None:
    """Refuse to start with an SMS gateway that cannot be built (``LASTMILE_SMS_GATEWAY=http``
    without a URL, a body template that is not JSON): said now, not at the first text."""
    from pydantic import ValidationError

    from lastmile.service.notifications.gateways import make_gateway
    from lastmile.service.notifications.settings import NotifySettings

    try:
        notify = NotifySettings()
    except ValidationError as exc:
        raise InputError(str(exc), where="LASTMILE_*") from None
    make_gateway(notify).close()


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging configuration, which also prints the service's own
    ``lastmile.sms`` log (texts the log gateway "sends", gateway failures, customers'
    answers) on the server's output, formatted like uvicorn's lines: at INFO, or at
    ``level`` when that is higher (``--log-level warning`` leaves the texts out)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    shown = level.upper() if level in ("warning", "error", "critical") else "INFO"
    config["loggers"]["lastmile.sms"] = {
        "handlers": ["default"],
        "level": shown,
        "propagate": False,
    }
    return config


# -- worker ------------------------------------------------------------------------------


def add_worker_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile worker [--slots N] [--queue NAME]``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="run planning jobs from the shared queue (no web server)",
        description="Take queued planning jobs from the database (LASTMILE_DATABASE_URL) and "
        "run them, N at a time, until stopped (SIGTERM or Ctrl-C: the jobs running then go "
        "back to the queue). Any number of workers and API processes may share one "
        "PostgreSQL database; organisations take turns for the slots. Travel comes from the "
        "same LASTMILE_* settings as lastmile serve (LASTMILE_NETWORK, ...).",
    )
    p.add_argument(
        "--slots",
        type=int,
        default=None,
        metavar="N",
        help="jobs run at the same time (overrides LASTMILE_PLANNING_SLOTS; default 1)",
    )
    p.add_argument(
        "--queue",
        default=None,
        metavar="NAME",
        help="the queue to take jobs from (overrides LASTMILE_PLANNING_QUEUE; default: default)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.set_defaults(handler=run_worker)
    return p


def run_worker(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from lastmile.service import db
    from lastmile.service.notifications.outbox import install_outbox
    from lastmile.service.plans.jobs import JobRunner
    from lastmile.service.travel import ServiceTravel

    if args.slots is not None and args.slots < 1:
        print(f"error: --slots must be at least 1, not {args.slots}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(planning_queue=args.queue)
    slots = args.slots if args.slots is not None else max(1, settings.slots)
    try:
        travel = ServiceTravel.from_settings(settings)
    except InputError as exc:
        print(f"error: cannot start: {exc}", file=sys.stderr)
        return 2
    engine = db.make_engine(settings.database_url)
    if settings.auto_migrate:
        db.upgrade(engine)
    install_outbox()  # a stored plan's changes become webhooks, as in the API process
    runner = JobRunner(
        sessions=db.make_sessionmaker(engine),
        settings=settings,
        travel_model=travel,
        slots=slots,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.recover()
    print(
        f"lastmile worker {runner.name}: {slots} planning slot(s) on queue "
        f"{settings.planning_queue!r}",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    print("lastmile worker: stopping; running jobs go back to the queue", file=sys.stderr)
    runner.shutdown(wait=True)
    engine.dispose()
    return 0


# -- admin -------------------------------------------------------------------------------


def add_admin_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile admin create-org|create-user|create-api-key``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "admin", help="bootstrap organisations, users and API keys"
    )
    sub = p.add_subparsers(dest="admin_command", required=True)

    org = sub.add_parser("create-org", help="create an organisation (tenant)")
    org.add_argument("--name", required=True, help="display name")
    org.add_argument("--slug", required=True, help="short unique name: a-z, 0-9, dashes")
    org.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    org.add_argument(
        "--dimensions",
        default="units",
        help="capacity dimensions, comma-separated (default: units)",
    )
    org.set_defaults(handler=run_create_org)

    user = sub.add_parser("create-user", help="create a user in an organisation")
    user.add_argument("--org", required=True, help="organisation slug")
    user.add_argument("--email", required=True)
    user.add_argument("--name", default="")
    user.add_argument("--role", choices=["admin", "dispatcher", "driver"], default="admin")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (otherwise LASTMILE_PASSWORD or a prompt)",
    )
    user.set_defaults(handler=run_create_user)

    key = sub.add_parser("create-api-key", help="create an API key (printed once)")
    key.add_argument("--org", required=True, help="organisation slug")
    key.add_argument("--name", required=True, help="what the key is for")
    key.add_argument("--role", choices=["admin", "dispatcher"], default="dispatcher")
    key.set_defaults(handler=run_create_api_key)
    return p


def _session() -> Any:
    from lastmile.service import db

    settings = _settings()
    engine = db.make_engine(settings.database_url)
    if settings.auto_migrate:
        db.upgrade(engine)
    return db.make_sessionmaker(engine)()


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def run_create_org(args: argparse.Namespace) -> int:
    from lastmile.service.errors import ServiceError
    from lastmile.service.orgs.service import create_org

    dims = [d.strip() for d in args.dimensions.split(",") if d.strip()]
    with _session() as session:
        try:
            org = create_org(
                session, name=args.name, slug=args.slug, timezone=args.timezone, dimensions=dims
            )
        except (InputError, ServiceError) as exc:
            return _fail(str(exc))
        print(f"organisation {org.slug} created: {org.id}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """The new user's password: from standard input (``--password-stdin``), else
    ``LASTMILE_PASSWORD``, else asked twice at the terminal."""
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin: standard input gave no password", where="password")
        return line
    if os.environ.get("LASTMILE_PASSWORD"):
        return os.environ["LASTMILE_PASSWORD"]
    if not _has_terminal():
        raise InputError(
            "no terminal to ask for it: pipe it in with --password-stdin or set LASTMILE_PASSWORD",
            where="password",
        )
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the passwords differ", where="password")
    return first


def _has_terminal() -> bool:
    """Whether a password can be asked for (getpass reads from the controlling terminal)."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        return True
    except OSError:
        return sys.stdin is not None and sys.stdin.isatty()


def run_create_user(args: argparse.Namespace) -> int:
    from lastmile.service.auth.models import Role
    from lastmile.service.auth.service import create_user
    from lastmile.service.errors import ServiceError
    from lastmile.service.orgs.service import get_org_by_slug

    with _session() as session:
        try:
            password = _read_password(args)
            if len(password) < 8:
                raise InputError("must have at least 8 characters", where="password")
            org = get_org_by_slug(session, slug=args.org)
            user = create_user(
                session,
                org_id=org.id,
                email=args.email,
                password=password,
                role=Role(args.role),
                name=args.name,
            )
        except (InputError, ServiceError) as exc:
            return _fail(str(exc))
        print(f"user {user.email} ({user.role}) created in {org.slug}: {user.id}")
    return 0


def run_create_api_key(args: argparse.Namespace) -> int:
    from lastmile.service.auth.models import Role
    from lastmile.service.auth.service import create_api_key
    from lastmile.service.errors import ServiceError
    from lastmile.service.orgs.service import get_org_by_slug

    with _session() as session:
        try:
            org = get_org_by_slug(session, slug=args.org)
            key, row = create_api_key(
                session, org_id=org.id, name=args.name, role=Role(args.role), created_by_id=None
            )
        except (InputError, ServiceError) as exc:
            return _fail(str(exc))
        print(key)
        print(
            f"API key {row.prefix}... ({row.role}) for {org.slug}; shown only now", file=sys.stderr
        )
    return 0


# -- orders --------------------------------------------------------------------------------


def add_orders_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile orders import FILE --org SLUG [--partial] [--date D] [--dry-run] [--json]``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "orders", help="orders of an organisation (CSV import)"
    )
    sub = p.add_subparsers(dest="orders_command", required=True)
    imp = sub.add_parser(
        "import",
        help="import orders from a CSV file",
        description="Import orders from a CSV file into an organisation, as POST "
        "/orders/import does (columns: docs/api.md). All or nothing unless --partial. "
        "Addresses are geocoded with the LASTMILE_GEOCODER the service uses. Exit code: 0 "
        "every row imported, 1 nothing imported (errors on stderr), 3 some rows left out "
        "(--partial).",
    )
    imp.add_argument("file", help="CSV file, UTF-8, one order per row")
    imp.add_argument("--org", required=True, help="organisation slug")
    imp.add_argument(
        "--partial",
        action="store_true",
        help="import the good rows and report the bad ones (default: all or nothing)",
    )
    imp.add_argument("--date", help="day that HH:MM time windows refer to (YYYY-MM-DD)")
    imp.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(handler=run_orders_import)
    return p


def run_orders_import(args: argparse.Namespace) -> int:
    import datetime as dt

    from lastmile.service.errors import ServiceError, Unprocessable
    from lastmile.service.geocoding import make_geocoder
    from lastmile.service.orders.importing import import_orders
    from lastmile.service.orders.schemas import ImportMode
    from lastmile.service.orgs.service import get_org_by_slug

    try:
        date = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        return _fail(f"--date: {args.date!r} is not a date (YYYY-MM-DD)")
    try:
        with open(args.file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return _fail(f"{args.file}: {exc.strerror or exc}")
    settings = _settings()
    mode = ImportMode.PARTIAL if args.partial else ImportMode.ALL_OR_NOTHING
    with _session() as session:
        try:
            org = get_org_by_slug(session, slug=args.org)
            result = import_orders(
                session,
                org=org,
                data=data,
                date=date,
                geocode=make_geocoder(settings),
                review_below=settings.geocode_review_below,
                mode=mode,
                dry_run=args.dry_run,
            )
        except Unprocessable as exc:
            print(f"error: {args.file}: {exc.detail}", file=sys.stderr)
            for e in exc.errors:
                where = [f"row {e.row}"] if e.row else []
                where += [e.column] if e.column else []
                print(f"  {', '.join([*where, e.reason])}", file=sys.stderr)
            return 1
        except (InputError, ServiceError) as exc:
            return _fail(str(exc))
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _print_import(args.file, result)
    return 3 if result.rejected else 0


def _print_import(path: str, result: ImportResult) -> None:
    what = "would import" if result.dry_run else "imported"
    print(
        f"{path}: {what} {result.created} new, {result.updated} updated, "
        f"{result.unchanged} unchanged ({result.mode})"
    )
    for rejected in result.rejected:
        print(f"row {rejected.row} ({rejected.external_id or 'no external_id'}) left out:")
        for e in rejected.errors:
            print(f"  {e.column or '(row)'}: {e.reason}")
    if result.rejected_count > len(result.rejected):
        print(f"... and {result.rejected_count - len(result.rejected)} more rows left out")
    for c in result.conflicts:
        print(
            f"row {c.row} ({c.external_id}): the customer changed {c.field}; kept "
            f"{c.customer_value!r}, the file said {c.file_value!r}"
        )
    for r in result.needs_review:
        confidence = "unknown" if r.confidence is None else f"{r.confidence:.2f}"
        print(
            f"row {r.row} ({r.column}): check the position, geocoded as "
            f"{r.matched_address!r} with confidence {confidence}"
        )


# -- db ------------------------------------------------------------------------------------


def add_db_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile db upgrade [REVISION]`` and ``lastmile db current``."""
    p: argparse.ArgumentParser = subparsers.add_parser("db", help="database migrations")
    sub = p.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="migrate the database (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=run_db_upgrade)
    cur = sub.add_parser("current", help="show the database's revision and the head")
    cur.set_defaults(handler=run_db_current)
    return p


def run_db_upgrade(args: argparse.Namespace) -> int:
    from lastmile.service import db

    engine = db.make_engine(_settings().database_url)
    db.upgrade(engine, revision=args.revision)
    print(f"database at {db.current_revision(engine)}")
    return 0


def run_db_current(args: argparse.Namespace) -> int:
    del args
    from lastmile.service import db

    engine = db.make_engine(_settings().database_url)
    current = db.current_revision(engine)
    print(f"current: {current or '(empty)'}  head: {db.head_revision()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lastmile.service")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(subparsers)
    add_admin_parser(subparsers)
    add_orders_parser(subparsers)
    add_db_parser(subparsers)
    add_worker_parser(subparsers)
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result
