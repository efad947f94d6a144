"""Field readers name the source and path of every error; ids are written as VROOM does."""

from __future__ import annotations

import pytest

from lastmile.domain import HORIZON, TimeWindow
from lastmile.exceptions import FormatError, InputError
from lastmile.formats.vroom.fields import Fields, inner_message, int_ids, json_id
from lastmile.planning.engines.vroom import VROOM_MAX_TIME


def test_errors_name_the_source_and_the_path() -> None:
    f = Fields("day.json")
    with pytest.raises(FormatError, match=r"day\.json: jobs\[0\]\.id: must be an integer"):
        f.integer("7", "jobs[0].id")
    with pytest.raises(FormatError, match="must be >= 0, got -1"):
        f.integer(-1, "x")
    with pytest.raises(FormatError, match="must be an integer, got a boolean"):
        f.integer(True, "x")
    with pytest.raises(InputError, match=r"^vehicles\[0\]\.colour: unknown key") as exc:
        Fields("").keys({"colour": 1}, frozenset({"id"}), "vehicles[0]")
    assert not isinstance(exc.value, FormatError)


def test_windows_and_coordinates_are_checked() -> None:
    f = Fields("")
    assert f.window([5, VROOM_MAX_TIME], "tw") == TimeWindow(5, HORIZON)
    with pytest.raises(FormatError, match="start 9 is after end 3"):
        f.window([9, 3], "tw")
    with pytest.raises(InputError, match="overlap"):
        f.windows([[0, 10], [5, 20]], "tws")
    with pytest.raises(FormatError, match="latitude must be in"):
        f.coords([4.9, 95.0], "location")
    assert f.skills([3, 1], "skills") == frozenset({"1", "3"})


def test_inner_message_drops_the_location_prefix() -> None:
    assert inner_message(InputError("bad", where="here")) == "bad"
    assert inner_message(InputError("bad")) == "bad"


def test_ids_are_integers_when_they_are_numbers() -> None:
    assert json_id("12") == 12
    assert json_id("012") == "012"
    assert json_id("van-1") == "van-1"
    assert int_ids(["4", "2"]) == [4, 2]
    assert int_ids(["4", "4"]) == [1, 2]
    assert int_ids(["a", "2"]) == [1, 2]
