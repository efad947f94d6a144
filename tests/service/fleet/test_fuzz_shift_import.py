"""The shift import parser (CSV and JSON) fuzzed: it never raises, and lists
every problem as a :class:`FieldError` (with the row for a row's problem)."""

from __future__ import annotations

import datetime as dt
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.service.errors import FieldError
from lastmile.service.fleet.shift_import import parse_shifts

CSV = (
    "driver,vehicle,start_at,end_at,break_start,break_end,break_min\n"
    "Driver d1,GH-123-JK,07:00,16:00,12:00;09:30,13:30;10:00,30;15\n"
    "d2,,2025-05-02T08:00+02:00,2025-05-02T17:00+02:00,,,\n"
)
SHIFT = {
    "driver": "Driver d1",
    "vehicle": "GH-123-JK",
    "start_at": "07:00",
    "end_at": "16:00",
    "breaks": [{"window_start": "12:00", "window_end": "13:30", "duration_min": 30}],
}
TOKENS = [
    "", "-", "-1", "0", "1e400", "nan", "9" * 25, ",", ";", ":", '"', "\n", "\x00", "é", " ",
    "24:00", "99:99", "2025-05-02T25:00", "2025-13-01T08:00+02:00",
]  # fmt: skip
# Not yet: times at the ends of the calendar ("9999-12-31T23:59:59-14:00") raise
# OverflowError; issue 13 item 4 (dates out of range) fixes them.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four of its tokens (runs between separators) replaced."""
    pieces = re.split(r"([\s,;:]+)", text)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(pieces) - 1))
        pieces[i] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
    return "".join(pieces)


@st.composite
def shift_documents(draw: st.DrawFn) -> str:
    """A JSON list of shifts with one field (or a break's field) replaced."""
    shift = json.loads(json.dumps(SHIFT))
    target = shift if draw(st.booleans()) else shift["breaks"][0]
    target[draw(st.sampled_from(sorted(target)))] = draw(JSON | st.sampled_from(TOKENS))
    return json.dumps([shift])


def _check(errors: list[FieldError]) -> None:
    for error in errors:
        assert isinstance(error, FieldError) and error.reason, error


@FUZZ
@given(data=mutated(CSV) | st.text(max_size=200))
def test_the_shift_csv_parser_lists_problems(data: str) -> None:
    _, errors = parse_shifts(
        data.encode("utf-8", "surrogatepass"),
        fmt="csv",
        timezone="Europe/Paris",
        date=dt.date(2025, 5, 2),
    )
    _check(errors)


@FUZZ
@given(data=shift_documents() | mutated(json.dumps([SHIFT])))
def test_the_shift_json_parser_lists_problems(data: str) -> None:
    _, errors = parse_shifts(
        data.encode("utf-8", "surrogatepass"),
        fmt="json",
        timezone="Europe/Paris",
        date=dt.date(2025, 5, 2),
    )
    _check(errors)
