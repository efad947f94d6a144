"""Learning an organisation's speeds from its own trips.

:func:`learn` reads the stop events and position pings the organisation's routes
recorded over the last ``learn_days`` days, cuts each route's pings at its stop
events (the route started, or a task done at a stop: the vehicle leaves;
``arrived``: it reached the next stop), map-matches each leg on the road network
(:mod:`lastmile.travel.mapmatch`), fits a traffic profile starting from the
configured one and checks it on held-out legs
(:func:`lastmile.travel.learning.learn_traffic`), and stores it: one row per
organisation, its revision raised. The profile is put in use when it predicts
the held-out legs no worse than the configured one and at least
``learn_min_legs`` legs went into it; the next plans, re-plans and ETAs of the
organisation then use it (``service.travel.org_traffic``). Times are read on
the organisation's wall clock (traffic slices are local).

:func:`learn_all` does it for every organisation with trips (the scheduled job).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lastmile.exceptions import LastmileError
from lastmile.service.auth.principal import Principal
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict
from lastmile.service.learning.models import LearnedTraffic, profile_json
from lastmile.service.learning.settings import LearningSettings
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.models import Route
from lastmile.service.tracking.models import PositionPing
from lastmile.service.tracking.models import StopEvent as StopEventRow
from lastmile.service.travel import DEFAULT_PROFILE, ServiceTravel
from lastmile.travel.learning import learn_traffic
from lastmile.travel.mapmatch import MapMatcher, MatchedLeg, Ping, StopEvent, legs_between_stops
from lastmile.travel.network import RoadNetwork

log = logging.getLogger(__name__)

#: Why nothing can be learned without a road network (the answer of POST /traffic/learn).
NO_NETWORK = (
    "speeds are learned on a road network, and this service has none: start it with "
    "LASTMILE_NETWORK (lastmile serve --network PATH.osm.pbf)"
)

#: Routes whose pings are read in one query (through the (route, time) index).
_CHUNK = 500

_matchers: dict[int, tuple[RoadNetwork, MapMatcher]] = {}
_matchers_lock = threading.Lock()
#: One fit at a time per process (a fit is CPU work: a second would only wait for the cores).
_fit_lock = threading.Lock()


def matcher_for(network: RoadNetwork) -> MapMatcher:
    """The map matcher of ``network``, built once per process."""
    with _matchers_lock:
        found = _matchers.get(id(network))
        if found is not None and found[0] is network:
            return found[1]
    made = MapMatcher(network)
    with _matchers_lock:
        _matchers[id(network)] = (network, made)
    return made


def current(session: Session, *, org_id: uuid.UUID) -> LearnedTraffic | None:
    """The organisation's learned profile, if one was ever fitted."""
    return session.scalar(select(LearnedTraffic).where(LearnedTraffic.org_id == org_id))


def trace_chunks(
    session: Session, *, org_id: uuid.UUID, start: dt.datetime, end: dt.datetime, zone: dt.tzinfo
) -> Iterator[tuple[list[Ping], list[StopEvent]]]:
    """Pings and stop events recorded in ``[start, end)``, on ``zone``'s wall clock,
    a few hundred routes at a time (a route is the library's "vehicle": one
    vehicle's day), so a month of pings is never in memory at once."""
    events: dict[uuid.UUID, list[StopEvent]] = {}
    for route_id, at, kind, order_id in session.execute(
        select(
            StopEventRow.route_id,
            StopEventRow.recorded_at,
            StopEventRow.kind,
            StopEventRow.order_id,
        ).where(
            StopEventRow.org_id == org_id,
            StopEventRow.recorded_at >= start,
            StopEventRow.recorded_at < end,
        )
    ):
        events.setdefault(route_id, []).append(
            StopEvent(str(route_id), at.astimezone(zone).replace(tzinfo=None), kind, str(order_id))
        )
    route_ids = sorted(events)
    for k in range(0, len(route_ids), _CHUNK):
        chunk = route_ids[k : k + _CHUNK]
        # Leaving the depot: when the driver started the route (the first leg's start).
        for route_id, started in session.execute(
            select(Route.id, Route.started_at).where(
                Route.id.in_(chunk), Route.started_at.is_not(None)
            )
        ):
            if started is not None:
                when = started.astimezone(zone).replace(tzinfo=None)
                events[route_id].append(StopEvent(str(route_id), when, "departed", "depot"))
        pings = [
            Ping(str(route_id), at.astimezone(zone).replace(tzinfo=None), lon, lat)
            for route_id, at, lon, lat in session.execute(
                select(
                    PositionPing.route_id,
                    PositionPing.recorded_at,
                    PositionPing.lon,
                    PositionPing.lat,
                ).where(
                    PositionPing.org_id == org_id,
                    PositionPing.route_id.in_(chunk),
                    PositionPing.recorded_at >= start,
                    PositionPing.recorded_at < end,
                )
            )
        ]
        yield pings, [e for route_id in chunk for e in events[route_id]]


def traces(
    session: Session, *, org_id: uuid.UUID, start: dt.datetime, end: dt.datetime, zone: dt.tzinfo
) -> tuple[list[Ping], list[StopEvent], int]:
    """Every ping and stop event of :func:`trace_chunks`, and how many routes there are."""
    pings: list[Ping] = []
    events: list[StopEvent] = []
    for p, e in trace_chunks(session, org_id=org_id, start=start, end=end, zone=zone):
        pings += p
        events += e
    return pings, events, len({e.vehicle for e in events})


def learn(
    session: Session,
    *,
    org_id: uuid.UUID,
    travel: ServiceTravel,
    settings: LearningSettings,
    trigger: str,
    days: int | None = None,
    now: dt.datetime | None = None,
) -> LearnedTraffic:
    """Fit the organisation's traffic profile from its trips and store it (see the
    module docstring). :class:`Conflict` without a road network, or when no leg
    between stops could be matched (the stored profile then stays as it was)."""
    if not travel.on_roads:
        raise Conflict(NO_NETWORK)
    org = session.get(Organisation, org_id)
    assert org is not None
    end = now or utcnow()
    start = end - dt.timedelta(days=days or settings.learn_days)
    zone = zoneinfo.ZoneInfo(org.timezone)
    network = travel.network(DEFAULT_PROFILE)
    with _fit_lock:
        matcher = matcher_for(network)
        matched: list[MatchedLeg] = []
        routes = n_pings = 0
        for pings, events in trace_chunks(session, org_id=org_id, start=start, end=end, zone=zone):
            found = legs_between_stops(matcher, pings, events)
            matched += found.legs
            routes += len({e.vehicle for e in events})
            n_pings += len(pings)
        observed = [leg.observed for leg in matched if leg.observed is not None]
        if not observed:
            raise Conflict(
                f"nothing to learn from: no leg between two stops with pings along it was "
                f"matched on the road network among {routes} route(s) and {n_pings} ping(s) "
                f"recorded since {start:%Y-%m-%d %H:%M} UTC"
            )
        spec = travel.spec
        assert spec is not None
        report = learn_traffic(
            network,
            observed,
            prior=travel.base_traffic,
            holdout_share=settings.learn_holdout_share,
            holidays=spec.holidays,
        )
    enough = report.legs_used >= settings.learn_min_legs
    in_use = enough and report.improved
    if not enough:
        note = (
            f"not in use: {report.legs_used} leg(s), fewer than the "
            f"{settings.learn_min_legs} needed (LASTMILE_LEARN_MIN_LEGS)"
        )
    elif not report.improved:
        note = "not in use: it predicted the held-out legs worse than the configured profile"
    elif report.after is None:
        note = "in use (too few legs to hold any out for a check)"
    else:
        note = "in use: it predicts the held-out legs better than the configured profile"
    row = current(session, org_id=org_id)
    if row is None:
        row = LearnedTraffic(org_id=org_id, revision=0)
        session.add(row)
    row.revision = (row.revision or 0) + 1
    row.profile = profile_json(report.profile)
    row.in_use = in_use
    row.note = note
    row.fitted_at = utcnow()
    row.trigger = trigger
    row.window_start = start
    row.window_end = end
    row.network = Path(spec.network).name
    row.routes = routes
    row.pings = n_pings
    row.legs_matched = len(matched)
    row.legs_used = report.legs_used
    row.legs_held_out = report.held_out
    row.cells_updated = report.fit.cells_with_data
    row.outliers = report.fit.outliers
    before, after = report.before, report.after
    row.error_before_median_s = before.median_abs_s if before else None
    row.error_before_mean_s = before.mean_abs_s if before else None
    row.error_before_rel = before.median_rel if before else None
    row.error_after_median_s = after.median_abs_s if after else None
    row.error_after_mean_s = after.mean_abs_s if after else None
    row.error_after_rel = after.median_rel if after else None
    session.commit()
    session.refresh(row)
    log.info(
        "learned traffic for organisation %s: revision %d, %d legs, %s",
        org_id,
        row.revision,
        report.legs_used,
        note,
    )
    return row


def learn_now(
    session: Session,
    *,
    principal: Principal,
    travel: ServiceTravel,
    settings: LearningSettings,
    days: int | None = None,
) -> LearnedTraffic:
    """:func:`learn` for the caller's organisation, asked for by an admin."""
    return learn(
        session,
        org_id=principal.org_id,
        travel=travel,
        settings=settings,
        trigger=f"user:{principal.user_id}" if principal.user_id else "api key",
        days=days,
    )


def learn_all(
    sessions: sessionmaker[Session], *, travel: ServiceTravel, settings: LearningSettings
) -> int:
    """:func:`learn` for every organisation with stop events in the window (the scheduled
    job); returns how many were refitted. One organisation's failure is logged and
    does not stop the others."""
    if not travel.on_roads:
        return 0
    since = utcnow() - dt.timedelta(days=settings.learn_days)
    with sessions() as session:
        org_ids = list(
            session.scalars(
                select(StopEventRow.org_id).where(StopEventRow.recorded_at >= since).distinct()
            )
        )
    done = 0
    for org_id in org_ids:
        with sessions() as session:
            try:
                learn(session, org_id=org_id, travel=travel, settings=settings, trigger="schedule")
                done += 1
            except Conflict as exc:
                log.info("no traffic learned for organisation %s: %s", org_id, exc.detail)
            except (LastmileError, ValueError):
                session.rollback()
                log.exception("learning traffic for organisation %s failed", org_id)
    return done
