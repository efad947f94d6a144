"""The small types of a live plan: vehicle states and refusals."""

from __future__ import annotations

import pytest
from live_cases import J, P

from lastmile.exceptions import InputError
from lastmile.planning.live import LiveChangeRejected, VehicleState
from lastmile.planning.validate import InvalidPlan, Violation


def test_a_vehicle_state_keeps_its_stops_as_frozen_sets() -> None:
    state = VehicleState("v0", 1, 100, completed={("a", J)}, failed=[("b", P)])  # type: ignore[arg-type]
    assert state.completed == frozenset({("a", J)})
    assert state.failed == frozenset({("b", P)})
    assert isinstance(state.completed, frozenset) and isinstance(state.failed, frozenset)
    assert state.travel_s is None and state.distance_m is None


def test_a_stop_both_completed_and_failed_is_refused() -> None:
    with pytest.raises(InputError, match="both completed and failed") as info:
        VehicleState("v0", 1, 100, completed=frozenset({("a", J)}), failed=frozenset({("a", J)}))
    assert "vehicle state 'v0'" in str(info.value)


def test_a_refused_change_says_what_was_refused() -> None:
    refused = LiveChangeRejected("inserting order 'u'", (Violation("duplicate", "served twice"),))
    assert isinstance(refused, InvalidPlan)
    assert str(refused).startswith("inserting order 'u': ")
    assert "served twice" in str(refused)
