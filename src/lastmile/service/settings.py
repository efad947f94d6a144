"""Service settings, read from ``LASTMILE_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lastmile.exceptions import InputError
from lastmile.planning.executors import check_scheduler
from lastmile.service.clock import SimulatedClock

#: Why a link (customer tracking link, tracker server URL) cannot be made.
NO_PUBLIC_BASE_URL = (
    "links need LASTMILE_PUBLIC_BASE_URL: set it to the address customers and trackers "
    "reach the service at (e.g. https://track.example.com); the request's Host header is "
    "not trusted for links"
)


class Settings(BaseSettings):
    """Everything the service can be told. Each field maps to ``LASTMILE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    simulated_clock: str = Field(
        default="",
        description="A simulation instance's clock: '<instant with time zone> x<speed-up>', "
        "e.g. '2026-12-08T06:00:00+01:00 x120': the service starts at that instant and its "
        "time runs that many times faster than real time (every timestamp it takes follows "
        "it; GET /health shows it). For driving simulated days (lastmile simulate --service), "
        "never for real operations. Empty: the wall clock.",
    )
    database_url: str = Field(
        default="sqlite:///lastmile.db",
        description="SQLAlchemy URL. SQLite file by default (WAL mode); "
        "postgresql+psycopg://user@host:5432/db for PostgreSQL.",
    )
    auto_migrate: bool = Field(
        default=True, description="Run the database migrations to head when the app starts."
    )
    session_ttl_s: int = Field(default=12 * 3600, gt=0, description="Login session lifetime.")
    tracking_link_ttl_s: int = Field(
        default=14 * 86_400, gt=0, description="How long a customer tracking link stays valid."
    )
    login_attempts_per_minute: int = Field(
        default=10, gt=0, description="Login attempts per client address and e-mail per minute."
    )
    login_attempts_per_address_per_minute: int = Field(
        default=30,
        gt=0,
        description="Login attempts per client address per minute, whatever the e-mail.",
    )
    tracking_refresh_s: float = Field(
        default=20,
        ge=1,
        le=600,
        description="How often an open tracking page asks the service for news, in seconds.",
    )
    tracking_requests_per_minute: int = Field(
        default=60, gt=0, description="Tracking page requests per client address per minute."
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client address from X-Forwarded-For (only behind a trusted proxy).",
    )
    public_base_url: str = Field(
        default="",
        description="Base URL put in front of customer tracking links and tracker server "
        "URLs, e.g. https://track.example.com. Links are never built from a request's Host "
        "header: without this setting they are refused (409). lastmile serve sets it from "
        "--host and --port when they name one address.",
    )
    planning_executor: Literal["process", "thread"] = Field(
        default="process",
        description="Run each optimisation in a worker process (cancellable, keeps the API "
        "responsive) or in a thread of the API process (for tests and tiny set-ups).",
    )
    planning_concurrency: int = Field(
        default=1,
        gt=0,
        description="How many optimisations this process runs at the same time when "
        "planning_slots is not set (the older name of that setting).",
    )
    planning_slots: int | None = Field(
        default=None,
        ge=0,
        description="Planning slots of this process: how many queued optimisations it takes "
        "from the shared queue and runs at the same time (lastmile serve and lastmile worker "
        "alike). 0: an API process only queues jobs, for workers to run. Default: "
        "planning_concurrency (1).",
    )
    planning_queue: str = Field(
        default="default",
        min_length=1,
        max_length=64,
        description="The queue this process puts its planning jobs in and takes them from: "
        "processes sharing a database and a queue share the work.",
    )
    planning_attempts: int = Field(
        default=2,
        ge=1,
        description="How many times a planning job is started: a job whose process died under "
        "it (its lease ran out) or whose solver process was killed is queued again until then, "
        "and fails with the reason after that. 1: never again.",
    )
    planning_org_limit: int = Field(
        default=2,
        gt=0,
        description="At most this many planning jobs of one organisation run at the same time, "
        "across every process: the others wait, so one organisation's backlog leaves slots "
        "for the others.",
    )
    planning_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="How often an idle planning slot looks for queued jobs (a job queued "
        "through the same process wakes its slots at once).",
    )
    planning_stale_after_s: float = Field(
        default=60.0,
        gt=0,
        description="A planning slot's lease on the job it runs: renewed a few times in that "
        "span while its process lives. A job whose lease ran out was left by a process that "
        "died (killed, crashed, machine lost): any process then queues it again (see "
        "planning_attempts) or marks it failed.",
    )

    solver_workers: int = Field(
        default=1,
        gt=0,
        description="Worker processes each optimisation may use (with LASTMILE_SCHEDULER: "
        "searches it runs side by side on the cluster).",
    )
    scheduler: str = Field(
        default="",
        description="A Dask scheduler, tcp://HOST:8786: each optimisation runs its searches "
        "as tasks on that cluster instead of local processes (docs/scale.md). A scheduler "
        "that does not answer fails the job with a message naming it. Empty: local processes.",
    )
    automation_tick_s: float = Field(
        default=30.0,
        ge=0,
        description="How often this process's scheduler looks at the clock for plans due at "
        "an organisation's auto_plan_at (one process acts per organisation and day). "
        "0: no scheduler in this process.",
    )
    default_time_limit_s: float = Field(
        default=10.0, gt=0, description="Optimisation time limit when a request names none."
    )
    max_time_limit_s: float = Field(
        default=600.0, gt=0, description="The longest optimisation a request may ask for."
    )
    live_view_ttl_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a plan's live view (routes, stop events, positions) is kept "
        "between re-planning requests. It is built as of that many seconds ahead, so a change "
        "made from it holds at any moment of its life; GPS fixes newer than the view are "
        "taken at the next rebuild. 0 rebuilds it for every request.",
    )
    travel_speed_kph: float = Field(
        default=30.0, gt=0, description="Speed of the straight-line travel model."
    )
    travel_detour_factor: float = Field(
        default=1.3, ge=1.0, description="Road distance over straight-line distance."
    )
    network: str = Field(
        default="",
        description="An OpenStreetMap extract (.osm.pbf): plan, time and re-plan on its roads "
        "(loaded once per process; a parsed copy is cached beside it). Empty: straight lines.",
    )
    traffic: str = Field(
        default="",
        description="With a road network: default (built-in rush hours), none, or a CSV of "
        "speed factors per road class and 15-minute slice. Empty: default.",
    )
    weather: str = Field(
        default="",
        description="With a road network: clear, conditions (rain+strong_wind), a CSV/JSON file "
        "of periods, or open-meteo (the live forecast). Empty: clear.",
    )
    osrm_url: str = Field(
        default="",
        description="A running osrm-routed to ask for travel times instead (no time of day).",
    )
    map_tile_url: str = Field(
        default="",
        description="Raster tiles under the pages' maps, e.g. "
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png (for deployments with internet; "
        "respect the tile server's usage policy). Empty: no tiles; with a road network the "
        "maps draw its roads instead, so they stay readable offline.",
    )
    geocoder: Literal["none", "offline", "nominatim"] = Field(
        default="none",
        description="Geocoder for addresses without coordinates: none (rows must carry lon/lat), "
        "offline (an index over an OpenStreetMap extract) or nominatim (online).",
    )
    geocoder_osm_extract: str = Field(
        default="", description="The .osm.pbf extract the offline geocoder indexes."
    )
    geocoder_url: str = Field(
        default="https://nominatim.openstreetmap.org",
        description="Nominatim server for the online geocoder.",
    )
    geocoder_user_agent: str = Field(
        default="lastmile", description="User agent sent to an online geocoder."
    )
    geocode_review_below: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="A geocoded stop whose confidence is below this is flagged needs_review "
        "until a dispatcher confirms or corrects its position (0: never flag). The offline "
        "geocoder gives 1.0 for an exact house, 0.9 for another letter of the same number, "
        "0.85 for a position interpolated between house numbers, less for fuzzy street names.",
    )

    @field_validator("simulated_clock")
    @classmethod
    def _check_clock(cls, value: str) -> str:
        if value.strip():
            try:
                SimulatedClock.parse(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value.strip()

    @field_validator("scheduler")
    @classmethod
    def _check_scheduler(cls, value: str) -> str:
        if value.strip():
            try:
                return check_scheduler(value, where="LASTMILE_SCHEDULER")
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return ""

    def describe_planning(self) -> dict[str, object]:
        """Where optimisations run, as GET /health shows it."""
        where: dict[str, object] = {
            "executor": "dask" if self.scheduler else "local",
            "solver_workers": self.solver_workers,
        }
        if self.scheduler:
            where["scheduler"] = self.scheduler
        return where

    def make_clock(self) -> SimulatedClock | None:
        """The simulated clock, started now (None: the wall clock)."""
        return SimulatedClock.parse(self.simulated_clock) if self.simulated_clock else None

    @property
    def slots(self) -> int:
        """The planning slots of this process (:attr:`planning_slots`, else
        :attr:`planning_concurrency`)."""
        return self.planning_concurrency if self.planning_slots is None else self.planning_slots
