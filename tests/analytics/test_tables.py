"""stop_table, leg_table and write_csv: planned against actual, and CSV round trips."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lastmile.analytics import leg_table, stop_table, summarise, write_csv
from lastmile.analytics.tables import clock
from lastmile.domain import DayRecord


def test_clock() -> None:
    assert clock(8 * 3600 + 65) == "08:01:05"
    assert clock(25 * 3600, with_seconds=False) == "25:00"
    assert clock(-90) == "-00:01:30"
    assert clock(None) is None


def test_stop_table_compares_plan_and_day(day: DayRecord) -> None:
    rows = {r["order_id"]: r for r in stop_table(day)}
    assert len(rows) == 6
    o2 = rows["o2"]
    assert (o2["planned_arrival"], o2["arrival"]) == ("08:40:00", "09:08:20")
    assert o2["arrival_delay_s"] == 9 * 3600 + 500 - (8 * 3600 + 2400)
    assert (o2["lateness_s"], o2["on_time"], o2["promise_kept"]) == (600, "no", "no")
    assert (rows["o1"]["on_time"], rows["o1"]["promise_kept"]) == ("yes", "yes")
    assert rows["o4"]["failure_reason"] == "customer absent"
    assert rows["o5"]["arrival"] is None and rows["o5"]["on_time"] is None
    assert rows["o6"]["attempt"] == 2
    assert rows["o1"]["driver_id"] == "d1" and rows["o1"]["depot_id"] == "north"


def test_leg_table_follows_the_route(day: DayRecord) -> None:
    legs = leg_table(day)
    assert [(leg["from"], leg["to"]) for leg in legs] == [
        ("depot", "o1"), ("o1", "o2"), ("o2", "o3"), ("o3", "o4"), ("o4", "o5"), ("o5", "o6"),
    ]  # fmt: skip
    assert legs[0]["planned_departure"] == "08:00:00"
    # The leg after o1 leaves when o1 was left: 08:20 + 300 s of service.
    assert legs[1]["departure"] == "08:25:00"
    assert all(leg["travel_s"] is None and leg["travel_ratio"] is None for leg in legs)


def test_leg_differences_and_ratio(day: DayRecord) -> None:
    import dataclasses

    first = dataclasses.replace(
        day.stops[0], leg_planned_distance_m=2000, leg_planned_travel_s=400,
        leg_distance_m=2300, leg_travel_s=500,
    )  # fmt: skip
    record = dataclasses.replace(day, stops=(first, *day.stops[1:]))
    leg = leg_table(record)[0]
    assert (leg["distance_diff_m"], leg["travel_diff_s"], leg["travel_ratio"]) == (300, 100, 1.25)


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def test_csv_round_trip_of_kpis(fleet: list[DayRecord], tmp_path: Path) -> None:
    rows = [k.as_row() for k in summarise(fleet) + summarise(fleet, by="vehicle")]
    path = tmp_path / "kpis.csv"
    write_csv(rows, path)
    back = _read(path.read_text(encoding="utf-8"))
    assert [r["group"] for r in back] == ["all", "bike-1", "van-1"]
    for row, read in zip(rows, back, strict=True):
        assert read == {k: _as_text(v) for k, v in row.items()}
        for key, value in row.items():
            if isinstance(value, float):
                assert float(read[key]) == value


def test_csv_round_trip_of_stops_to_a_file_object(day: DayRecord) -> None:
    rows = stop_table(day)
    out = io.StringIO()
    write_csv(rows, out)
    back = _read(out.getvalue())
    assert back == [{k: _as_text(v) for k, v in row.items()} for row in rows]


def test_csv_takes_the_union_of_columns(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    write_csv([{"a": 1}, {"a": 2, "b": None}, {"c": "x"}], path)
    assert path.read_text(encoding="utf-8").splitlines() == ["a,b,c", "1,,", "2,,", ",,x"]
    assert not list(tmp_path.glob(".*.tmp"))
