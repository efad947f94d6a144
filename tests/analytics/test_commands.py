"""``lastmile report`` end to end on record files written by the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lastmile.cli import main
from lastmile.domain import DayRecord


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_report_prints_and_writes_everything(
    day: DayRecord, fleet: list[DayRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _write(tmp_path / "day.json", day.to_dict())
    two = _write(tmp_path / "fleet.json", [r.to_dict() for r in fleet])
    out = {name: tmp_path / name for name in ("r.html", "k.csv", "s.csv", "l.csv")}
    code = main(
        ["report", str(one), str(two), "--by", "vehicle", "--html", str(out["r.html"]),
         "--csv", str(out["k.csv"]), "--stops-csv", str(out["s.csv"]),
         "--legs-csv", str(out["l.csv"])]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "Key figures" in printed and "Per vehicle" in printed
    assert "on time" in printed and "bike-1" in printed
    kpis = _rows(out["k.csv"])
    assert [k["group"] for k in kpis] == ["all", "bike-1", "van-1"]
    # 6 stops of the first file, 2 x 2 of the second.
    assert kpis[0]["stops_planned"] == "10" and kpis[0]["days"] == "2"
    assert len(_rows(out["s.csv"])) == 10
    assert len(_rows(out["l.csv"])) == 10
    page = out["r.html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Per vehicle" in page


def test_report_of_one_day_prints_its_figures(
    day: DayRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(_write(tmp_path / "d.json", day.to_dict()))]) == 0
    printed = capsys.readouterr().out
    assert "66.7%" in printed and "480 s" in printed and "21,100.00" in printed


def _fails(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_bad_files_are_named_with_their_field(
    day: DayRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = day.to_dict()
    data["stops"][3]["status"] = "lost"
    bad = _write(tmp_path / "bad.json", data)
    err = _fails(["report", str(bad), "--html", str(tmp_path / "r.html")], capsys)
    assert "bad.json: stops[3].status" in err and "'lost'" in err
    assert not (tmp_path / "r.html").exists()

    in_list = _write(tmp_path / "list.json", [day.to_dict(), data])
    assert "list.json: [1]: stops[3].status" in _fails(["report", str(in_list)], capsys)

    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    err = _fails(["report", str(broken)], capsys)
    assert "broken.json" in err and "not JSON" in err

    assert "missing.json" in _fails(["report", str(tmp_path / "missing.json")], capsys)
    old = dict(day.to_dict(), version=99)
    assert "version" in _fails(["report", str(_write(tmp_path / "v.json", old))], capsys)


def test_outputs_are_checked_before_any_work(
    day: DayRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _write(tmp_path / "d.json", day.to_dict())
    nowhere = tmp_path / "no" / "such" / "k.csv"
    assert "--csv" in _fails(["report", str(record), "--csv", str(nowhere)], capsys)
    err = _fails(["report", str(record), "--network", str(tmp_path / "x.osm.pbf")], capsys)
    assert "--network" in err and "--html" in err
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert "--html" in _fails(["report", str(record), "--html", str(folder)], capsys)
