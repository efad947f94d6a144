"""The solver options a request may ask for (engine, time limit), checked once for
planning a day and for re-optimising a plan on the road."""

from __future__ import annotations

from lastmile.planning.engines import REGISTRY
from lastmile.service.errors import FieldError
from lastmile.service.settings import Settings


def check_solver_options(
    *, engine: str, time_limit_s: float | None, settings: Settings
) -> tuple[float, list[FieldError]]:
    """The time limit to solve with (the service's default when none is asked for) and
    what is wrong with the options (an unknown engine, a limit above the service's)."""
    errors: list[FieldError] = []
    if engine != "auto" and engine not in REGISTRY:
        known = ", ".join(["auto", *REGISTRY])
        errors.append(FieldError(reason=f"unknown engine; choose one of: {known}", column="engine"))
    time_limit = time_limit_s or settings.default_time_limit_s
    if time_limit > settings.max_time_limit_s:
        errors.append(
            FieldError(
                reason=f"at most {settings.max_time_limit_s:g} s on this service",
                column="time_limit_s",
            )
        )
    return time_limit, errors
