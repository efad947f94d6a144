"""The solver options a request may ask for (engine, time limit, robustness), checked
once for planning a day and for re-optimising a plan on the road."""

from __future__ import annotations

from typing import Any

from lastmile.exceptions import InputError
from lastmile.planning.engines import REGISTRY
from lastmile.planning.robust import Robustness, bare_message
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


def check_robust(on_time: float, noise: str, errors: list[FieldError]) -> Robustness | None:
    """The :class:`Robustness` a request's ``robust`` field asks for, or None with
    what is wrong added to ``errors`` (the field named: ``robust.noise``...)."""
    try:
        return Robustness.parse(on_time, noise)
    except InputError as exc:
        errors.append(FieldError(reason=bare_message(exc), column=exc.where or "robust"))
        return None


def robustness_of(params: dict[str, Any]) -> Robustness | None:
    """The :class:`Robustness` a stored job's parameters ask for (None: plain)."""
    value = params.get("robust")
    if not isinstance(value, dict):
        return None
    return Robustness.parse(float(value["on_time"]), str(value.get("noise", "lognormal")))
