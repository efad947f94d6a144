"""The traffic and weather file readers fuzzed.

Valid files with a few tokens replaced (separators, quotes, huge or
non-finite numbers, NUL, other text), plain random text, and Open-Meteo
answers with values swapped for arbitrary JSON: each is read, or refused with
:class:`InputError` naming the file (and the row and column when a row is at
fault); nothing else escapes.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.exceptions import InputError
from lastmile.travel.traffic import TrafficProfile
from lastmile.travel.weather import WeatherTable, parse_open_meteo

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKENS = [
    "", "-", "-1", "0", "1e309", "-1e309", "nan", "inf", "9" * 25, "1.5", ",", ";", ":", '"',
    "\n", "\r", "\x00", "é", " ", "*", "24:00", "99:99", "23:59", "00:07", "weekday", "fog",
]  # fmt: skip
TRAFFIC = (
    "day_type,road_class,start,end,factor\n"
    "*,*,07:00,10:00,0.8\n"
    "weekday,primary,08:00,09:00,0.5\n"
    "weekend,tram_road,00:00,24:00,0.9\n"
)
WEATHER = "condition,multiplier\nheavy rain,0.7\nfog,0.8\n"
OPEN_METEO: dict[str, Any] = {
    "utc_offset_seconds": 3600,
    "hourly": {
        "time": ["2024-03-05T07:00", "2024-03-05T08:00"],
        "weather_code": [0, 63],
        "precipitation": [0.0, 2.1],
        "snowfall": [0.0, 0.0],
        "wind_speed_10m": [12.0, 61.0],
        "visibility": [24000.0, 300.0],
    },
}


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four of its tokens (runs between separators) replaced."""
    pieces = re.split(r"([\s,;:]+)", text)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(pieces) - 1))
        pieces[i] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
    return "".join(pieces)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(workdir: Path, name: str, text: str) -> Path:
    path = workdir / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(text=mutated(TRAFFIC) | st.text(max_size=120))
def test_traffic_csv_reads_or_says_where(workdir: Path, text: str) -> None:
    path = _write(workdir, "traffic.csv", text)
    try:
        TrafficProfile.from_csv(path)
    except InputError as exc:
        assert path.name in exc.where, repr(exc)


@FUZZ
@given(text=mutated(WEATHER) | st.text(max_size=120))
def test_weather_csv_reads_or_says_where(workdir: Path, text: str) -> None:
    path = _write(workdir, "weather.csv", text)
    try:
        WeatherTable.from_csv(path)
    except InputError as exc:
        assert path.name in exc.where, repr(exc)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def open_meteo(draw: st.DrawFn) -> dict[str, Any]:
    """The answer with one to three values (a field, a column or one cell) replaced."""
    doc = copy.deepcopy(OPEN_METEO)
    hourly = doc["hourly"]
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["utc_offset_seconds", "hourly", *hourly]))
        column = hourly.get(where) if isinstance(hourly, dict) else None
        if isinstance(column, list) and len(column) == 2 and draw(st.booleans()):
            column[draw(st.integers(0, 1))] = draw(JSON)
        elif isinstance(hourly, dict) and where in hourly:
            hourly[where] = draw(JSON)
        else:
            doc[where] = draw(JSON)
    return doc


@FUZZ
@given(doc=open_meteo())
def test_open_meteo_answers_read_or_say_where(doc: dict[str, Any]) -> None:
    try:
        parse_open_meteo(doc, source="fuzz")
    except InputError as exc:
        assert exc.where, repr(exc)  # "open-meteo <field>"
