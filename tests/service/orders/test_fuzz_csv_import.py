"""The order CSV parser fuzzed: it never raises, and lists every problem as a
:class:`FieldError` naming the row and column (or the file, for file-level
problems such as the encoding or the header)."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.service.errors import FieldError
from lastmile.service.orders.csv_import import parse_orders_csv

CSV = (
    "external_id,kind,address,lon,lat,window_start,window_end,service_min,weight_kg,skills,barcodes\n"
    "A1,,1 rue X,2.35,48.85,09:00,12:00,4.5,3,fridge; lift ,111;222\n"
    "A2,pickup,Dest,2.3,48.8,2025-05-02T10:00,2025-05-02T11:00,,,,\n"
    '"A3",delivery,"2, rue Y",2.31,48.81,,,1,2,,\n'
)
TOKENS = [
    "", "-", "-1", "0", "1e400", "nan", "inf", "9" * 25, "1.5", ",", ";", ":", '"', "\n", "\r",
    "\x00", "é", " ", "24:00", "99:99", "2025-05-02T25:00", "9999-12-31T23:59:59-14:00",
    "delivery", "shipment", "pickup_address", "amount",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four of its tokens (runs between separators) replaced."""
    pieces = re.split(r"([\s,;:]+)", text)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(pieces) - 1))
        pieces[i] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
    return "".join(pieces)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated(CSV).map(str.encode) | st.binary(max_size=200) | st.text(max_size=200))
def test_the_order_csv_parser_lists_problems_by_row_and_column(data: bytes | str) -> None:
    rows, errors = parse_orders_csv(
        data, dimensions=["weight_kg"], timezone="Europe/Paris", date=dt.date(2025, 5, 2)
    )
    for error in errors:
        assert isinstance(error, FieldError) and error.reason, error
        if error.row is not None and error.row > 1:  # a data row: the column is named too
            assert error.column or "row" in error.reason or "column" in error.reason, error
    for row in rows:
        assert row.order is not None
