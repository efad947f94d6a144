"""Simulated delivery days: generated problems, and the digital twin that drives a plan
through a day (:mod:`lastmile.simulate.twin`, loaded when first asked for: generating
a day does not need it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lastmile.simulate.scenario import CitySpec as CitySpec
from lastmile.simulate.scenario import city_day as city_day
from lastmile.simulate.scenario import random_matrix_problem as random_matrix_problem

if TYPE_CHECKING:
    from lastmile.simulate.twin import Twin as Twin
    from lastmile.simulate.twin import TwinConfig as TwinConfig
    from lastmile.simulate.twin import TwinEvent as TwinEvent
    from lastmile.simulate.twin import TwinResult as TwinResult
    from lastmile.simulate.twin import simulate_day as simulate_day

_TWIN = ("Twin", "TwinConfig", "TwinEvent", "TwinResult", "simulate_day")

__all__ = [
    "CitySpec",
    "Twin",
    "TwinConfig",
    "TwinEvent",
    "TwinResult",
    "city_day",
    "random_matrix_problem",
    "simulate_day",
]


def __getattr__(name: str) -> Any:
    if name in _TWIN:
        from lastmile.simulate import twin

        return getattr(twin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
