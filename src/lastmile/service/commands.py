"""Command-line entry points of the service, for the main ``lastmile`` CLI.

Wire them into the main parser with::

    from lastmile.service.commands import add_admin_parser, add_db_parser, add_serve_parser
    add_serve_parser(subparsers); add_admin_parser(subparsers); add_db_parser(subparsers)
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
from typing import Any

from lastmile.exceptions import InputError


def _settings(**overrides: Any) -> Any:
    """The settings from ``LASTMILE_*`` variables, with ``overrides`` (not None) on top."""
    from lastmile.service.settings import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


# -- serve -------------------------------------------------------------------------------


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile serve [--host HOST] [--port PORT] [--network EXTRACT.osm.pbf]
    [--traffic default|none|FILE.csv] [--weather clear|CONDITIONS|FILE|open-meteo]
    [--osrm-url URL]``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the web service (API at /docs)",
        description="Run the lastmile API under uvicorn. Configuration comes from "
        "LASTMILE_* environment variables (LASTMILE_DATABASE_URL, ...); the travel options "
        "below override LASTMILE_NETWORK, LASTMILE_TRAFFIC, LASTMILE_WEATHER and "
        "LASTMILE_OSRM_URL. Without any, travel is a straight line at a fixed speed.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
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
    p.set_defaults(handler=run_serve)
    return p


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lastmile.service.app import create_app

    settings = _settings(
        network=getattr(args, "network", None),
        traffic=getattr(args, "traffic", None),
        weather=getattr(args, "weather", None),
        osrm_url=getattr(args, "osrm_url", None),
    )
    try:
        app = create_app(settings)
    except InputError as exc:
        print(f"error: cannot start: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
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
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("LASTMILE_PASSWORD"):
        return os.environ["LASTMILE_PASSWORD"]
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the passwords differ", where="password")
    return first


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
    add_db_parser(subparsers)
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result
