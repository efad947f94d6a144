"""``lastmile learn``: fit a traffic profile from tracked trips.

Traces come from files (``--positions`` and ``--events`` CSVs, see
:func:`lastmile.travel.mapmatch.read_pings_csv` and ``read_events_csv``) or
from a service's database (``--database-url``, ``--org``, ``--from``, ``--to``:
the organisation's stored pings and stop events). The legs between stops are
map-matched on ``--network``, the profile is fitted starting from ``--traffic``
(the built-in profile by default) with a share of the legs held out to check
it, written to ``-o`` in the format ``--traffic FILE.csv`` reads, and the fit
report is printed. The main CLI adds it with ``add_learn_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import uuid
import zoneinfo
from pathlib import Path
from typing import Any, TextIO

from lastmile.exceptions import InputError
from lastmile.travel.learning import learn_traffic
from lastmile.travel.mapmatch import (
    MapMatcher,
    Ping,
    StopEvent,
    legs_between_stops,
    read_events_csv,
    read_pings_csv,
)
from lastmile.travel.network import PROFILES, RoadNetwork
from lastmile.travel.network_options import holidays_of, traffic_of


def add_learn_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``lastmile learn --network PBF (--positions CSV --events CSV | --database-url URL
    --org ORG --from DATE --to DATE) -o traffic.csv``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "learn",
        help="fit traffic speed factors from tracked trips (pings and stop events)",
        description=(
            "Map-match the legs between stops of tracked trips (pings and stop events, "
            "from CSV files or a service's database) on a road network, fit the traffic "
            "speed factors from them starting from --traffic, check the fit on held-out "
            "legs, and write the profile in the format --traffic FILE.csv reads."
        ),
    )
    p.add_argument("--network", required=True, metavar="PBF", help="OpenStreetMap extract")
    p.add_argument("--profile", default="car", choices=sorted(PROFILES), help="default car")
    files = p.add_argument_group("traces from files")
    files.add_argument("--positions", type=Path, metavar="CSV", help="vehicle,time,lon,lat")
    files.add_argument("--events", type=Path, metavar="CSV", help="vehicle,time,kind[,stop]")
    files.add_argument(
        "--timezone",
        metavar="ZONE",
        help="read times with an offset on this zone's wall clock (e.g. Europe/Helsinki)",
    )
    stored = p.add_argument_group("traces from a service's database")
    stored.add_argument("--database-url", metavar="URL", help="the service's SQLAlchemy URL")
    stored.add_argument("--org", metavar="ORG", help="organisation id or slug")
    stored.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day")
    stored.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day (included)")
    p.add_argument(
        "--traffic",
        default="default",
        metavar="default|none|PATH.csv",
        help="the profile to start from (default: the built-in one)",
    )
    p.add_argument(
        "--holiday",
        action="append",
        default=[],
        metavar="YYYY-MM-DD",
        help="a public holiday: weekend traffic (repeatable)",
    )
    p.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        metavar="SHARE",
        help="share of legs held out to check the fit (default %(default)s)",
    )
    p.add_argument(
        "--gps-sigma-m",
        type=float,
        metavar="M",
        help="GPS noise in metres (default: estimated per trace)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="traffic CSV to write")
    p.set_defaults(func=learn_command)
    return p


def _day(text: str | None, where: str) -> dt.date:
    if not text:
        raise InputError("needed with --database-url", where=where)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"expected YYYY-MM-DD, got {text!r}", where=where) from None


def _from_database(args: argparse.Namespace) -> tuple[list[Ping], list[StopEvent]]:
    from sqlalchemy import or_, select

    from lastmile.service import db
    from lastmile.service.learning.service import traces
    from lastmile.service.orgs.models import Organisation

    if not args.org:
        raise InputError("needed with --database-url", where="--org")
    first, last = _day(args.start, "--from"), _day(args.end, "--to")
    if last < first:
        raise InputError(f"{last} is before --from {first}", where="--to")
    engine = db.make_engine(args.database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            try:
                key = uuid.UUID(args.org)
                match = or_(Organisation.id == key, Organisation.slug == args.org)
            except ValueError:
                match = Organisation.slug == args.org
            org = session.scalar(select(Organisation).where(match))
            if org is None:
                raise InputError(f"no organisation {args.org!r}", where="--org")
            zone = zoneinfo.ZoneInfo(org.timezone)
            start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
            end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
            pings, events, _ = traces(session, org_id=org.id, start=start, end=end, zone=zone)
    finally:
        engine.dispose()
    return pings, events


def learn_command(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from_files = args.positions is not None or args.events is not None
    if from_files and args.database_url:
        raise InputError("give --positions/--events or --database-url, not both", where="arguments")
    if from_files:
        if args.positions is None or args.events is None:
            raise InputError("give both --positions and --events", where="arguments")
        zone = zoneinfo.ZoneInfo(args.timezone) if args.timezone else None
        pings = read_pings_csv(args.positions, timezone=zone)
        events = read_events_csv(args.events, timezone=zone)
    elif args.database_url:
        pings, events = _from_database(args)
    else:
        raise InputError(
            "give --positions and --events, or --database-url with --org", where="arguments"
        )
    if args.output.suffix.lower() != ".csv":
        raise InputError("must end in .csv", where="--output")
    prior = traffic_of(args)
    network = RoadNetwork.from_pbf(args.network, profile=args.profile)
    matcher = MapMatcher(network, sigma_m=args.gps_sigma_m)
    legs = legs_between_stops(matcher, pings, events)
    observed = legs.observed
    out.write(
        f"traces: {legs.vehicles} vehicle(s), {legs.pings} ping(s); legs matched: "
        f"{len(legs.legs)} (skipped: {legs.unpaired_events} without a departure, "
        f"{legs.too_few_pings} with too few pings, {legs.broken} broken)\n"
    )
    if not observed:
        raise InputError("no leg between two stops could be matched", where="traces")
    report = learn_traffic(
        network,
        observed,
        prior=prior,
        holdout_share=args.holdout,
        holidays=holidays_of(args),
    )
    for line in report.lines():
        out.write(line + "\n")
    report.profile.to_csv(args.output)
    out.write(f"wrote {args.output}\n")
    return 0
