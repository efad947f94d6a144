"""The FastAPI application: ``create_app(settings)``.

Building the app builds the process's travel model from the settings
(:mod:`lastmile.service.travel`: a road network named there is loaded now, and a
missing or unreadable file is an ``InputError`` naming it). On start-up the
database is migrated to head (unless ``auto_migrate`` is off) and the process's
planning slots are started (:class:`~lastmile.service.plans.jobs.JobRunner`, on
the queue every process shares); on shut-down the jobs they run go back to the
queue. Building the app installs the notifications outbox (changes and
published events become queued webhooks and customer messages in their own
transaction). Errors have one shape everywhere: ``{"detail": str, "errors": [...]}``.
"""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import lastmile
from lastmile.exceptions import InputError
from lastmile.service import accesslog, db
from lastmile.service.auth.router import router as auth_router
from lastmile.service.automation.router import router as automation_router
from lastmile.service.clock import SimulatedClock, wall_clock
from lastmile.service.depots.router import router as depots_router
from lastmile.service.errors import FieldError, ServiceError, TooManyRequests, Unprocessable
from lastmile.service.fleet.router import router as fleet_router
from lastmile.service.geocoding import GeocodeFn, make_geocoder
from lastmile.service.learning.router import router as learning_router
from lastmile.service.maps.router import router as maps_router
from lastmile.service.maps.service import RoadMap
from lastmile.service.notifications.outbox import install_outbox
from lastmile.service.notifications.router import router as notifications_router
from lastmile.service.orders.router import public_router as tracking_router
from lastmile.service.orders.router import router as orders_router
from lastmile.service.orgs.router import router as orgs_router
from lastmile.service.plans.jobs import JobRunner
from lastmile.service.plans.router import router as plans_router
from lastmile.service.pod.router import router as pod_router
from lastmile.service.ratelimit import RateLimiter
from lastmile.service.replan.router import router as replan_router
from lastmile.service.replan.views import LiveViews
from lastmile.service.reports.router import router as reports_router
from lastmile.service.schemas import ApiModel, ErrorOut, answer_zone
from lastmile.service.settings import Settings
from lastmile.service.tracking.router import router as live_router
from lastmile.service.travel import ServiceTravel
from lastmile.service.web.access import LoginRequired, login_url
from lastmile.service.web.dashboard import router as dashboard_router
from lastmile.service.web.driver import router as driver_router
from lastmile.service.web.rendering import STATIC
from lastmile.service.web.reports_page import router as reports_page_router
from lastmile.service.web.router import router as web_router
from lastmile.service.web.tracking_page import router as tracking_page_router
from lastmile.travel import TravelModel


class Health(ApiModel):
    """The service is up."""

    status: str = Field(description="Always ok.")
    version: str = Field(description="lastmile version.")
    travel: dict[str, Any] = Field(
        description="How travel is computed: kind (road, osrm or straight_line) and its "
        "settings, e.g. network, traffic and weather (file names only, never secrets)."
    )
    planning: dict[str, Any] = Field(
        default_factory=dict,
        description="Where optimisations run: executor (local: processes of this machine; "
        "dask: the cluster behind scheduler, LASTMILE_SCHEDULER) and solver_workers.",
    )
    clock: dict[str, Any] = Field(
        default_factory=dict,
        description="The service's clock: simulated (false: the wall clock), speed (1 on "
        "the wall clock), now; a simulated clock (LASTMILE_SIMULATED_CLOCK) also gives its "
        "start. A client driving real vehicles should refuse a simulated clock.",
    )


#: Error answers every authenticated route may give.
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated (no, unknown or expired token)."},
    403: {"model": ErrorOut, "description": "Authenticated, but not allowed (role, or not yours)."},
    404: {"model": ErrorOut, "description": "No such object in your organisation."},
    409: {"model": ErrorOut, "description": "Conflicts with the current state."},
    422: {"model": ErrorOut, "description": "Invalid input: every problem is listed."},
}
_PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _ERRORS[401],
    404: _ERRORS[404],
    422: _ERRORS[422],
    429: {"model": ErrorOut, "description": "Rate limit exceeded; see Retry-After."},
}

_DEFAULT = object()
_frozen = False
#: Collect the youngest generation after this many net allocations (CPython: 700),
#: the next two after 20 and 100 collections of the one below (CPython: 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


def _tune_garbage_collection() -> None:
    """Keep the cyclic garbage collector's pauses out of request handling.

    What imports and start-up made (modules, classes, the ORM's mappings, the
    planners' tables: hundreds of thousands of long-lived objects) is frozen
    out of its scans. And it runs less often (:data:`GC_THRESHOLDS`): a request
    allocates thousands of objects that die with it, and at CPython's default
    threshold a young-generation collection in the middle of a request
    promotes them, so full collections came every hundred re-planning requests
    and walked the kept live views (100,000 objects at 1,000 stops) for 40-90 ms
    each; at these thresholds the request's objects are gone before most
    collections start. Once per process.
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        _frozen = True


class _AnswerZoneMiddleware:
    """Gives each request its answer time zone (UTC until the caller is known; the
    organisation's once authenticated, see ``deps.get_principal``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with answer_zone():
            await self.app(scope, receive, send)


_log = logging.getLogger("lastmile.service")


class _UnexpectedErrorMiddleware:
    """An exception no handler knows becomes a logged 500 in the usual error shape.

    Starlette's own last-resort handler answers 500 and then re-raises, and
    uvicorn closes a connection whose application raised: the client's next
    request on it was reset. Here the exception ends with the answer, the
    connection stays usable, and the log line and the answer share an error id
    (the traceback is only in the log). An exception after the answer started
    cannot be answered any more and is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            if started:
                raise
            error_id = secrets.token_hex(6)
            _log.exception(
                "unexpected error %s on %s %s", error_id, scope.get("method"), scope.get("path")
            )
            response = _error_response(
                500, f"internal error {error_id}: the server could not answer; it has been logged"
            )
            await response(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    geocode: GeocodeFn | object | None = _DEFAULT,
    travel_model: TravelModel | ServiceTravel | None = None,
    hold_clock: bool = False,
) -> FastAPI:
    """A configured app. ``geocode`` and ``travel_model`` override what the
    settings would build (tests pass fakes; one model serves every profile and day).
    ``hold_clock``: a simulated clock starts held (``app.state.simulated_clock.run()``
    lets it go)."""
    settings = settings or Settings()
    if isinstance(travel_model, ServiceTravel):
        travel = travel_model
    elif travel_model is not None:
        travel = ServiceTravel.of_model(travel_model)
    else:
        travel = ServiceTravel.from_settings(settings)
    engine = db.make_engine(settings.database_url)
    install_outbox()
    accesslog.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            db.upgrade(engine)
        # A simulation instance's clock starts when the app starts serving; every
        # utcnow() of the process follows it until the app stops.
        simulated = settings.make_clock()
        if simulated is not None and hold_clock:
            simulated.hold()
        previous_clock = db.install_clock(simulated.now) if simulated is not None else None
        if simulated is not None:
            app.state.simulated_clock = simulated
            app.state.clock = simulated.now
        runner = JobRunner(
            sessions=app.state.sessionmaker,
            settings=settings,
            travel_model=app.state.travel_model,
        )
        app.state.job_runner = runner
        runner.recover()
        _tune_garbage_collection()
        try:
            yield
        finally:
            runner.shutdown(wait=True)
            engine.dispose()
            if simulated is not None:
                db.install_clock(previous_clock)

    app = FastAPI(
        title="lastmile",
        version=lastmile.__version__,
        summary="Last-mile delivery operations: orders, plans, dispatch and tracking.",
        description=(
            "Authenticate with `Authorization: Bearer <token>`: a session token from "
            "`POST /auth/login` or an API key. Pages signed in at `/login` use the session "
            "cookie instead, and send the session's CSRF token in `X-CSRF-Token` with every "
            "request that changes something. Every object belongs to one organisation; "
            "other organisations' objects answer 404. See docs/api.md."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(_AnswerZoneMiddleware)
    app.add_middleware(_UnexpectedErrorMiddleware)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.geocode = make_geocoder(settings) if geocode is _DEFAULT else geocode
    app.state.travel_model = travel
    app.state.road_map = RoadMap(travel)
    app.state.live_views = LiveViews(ttl_s=settings.live_view_ttl_s)
    app.state.login_limiter = RateLimiter(limit=settings.login_attempts_per_minute)
    app.state.login_address_limiter = RateLimiter(
        limit=settings.login_attempts_per_address_per_minute
    )
    app.state.tracking_limiter = RateLimiter(limit=settings.tracking_requests_per_minute)

    for router in (
        auth_router,
        orgs_router,
        depots_router,
        fleet_router,
        orders_router,
        plans_router,
        live_router,
        replan_router,
        pod_router,
        notifications_router,
        maps_router,
        learning_router,
        reports_router,
        automation_router,
    ):
        app.include_router(router, responses=_ERRORS)
    # Before the API's /track/{token}: browsers asking for HTML get the page there.
    app.include_router(tracking_page_router)
    app.include_router(tracking_router, responses=_PUBLIC_ERRORS)
    app.include_router(web_router)
    app.include_router(dashboard_router)
    app.include_router(reports_page_router)
    app.include_router(driver_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Liveness check, the travel configuration and where optimisations run (no
        authentication)."""
        simulated: SimulatedClock | None = getattr(app.state, "simulated_clock", None)
        return Health(
            status="ok",
            version=lastmile.__version__,
            travel=travel.describe(),
            planning=settings.describe_planning(),
            clock=simulated.describe() if simulated is not None else wall_clock(),
        )

    _install_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _error_response(
    status: int, detail: str, errors: list[FieldError] | None = None
) -> JSONResponse:
    errors = errors or []
    body = ErrorOut.model_validate(
        {
            "detail": detail,
            "errors": [{"reason": e.reason, "column": e.column, "row": e.row} for e in errors],
        }
    )
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
        del request
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        del request
        errors = exc.errors if isinstance(exc, Unprocessable) else []
        response = _error_response(exc.status_code, exc.detail, errors)
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        del request
        reason = str(exc)
        if exc.where and reason.startswith(f"{exc.where}: "):
            reason = reason[len(exc.where) + 2 :]
        return _error_response(422, str(exc), [FieldError(reason=reason, column=exc.where)])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        del request
        errors = [
            FieldError(
                reason=str(e.get("msg", "")), column=".".join(str(p) for p in e.get("loc", ()))
            )
            for e in exc.errors()
        ]
        return _error_response(422, "the request is not valid", errors)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with FastAPI's own 422 shape replaced by ours."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            response = operation.get("responses", {}).get("422")
            if response is not None:
                response["content"] = {"application/json": {"schema": ref}}
                response["description"] = _ERRORS[422]["description"]
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for name, component in components.items():
        if name.startswith("Body_") and "description" not in component:
            component["description"] = f"Multipart form fields of {component.get('title', name)}."
    app.openapi_schema = schema
    return schema
