"""Weather: multipliers, sources from files, and Open-Meteo over HTTP (fakes only)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from lastmile.exceptions import FormatError, InputError
from lastmile.travel.weather import (
    Condition,
    FileWeather,
    OpenMeteoWeather,
    StaticWeather,
    WeatherPeriod,
    WeatherSeries,
    WeatherTable,
    WeatherUnavailable,
    parse_open_meteo,
    wmo_conditions,
)

DAY = dt.datetime(2024, 3, 5)


def open_meteo_answer(offset_s: int = 3600) -> dict[str, Any]:
    """Four hours shaped like Open-Meteo's /v1/forecast answer."""
    return {
        "latitude": 43.74,
        "longitude": 7.42,
        "utc_offset_seconds": offset_s,
        "timezone": "Europe/Monaco",
        "hourly_units": {"time": "iso8601", "weather_code": "wmo code"},
        "hourly": {
            "time": [
                "2024-03-05T07:00",
                "2024-03-05T08:00",
                "2024-03-05T09:00",
                "2024-03-05T10:00",
            ],
            "weather_code": [0, 63, 3, 45],
            "precipitation": [0.0, 2.1, 9.5, 0.0],
            "snowfall": [0.0, 0.0, 0.0, 0.0],
            "wind_speed_10m": [12.0, 20.0, 61.0, 5.0],
            "visibility": [24000.0, 9000.0, 5000.0, 300.0],
        },
    }


# -- multipliers ------------------------------------------------------------------------


def test_table_defaults_multiply_and_floor() -> None:
    table = WeatherTable()
    assert table.multiplier(()) == 1.0
    assert table.multiplier({Condition.RAIN}) == 0.9
    assert table.multiplier({Condition.ICE}) == 0.5
    assert table.multiplier({Condition.SNOW, Condition.STRONG_WIND}) == pytest.approx(0.63)
    assert WeatherTable(floor=0.4).multiplier({Condition.ICE, Condition.FOG}) == 0.425
    assert WeatherTable(floor=0.45).multiplier({Condition.ICE, Condition.FOG}) == 0.45


def test_table_overrides(tmp_path: Path) -> None:
    assert WeatherTable.from_mapping({"rain": 0.85}).multiplier({Condition.RAIN}) == 0.85
    path = tmp_path / "w.csv"
    path.write_text("condition,multiplier\nheavy rain,0.7\nfog,0.8\n", encoding="utf-8")
    table = WeatherTable.from_csv(path)
    assert table.multiplier({Condition.HEAVY_RAIN}) == 0.7
    assert table.multiplier({Condition.SNOW}) == 0.7  # default kept
    path.write_text("condition,multiplier\nfog,slow\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"w\.csv:2 column multiplier"):
        WeatherTable.from_csv(path)
    with pytest.raises(InputError, match="unknown condition 'hail'"):
        WeatherTable.from_mapping({"hail": 0.5})
    with pytest.raises(InputError, match="multiplier must be"):
        WeatherTable.from_mapping({"rain": 0.0})


# -- series and file sources ---------------------------------------------------------------


def test_series_lookup_and_checks() -> None:
    rain = WeatherPeriod(DAY.replace(hour=8), DAY.replace(hour=10), frozenset({Condition.RAIN}))
    series = WeatherSeries([rain])
    assert series.conditions_at(DAY.replace(hour=9)) == {Condition.RAIN}
    assert series.conditions_at(DAY.replace(hour=10)) == frozenset()  # end is exclusive
    assert series.conditions_at(DAY.replace(hour=7)) == frozenset()
    aware = DAY.replace(hour=9, tzinfo=dt.UTC)
    assert series.conditions_at(aware) == {Condition.RAIN}  # compared on the wall clock
    overlap = WeatherPeriod(DAY.replace(hour=9), DAY.replace(hour=11), frozenset())
    with pytest.raises(InputError, match="overlaps"):
        WeatherSeries([rain, overlap])
    with pytest.raises(InputError, match="not after start"):
        WeatherSeries([WeatherPeriod(DAY, DAY, frozenset())])


def test_static_weather() -> None:
    assert StaticWeather().forecast(start=DAY, end=DAY).conditions_at(DAY) == frozenset()
    snowy = StaticWeather(["snow", "clear"])
    assert snowy.forecast(start=DAY, end=DAY).conditions_at(DAY) == {Condition.SNOW}
    assert "snow" in snowy.description


def test_file_weather_csv(tmp_path: Path) -> None:
    path = tmp_path / "weather.csv"
    path.write_text(
        "start,end,conditions\n"
        "2024-03-05T07:00,2024-03-05T09:00,rain+strong_wind\n"
        "2024-03-05T09:00,2024-03-05T12:00,\n",
        encoding="utf-8",
    )
    series = FileWeather(path).forecast(start=DAY, end=DAY)
    assert series.conditions_at(DAY.replace(hour=8)) == {Condition.RAIN, Condition.STRONG_WIND}
    assert series.conditions_at(DAY.replace(hour=10)) == frozenset()
    path.write_text("start,end,conditions\n2024-03-05T07:00,2024-03-05T09:00,hail\n")
    with pytest.raises(InputError, match=r"weather\.csv:2 column conditions: unknown condition"):
        FileWeather(path).forecast(start=DAY, end=DAY)
    path.write_text("start,end,conditions\nsoon,2024-03-05T09:00,rain\n")
    with pytest.raises(InputError, match=r"weather\.csv:2 column start: expected an ISO"):
        FileWeather(path).forecast(start=DAY, end=DAY)


def test_file_weather_json_periods_and_saved_open_meteo(tmp_path: Path) -> None:
    path = tmp_path / "weather.json"
    periods = [{"start": "2024-03-05T06:00", "end": "2024-03-05T08:00", "conditions": ["fog"]}]
    path.write_text(json.dumps({"periods": periods}), encoding="utf-8")
    series = FileWeather(path).forecast(start=DAY, end=DAY)
    assert series.conditions_at(DAY.replace(hour=7)) == {Condition.FOG}
    path.write_text(json.dumps(open_meteo_answer()), encoding="utf-8")
    series = FileWeather(path).forecast(start=DAY, end=DAY)
    assert series.conditions_at(DAY.replace(hour=8, minute=30)) == {Condition.RAIN}
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(FormatError, match="invalid JSON"):
        FileWeather(path).forecast(start=DAY, end=DAY)
    path.write_text(json.dumps([{"start": "2024-03-05T06:00"}]), encoding="utf-8")
    with pytest.raises(FormatError, match=r"periods\[0\]: a period needs start and end"):
        FileWeather(path).forecast(start=DAY, end=DAY)


# -- Open-Meteo mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, set()),
        (3, set()),
        (45, {Condition.FOG}),
        (48, {Condition.FOG, Condition.ICE}),
        (51, {Condition.DRIZZLE}),
        (61, {Condition.RAIN}),
        (65, {Condition.HEAVY_RAIN}),
        (67, {Condition.ICE}),
        (73, {Condition.SNOW}),
        (75, {Condition.HEAVY_SNOW}),
        (82, {Condition.HEAVY_RAIN}),
        (95, {Condition.THUNDERSTORM}),
        (4242, set()),
    ],
)
def test_wmo_codes(code: int, expected: set[Condition]) -> None:
    assert wmo_conditions(code) == expected


def test_open_meteo_measurements_add_conditions() -> None:
    series = parse_open_meteo(open_meteo_answer())
    tz = dt.timezone(dt.timedelta(hours=1))
    at = [dt.datetime(2024, 3, 5, h, 30, tzinfo=tz) for h in (7, 8, 9, 10)]
    assert series.conditions_at(at[0]) == frozenset()
    assert series.conditions_at(at[1]) == {Condition.RAIN}
    # 9.5 mm/h is heavy rain whatever the code says; 61 km/h wind is strong.
    assert series.conditions_at(at[2]) == {Condition.HEAVY_RAIN, Condition.STRONG_WIND}
    assert series.conditions_at(at[3]) == {Condition.FOG}
    # Aware times convert: 08:30 UTC is 09:30 at +01:00.
    utc = dt.datetime(2024, 3, 5, 8, 30, tzinfo=dt.UTC)
    assert series.conditions_at(utc.astimezone(tz)) == series.conditions_at(at[2])


def test_open_meteo_older_field_names_and_bad_answers() -> None:
    doc = open_meteo_answer()
    hourly = doc["hourly"]
    hourly["weathercode"] = hourly.pop("weather_code")
    hourly["windspeed_10m"] = hourly.pop("wind_speed_10m")
    assert len(parse_open_meteo(doc)) == 4
    with pytest.raises(FormatError, match=r"no hourly\.time"):
        parse_open_meteo({"hourly": {}})
    hourly["precipitation"] = [0.0]
    with pytest.raises(FormatError, match=r"hourly\.precipitation: expected 4 values"):
        parse_open_meteo(doc)


def test_open_meteo_over_a_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=open_meteo_answer())

    source = OpenMeteoWeather(
        latitude=43.74,
        longitude=7.42,
        base_url="https://weather.invalid/",
        transport=httpx.MockTransport(handler),
    )
    series = source.forecast(start=DAY, end=DAY + dt.timedelta(days=1))
    assert len(series) == 4
    (request,) = seen
    assert request.url.path == "/v1/forecast"
    params = request.url.params
    assert params["latitude"] == "43.74" and params["longitude"] == "7.42"
    assert params["start_date"] == "2024-03-05" and params["end_date"] == "2024-03-06"
    assert set(params["hourly"].split(",")) >= {"weather_code", "precipitation", "visibility"}


def test_open_meteo_errors_over_a_mock_transport() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": True, "reason": "Latitude must be in range"})

    source = OpenMeteoWeather(latitude=0, longitude=0, transport=httpx.MockTransport(refuse))
    with pytest.raises(WeatherUnavailable, match="400: Latitude must be in range"):
        source.forecast(start=DAY, end=DAY)

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>")

    source = OpenMeteoWeather(latitude=0, longitude=0, transport=httpx.MockTransport(garbage))
    with pytest.raises(FormatError, match="not JSON"):
        source.forecast(start=DAY, end=DAY)
    with pytest.raises(InputError, match="latitude"):
        OpenMeteoWeather(latitude=91, longitude=0)


# -- a real HTTP round trip to a local fake server -------------------------------------------


class _FakeOpenMeteo(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _FakeOpenMeteo.requests.append(self.path)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path != "/v1/forecast" or "latitude" not in query:
            body, status = {"error": True, "reason": "Not found"}, 404
        else:
            body, status = open_meteo_answer(), 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # keep test output clean


@pytest.fixture
def fake_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _FakeOpenMeteo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_open_meteo_against_a_local_http_server(fake_server: str) -> None:
    _FakeOpenMeteo.requests.clear()
    source = OpenMeteoWeather(latitude=43.74, longitude=7.42, base_url=fake_server)
    series = source.forecast(start=DAY, end=DAY)
    assert series.conditions_at(dt.datetime(2024, 3, 5, 8, 15)) == {Condition.RAIN}
    (path,) = _FakeOpenMeteo.requests
    assert path.startswith("/v1/forecast?") and "timezone=auto" in path
    wrong = OpenMeteoWeather(latitude=43.74, longitude=7.42, base_url=fake_server + "/nope")
    with pytest.raises(WeatherUnavailable, match="404: Not found"):
        wrong.forecast(start=DAY, end=DAY)


def test_open_meteo_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = OpenMeteoWeather(
        latitude=43.74, longitude=7.42, base_url=f"http://127.0.0.1:{port}", timeout_s=2
    )
    with pytest.raises(WeatherUnavailable, match="cannot reach"):
        source.forecast(start=DAY, end=DAY)
