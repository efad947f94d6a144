"""OsmAnd / Traccar Client positions fuzzed: a fix is decoded, or refused with
:class:`Unprocessable` listing each bad field by name."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.service.errors import Unprocessable
from lastmile.service.tracking.osmand import decode_osmand

NOW = dt.datetime(2025, 5, 2, 12, 0, tzinfo=dt.UTC)
QUERY = {
    "id": "van-7", "lat": "48.85", "lon": "2.35", "timestamp": "1746180000", "speed": "12",
    "bearing": "90", "altitude": "35", "accuracy": "5", "batt": "80",
}  # fmt: skip
BODY = {
    "device_id": "van-7",
    "location": {
        "timestamp": "2025-05-02T10:00:00Z",
        "uuid": "0b6c",
        "coords": {
            "latitude": 48.85, "longitude": 2.35, "accuracy": 5, "speed": 3.4,
            "heading": 90, "altitude": 35,
        },
        "battery": {"level": 0.8},
    },
}  # fmt: skip
TEXT = st.sampled_from(
    [
        "",
        "-1",
        "0",
        "1e400",
        "-1e400",
        "nan",
        "inf",
        "9" * 25,
        "48.85,2.35",
        "\x00",
        "north",
        "2025-05-02T10:00:00Z",
        "1746180000000",
    ]
) | st.text(max_size=10)
# Year-range timestamps (item 4 of issue 13, "OsmAnd timestamps") are fixed separately;
# numbers here stay below that range so these tests catch everything else now.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _decoded_or_named(params: dict[str, Any], body: Any) -> None:
    try:
        decode_osmand(params, body, now=NOW)
    except Unprocessable as exc:
        assert exc.errors, exc
        assert all(e.column and e.reason for e in exc.errors), exc.errors


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from([*sorted(QUERY), "location", "heading"]), TEXT),
    drop=st.sets(st.sampled_from(sorted(QUERY))),
)
def test_query_string_fixes_decode_or_name_the_field(
    changes: dict[str, str], drop: set[str]
) -> None:
    params = {k: v for k, v in QUERY.items() if k not in drop} | changes
    _decoded_or_named(params, None)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """The JSON body with one to three of its values replaced by arbitrary JSON."""
    body: dict[str, Any] = {"device_id": BODY["device_id"], "location": dict(BODY["location"])}
    location = body["location"]
    location["coords"] = dict(location["coords"])
    location["battery"] = dict(location["battery"])
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([body, location, location["coords"], location["battery"]]))
        if isinstance(target, dict):
            target[draw(st.sampled_from(sorted(target) or ["x"]))] = draw(JSON)
    return body


@FUZZ
@given(body=bodies())
def test_traccar_json_fixes_decode_or_name_the_field(body: dict[str, Any]) -> None:
    _decoded_or_named({}, body)
