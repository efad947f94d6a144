"""The customer's tracking page: what the link in their messages opens.

The link is ``/track/{token}``, the same address the API answers JSON at. A
browser asking for HTML (``Accept: text/html`` before ``application/json``) gets
this page; every other client still gets the JSON answer of
``orders.router.track`` (``BrowserRoute`` steps aside for them). The page is
public: the link's token (192 random bits) is the credential, as for the JSON
answer, with the same rate limit per address. Everything essential (status, the
agreed window, the predicted time, the forms) is rendered on the server and works
without JavaScript; ``static/track/track.js`` then polls the JSON answer and
updates the page, shows the driver on a map once the server includes their
position (only when few stops remain before the customer's) and sends the forms to
``POST /track/replies``.

Without JavaScript the forms post to ``POST /track/{token}/replies``. A form post
carries no ambient credential (no cookie: the token is in the address), so
another site cannot post for a customer without knowing the token; in addition
the form carries a token derived from the link token (``form_token``), and a
post the browser marks as coming from another site (``Sec-Fetch-Site``, else
``Origin``) is refused. Every answer is ``no-store``,
``noindex`` and ``Referrer-Policy: no-referrer`` so the token does not leak into
caches, search engines or other sites' logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import urllib.parse
import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from lastmile.exceptions import InputError
from lastmile.service.db import utcnow
from lastmile.service.deps import SessionDep, SettingsDep, client_address
from lastmile.service.errors import NotFound, TooManyRequests
from lastmile.service.maps.service import RoadMap
from lastmile.service.notifications import service as notifications
from lastmile.service.orders import service as orders
from lastmile.service.orders.schemas import TrackingOut
from lastmile.service.ratelimit import RateLimiter
from lastmile.service.security import same
from lastmile.service.settings import Settings
from lastmile.service.web.access import page_context
from lastmile.service.web.rendering import customer_language_of, render
from lastmile.service.web.texts import Texts, preferred_language

_TEXTS = ("track",)
#: What the page says after a form was taken (``?sent=<kind>``).
_SENT = {"new_window", "new_window_pending", "leave_with_neighbour", "instructions"}


def _quality(accept: str, media: str) -> float:
    """The weight ``accept`` gives ``media`` itself (wildcards do not count)."""
    best = 0.0
    for part in accept.split(","):
        kind, _, params = part.strip().partition(";")
        if kind.strip().lower() != media:
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        best = max(best, weight)
    return best


def wants_html(accept: str | None) -> bool:
    """Whether a client asks for HTML by name, at least as much as for JSON (a
    browser opening a link does; ``fetch`` and API clients do not)."""
    html = _quality(accept or "", "text/html")
    return html > 0 and html >= _quality(accept or "", "application/json")


class BrowserRoute(APIRoute):
    """A route that only browsers asking for HTML reach; other requests of the same
    path go on to the next route (the API's)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            accept = headers.get(b"accept", b"").decode("latin-1")
            if not wants_html(accept):
                return Match.NONE, {}
        return super().matches(scope)


pages = APIRouter(include_in_schema=False, route_class=BrowserRoute)
forms = APIRouter(include_in_schema=False)


def form_token(link_token: str) -> str:
    """The token the page's forms carry: a keyed digest of the link token, so a form
    is good only for its own link."""
    return hmac.new(link_token.encode(), b"lastmile tracking form", hashlib.sha256).hexdigest()


def _same_origin(request: Request, settings: Settings) -> bool:
    """Whether the browser says the post comes from this site.

    ``Sec-Fetch-Site`` first (modern browsers send it whatever the referrer
    policy); else ``Origin``, unless it is ``null`` (the page's
    ``Referrer-Policy: no-referrer`` makes browsers send ``null``); a client that
    sends neither is not a browser page of another site.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    ours = {f"{request.url.scheme}://{request.url.netloc}"}
    if settings.public_base_url:
        base = urllib.parse.urlsplit(settings.public_base_url)
        ours.add(f"{base.scheme}://{base.netloc}")
    return origin in ours


def _limit(request: Request, settings: Settings) -> None:
    limiter: RateLimiter = request.app.state.tracking_limiter
    limiter.hit(f"track:{client_address(request, settings)}", what="tracking requests")


def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Vary"] = "Accept"
    return response


# -- what the page says ------------------------------------------------------------------


def _date(texts: Texts, when: dt.datetime) -> str:
    return texts(
        "track.date",
        weekday=texts(f"track.weekday_{when.weekday()}"),
        day=when.day,
        month=texts(f"track.month_{when.month}"),
    )


def _clock(when: dt.datetime) -> str:
    return f"{when:%H:%M}"


def _span(texts: Texts, start: dt.datetime, end: dt.datetime) -> str:
    if start.date() == end.date():
        return texts("track.span", date=_date(texts, start), start=_clock(start), end=_clock(end))
    return texts(
        "track.span_days",
        start=f"{_date(texts, start)} {_clock(start)}",
        end=f"{_date(texts, end)} {_clock(end)}",
    )


def _facts(texts: Texts, view: TrackingOut) -> dict[str, Any]:
    """The page's sentences, from the tracking answer."""
    expected = ""
    if view.expected_from is not None and view.expected_to is not None:
        if view.running_late:
            expected = texts(
                "track.running_late",
                time=_clock(view.expected_from),
                date=_date(texts, view.expected_from),
            )
        else:
            expected = texts(
                "track.expected", span=_span(texts, view.expected_from, view.expected_to)
            )
    proof = None
    if view.proof is not None:
        proof = {
            "at": texts(
                "track.delivered_at",
                date=_date(texts, view.proof.delivered_at),
                time=_clock(view.proof.delivered_at),
            ),
            "recipient": view.proof.recipient_name,
            "photo": texts("track.yes" if view.proof.photo else "track.no"),
            "signature": texts("track.yes" if view.proof.signature else "track.no"),
        }
    return {
        "status": texts(f"track.status_{view.status.value}"),
        "windows": [_span(texts, w.start, w.end) for w in view.time_windows],
        "expected": expected,
        "stops_before": (
            texts("track.stops_before", count=view.stops_before)
            if view.stops_before is not None
            else ""
        ),
        "proof": proof,
    }


def _page(
    request: Request,
    *,
    token: str,
    view: TrackingOut,
    language: str,
    sent: str = "",
    error: str = "",
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    texts = Texts(language)
    today = utcnow().astimezone(zoneinfo.ZoneInfo(view.timezone)).date()
    context = page_context(
        request,
        None,
        token=token,
        form_token=form_token(token),
        view=view,
        answer=view.model_dump(mode="json"),
        facts=_facts(texts, view),
        sent=sent if sent in _SENT else "",
        error=error,
        values=values or {},
        today=today.isoformat(),
        last_day=(today + dt.timedelta(days=13)).isoformat(),
        open=not view.status.is_final,
        refresh_ms=int(request.app.state.settings.tracking_refresh_s * 1000),
    )
    response = render(
        request,
        "track/page.html",
        context,
        language=language,
        pages=_TEXTS,
        status_code=status_code,
    )
    return _headers(response)


def _too_many(request: Request, exc: TooManyRequests) -> Response:
    texts = Texts(preferred_language(request.headers.get("accept-language")))
    message = texts("track.too_many", seconds=exc.retry_after_s)
    response = _not_found(request, status_code=429, title="track.busy_title", message=message)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def _not_found(
    request: Request,
    *,
    status_code: int = 404,
    title: str = "track.missing_title",
    message: str = "",
    language: str | None = None,
) -> Response:
    """The page for a link that does not work (or a request refused): in the
    organisation's language when known, else the browser's."""
    language = language or preferred_language(request.headers.get("accept-language"))
    context = page_context(request, None, title=title, message=message)
    response = render(
        request, "track/missing.html", context, language=language, status_code=status_code
    )
    return _headers(response)


# -- routes -------------------------------------------------------------------------------


@pages.get("/track/{token}", response_class=HTMLResponse)
def tracking_page(
    token: str, request: Request, settings: SettingsDep, session: SessionDep, sent: str = ""
) -> Response:
    """The customer's page for their order (404 page for an unknown or expired link)."""
    try:
        _limit(request, settings)
    except TooManyRequests as exc:
        return _too_many(request, exc)
    try:
        order = notifications.order_of_link(session, token=token)
        view = orders.tracking_view(session, token=token)
    except NotFound:
        return _not_found(request)
    language = customer_language_of(session, order)
    return _page(request, token=token, view=view, language=language, sent=sent)


def _window(date: str, start: str, end: str, zone: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The window a form asked for, in the organisation's time zone (None: not given)."""
    if not (date and start and end):
        return None
    tz = zoneinfo.ZoneInfo(zone)
    try:
        day = dt.date.fromisoformat(date)
        begin = dt.datetime.combine(day, dt.time.fromisoformat(start), tz)
        until = dt.datetime.combine(day, dt.time.fromisoformat(end), tz)
    except ValueError:
        raise InputError("give a date and times as the form asks", where="window_start") from None
    return begin, until


@forms.post("/track/{token}/replies", response_class=HTMLResponse)
def tracking_form(
    token: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    kind: Annotated[str, Form(max_length=32)],
    form_token_: Annotated[str, Form(alias="form_token", max_length=128)] = "",
    date: Annotated[str, Form(max_length=10)] = "",
    start: Annotated[str, Form(max_length=8)] = "",
    end: Annotated[str, Form(max_length=8)] = "",
    text: Annotated[str, Form(max_length=500)] = "",
    neighbour_name: Annotated[str, Form(max_length=200)] = "",
    neighbour_address: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A form of the page sent without JavaScript: store the reply as
    ``POST /track/replies`` does and come back to the page (303), or show the page
    again with what was wrong (422)."""
    try:
        _limit(request, settings)
    except TooManyRequests as exc:
        return _too_many(request, exc)
    try:
        order = notifications.order_of_link(session, token=token)
    except NotFound:
        return _not_found(request)
    language = customer_language_of(session, order)
    if not _same_origin(request, settings) or not same(form_token(token), form_token_):
        return _not_found(
            request,
            status_code=403,
            title="track.refused_title",
            message=Texts(language)("track.form_refused"),
            language=language,
        )
    values = {
        "kind": kind,
        "date": date,
        "start": start,
        "end": end,
        "text": text,
        "neighbour_name": neighbour_name,
        "neighbour_address": neighbour_address,
    }
    try:
        view = orders.tracking_view(session, token=token)
        reply = notifications.record_reply(
            session,
            order=order,
            kind=kind,
            text=text,
            window=_window(date, start, end, view.timezone) if kind == "new_window" else None,
            neighbour_name=neighbour_name,
            neighbour_address=neighbour_address,
        )
    except InputError as exc:
        session.rollback()
        texts = Texts(language)
        name = f"track.error_{exc.where}"
        error = texts(name) if name in texts.page(*_TEXTS) else texts("track.error_other")
        view = orders.tracking_view(session, token=token)
        return _page(
            request,
            token=token,
            view=view,
            language=language,
            error=error,
            values=values,
            status_code=422,
        )
    sent = "new_window_pending" if kind == "new_window" and not reply.applied else kind
    target = f"/track/{urllib.parse.quote(token)}?sent={sent}#replies"
    return _headers(RedirectResponse(target, status.HTTP_303_SEE_OTHER))


#: Half the side of the square of roads drawn around the customer, in degrees of
#: latitude (about 2 km), and the grid its centre snaps to (so neighbours share
#: the kept answer).
_ROADS_HALF_DEG = 0.018
_ROADS_GRID_DEG = 0.005


@forms.get("/track/{token}/roads")
def customer_roads(
    token: str, request: Request, settings: SettingsDep, session: SessionDep
) -> Response:
    """The roads around the customer's own stop (GeoJSON, as ``GET /map/roads``): the
    base layer of the tracking page's map when no tile server is configured. The
    link is the credential; 404 for an unknown link or without a road network."""
    _limit(request, settings)
    try:
        order = notifications.order_of_link(session, token=token)
    except NotFound:
        return _headers(Response(status_code=404))
    lon = order.delivery_lon if order.delivery_lon is not None else order.pickup_lon
    lat = order.delivery_lat if order.delivery_lat is not None else order.pickup_lat
    if lon is None or lat is None:
        return _headers(Response(status_code=404))
    lon = round(lon / _ROADS_GRID_DEG) * _ROADS_GRID_DEG
    lat = round(lat / _ROADS_GRID_DEG) * _ROADS_GRID_DEG
    half_lon = _ROADS_HALF_DEG / max(0.2, math.cos(math.radians(lat)))
    box = (lon - half_lon, lat - _ROADS_HALF_DEG, lon + half_lon, lat + _ROADS_HALF_DEG)
    road_map: RoadMap = request.app.state.road_map
    try:
        answer = road_map.roads(bbox=box, tolerance_m=5.0)
    except NotFound:
        return _headers(Response(status_code=404))
    gzipped = "gzip" in request.headers.get("accept-encoding", "").lower()
    response = Response(
        answer.gzipped if gzipped else answer.body, media_type="application/geo+json"
    )
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return _headers(response)


router = APIRouter(include_in_schema=False)
router.include_router(pages)
router.include_router(forms)
