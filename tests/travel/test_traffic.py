"""Traffic profiles: defaults, look-ups, CSV in and out, and errors that name the row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.exceptions import FormatError, InputError
from lastmile.travel.traffic import (
    DEFAULT_ROAD_CLASSES,
    TrafficProfile,
    day_type_of,
    parse_clock,
)

H = 3600


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "traffic.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_has_weekday_rush_hours_and_a_calm_night() -> None:
    p = TrafficProfile.default()
    assert p.factors.shape == (2, len(DEFAULT_ROAD_CLASSES), 96)
    assert p.factor("weekday", "primary", 8 * H) == pytest.approx(0.55, abs=0.01)
    assert p.factor("weekday", "primary", 17.5 * H) == pytest.approx(0.6, abs=0.01)
    assert p.factor("weekday", "primary", 3 * H) > 0.98
    # Arterials suffer more than residential streets, weekends less than weekdays.
    assert p.factor("weekday", "residential", 8 * H) > p.factor("weekday", "primary", 8 * H)
    assert p.factor("weekend", "primary", 8 * H) > p.factor("weekday", "primary", 8 * H)
    assert p.factor("weekend", "primary", 13 * H) < 1.0
    assert ((p.factors > 0) & (p.factors <= 1)).all()


def test_lookups_wrap_the_day_and_fall_back_to_other() -> None:
    p = TrafficProfile.default()
    assert p.factor("weekday", "primary", 8 * H + 86_400) == p.factor("weekday", "primary", 8 * H)
    assert p.factor("weekday", "footway_of_mars", 8 * H) == p.factor("weekday", "other", 8 * H)
    assert p.factor("weekday", "primary_link", 8 * H) == p.factor("weekday", "primary", 8 * H)
    with pytest.raises(InputError, match="day_type"):
        p.factor("holiday", "primary", 0)


def test_day_types() -> None:
    assert day_type_of(dt.date(2024, 3, 5)) == "weekday"  # a Tuesday
    assert day_type_of(dt.date(2024, 3, 9)) == "weekend"  # a Saturday
    assert day_type_of(dt.date(2024, 5, 1), holidays=[dt.date(2024, 5, 1)]) == "weekend"


def test_from_csv_sets_slices_with_wildcards_and_later_rows_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "day_type,road_class,start,end,factor\n"
        "*,*,07:00,10:00,0.8\n"
        "weekday,primary,08:00,09:00,0.5\n"
        "weekend,tram_road,00:00,24:00,0.9\n",
    )
    p = TrafficProfile.from_csv(path)
    assert p.factor("weekday", "primary", 8.5 * H) == 0.5
    assert p.factor("weekday", "primary", 7 * H) == 0.8
    assert p.factor("weekday", "primary", 9.99 * H) == 0.8
    assert p.factor("weekday", "primary", 10 * H) == 1.0  # end is exclusive
    assert p.factor("weekend", "residential", 8 * H) == 0.8
    assert "tram_road" in p.road_classes
    assert p.factor("weekend", "tram_road", 23 * H) == 0.9
    assert p.factor("weekday", "tram_road", 12 * H) == 1.0


def test_from_csv_patches_a_base_profile(tmp_path: Path) -> None:
    path = write(
        tmp_path, "day_type,road_class,start,end,factor\nweekday,primary,08:00,08:15,0.3\n"
    )
    base = TrafficProfile.default()
    p = TrafficProfile.from_csv(path, base=base)
    assert p.factor("weekday", "primary", 8 * H) == 0.3
    assert p.factor("weekday", "primary", 8.25 * H) == base.factor("weekday", "primary", 8.25 * H)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("weekday,primary,08:00,09:00,fast", r"traffic.csv:2 column factor: not a number"),
        ("weekday,primary,08:00,09:00,0", r"traffic.csv:2 column factor: factor must be"),
        ("weekday,primary,08:00,09:00,3.5", r"traffic.csv:2 column factor"),
        ("weekday,primary,08:10,09:00,0.5", r"traffic.csv:2 column start: 08:10 is not on"),
        ("weekday,primary,09:00,08:00,0.5", r"traffic.csv:2: start 09:00 is not before"),
        ("weekday,primary,8h,09:00,0.5", r"traffic.csv:2 column start: expected HH:MM"),
        ("monday,primary,08:00,09:00,0.5", r"traffic.csv:2: unknown day_type 'monday'"),
        ("weekday,,08:00,09:00,0.5", r"traffic.csv:2 column road_class: empty"),
    ],
)
def test_from_csv_errors_name_row_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, f"day_type,road_class,start,end,factor\n{row}\n")
    with pytest.raises(InputError, match=message):
        TrafficProfile.from_csv(path)


def test_from_csv_needs_its_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "day,class,start,end,factor\nweekday,primary,08:00,09:00,0.5\n")
    with pytest.raises(FormatError, match="missing column"):
        TrafficProfile.from_csv(path)
    with pytest.raises(InputError, match="cannot read"):
        TrafficProfile.from_csv(tmp_path / "nope.csv")


def test_constructor_checks() -> None:
    with pytest.raises(InputError, match="slice_s"):
        TrafficProfile.free_flow(slice_s=7 * 60)
    bad = np.ones((2, 1, 24))
    bad[1, 0, 8] = -1
    with pytest.raises(InputError, match=r"factors\[weekend, primary, 08:00\]"):
        TrafficProfile(road_classes=["primary"], factors=bad, slice_s=3600)
    with pytest.raises(InputError, match="shape"):
        TrafficProfile(road_classes=["primary"], factors=np.ones((2, 1, 5)), slice_s=3600)


def test_clock_parsing() -> None:
    assert parse_clock("24:00", where="x") == 86_400
    assert parse_clock("07:30:15", where="x") == 7 * H + 30 * 60 + 15
    with pytest.raises(InputError):
        parse_clock("25:00", where="x")
    with pytest.raises(InputError):
        parse_clock("24:01", where="x")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from([0.4, 0.55, 0.8, 1.0, 1.2]), min_size=2 * 2 * 24, max_size=2 * 2 * 24)
)
def test_csv_round_trip(tmp_path_factory: pytest.TempPathFactory, values: list[float]) -> None:
    profile = TrafficProfile(
        road_classes=["primary", "other"],
        factors=np.array(values).reshape(2, 2, 24),
        slice_s=3600,
    )
    path = tmp_path_factory.mktemp("rt") / "p.csv"
    profile.to_csv(path)
    base = TrafficProfile.free_flow(road_classes=["primary"], slice_s=3600)
    assert TrafficProfile.from_csv(path, slice_s=3600, base=base) == profile


def test_default_round_trips_through_csv(tmp_path: Path) -> None:
    p = TrafficProfile.default()
    p.to_csv(tmp_path / "d.csv")
    assert TrafficProfile.from_csv(tmp_path / "d.csv") == p
