"""CSV parsing on its own: rows, columns and reasons, no database."""

from __future__ import annotations

import datetime as dt

from lastmile.domain import OrderKind
from lastmile.service.orders.csv_import import parse_orders_csv


def parse(text: str, **kw):  # type: ignore[no-untyped-def]
    return parse_orders_csv(text, dimensions=kw.pop("dimensions", ["weight_kg"]), **kw)


def test_a_clean_file() -> None:
    rows, errors = parse(
        "external_id,kind,address,lon,lat,window_start,window_end,service_min,weight_kg,skills,barcodes\n"
        "A1,,1 rue X,2.35,48.85,09:00,12:00,4.5,3,fridge; lift ,111;222\n"
        "A2,shipment,Dest,2.3,48.8,,,,,,\n",
        timezone="Europe/Paris",
        date=dt.date(2025, 5, 2),
    )
    # the shipment has no pickup columns in this header
    assert [(e.row, e.column) for e in errors] == [(3, "pickup_address")]
    assert len(rows) == 1
    order = rows[0].order
    assert order.kind is OrderKind.DELIVERY and order.delivery is not None
    window = order.delivery.time_windows[0]
    assert window.start == dt.datetime(2025, 5, 2, 7, 0, tzinfo=dt.UTC)
    assert order.delivery.service_s == 270 and order.amount == [3]
    assert order.skills == ["fridge", "lift"]
    assert [i.barcode for i in order.items] == ["111", "222"]


def test_every_error_names_row_and_column() -> None:
    text = (
        "external_id,kind,address,lon,lat,window_start,window_end,amount\n"
        "A1,delivery,,2.35,,09:00,,x\n"
        ",teleport,Here,,,,,\n"
        "A1,pickup,Somewhere,500,1,2025-05-02T10:00,2025-05-02T09:00,1\n"
    )
    rows, errors = parse(text)
    assert rows == []
    got = {(e.row, e.column) for e in errors}
    assert {
        (2, "lat"),
        (2, "window_start"),  # a time of day needs the date parameter
        (2, "window_end"),
        (2, "amount"),
        (3, "external_id"),
        (3, "kind"),
        (4, "external_id"),  # duplicate of row 2
        (4, "lon"),
        (4, "window_end"),
    } <= got, got
    reasons = {(e.row, e.column): e.reason for e in errors}
    assert reasons[(4, "external_id")] == "'A1' already appears in row 2"
    assert reasons[(4, "lon")] == "500 is outside [-180, 180]"


def test_header_problems_stop_early() -> None:
    rows, errors = parse("external_id,adress,weight_kg,weight_kg\nA,x,1,2\n")
    assert rows == []
    assert [(e.row, e.column) for e in errors] == [(1, "adress"), (1, "weight_kg")]
    assert "known columns" in errors[0].reason
    assert parse("")[1][0].reason == "the file is empty: expected a header row"
    assert parse("external_id\n")[1][0].reason == "the file has a header but no data rows"
    assert parse("address\nx\n")[1][0].column == "external_id"


def test_bytes_with_bom_and_non_utf8() -> None:
    rows, errors = parse("\ufeffexternal_id,lon,lat\nA,1,2\n".encode())
    assert errors == [] and rows[0].order.external_id == "A"
    _, errors = parse(b"external_id,address\nA,caf\xe9\n")
    assert "not UTF-8" in errors[0].reason


def test_shipments_need_both_stops_and_pickup_columns_only_for_them() -> None:
    text = (
        "external_id,kind,address,lon,lat,pickup_address,pickup_lon,pickup_lat\n"
        "S1,shipment,To,2.3,48.8,From,2.4,48.9\n"
        "D1,delivery,To,2.3,48.8,From,,\n"
    )
    rows, errors = parse(text)
    assert [(e.row, e.column) for e in errors] == [(3, "pickup_address")]
    s1 = rows[0].order
    assert s1.pickup is not None and s1.pickup.address == "From"
    assert s1.delivery is not None and s1.delivery.lon == 2.3


def test_a_coordinate_that_is_not_a_number_is_a_row_error() -> None:
    rows, errors = parse(
        "external_id,address,lon,lat\nB1,Here,24.94,north\nB2,There,east,60.1\nB3,Ok,24.9,60.2\n"
    )
    assert [(e.row, e.column, e.reason) for e in errors] == [
        (2, "lat", "'north' is not a number"),
        (3, "lon", "'east' is not a number"),
    ]
    assert [r.order.external_id for r in rows] == ["B3"]
