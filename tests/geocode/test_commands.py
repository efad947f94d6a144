"""``lastmile geocode``: CSV in, CSV out, per-row statuses and errors."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from lastmile.exceptions import InputError
from lastmile.geocode import Address, OfflineGeocoder
from lastmile.geocode.commands import add_geocode_parser, geocode_csv

from .fake_nominatim import fake_nominatim

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "osm" / "helsinki.osm.pbf"


@pytest.fixture(scope="module")
def town() -> OfflineGeocoder:
    return OfflineGeocoder.from_addresses(
        [
            Address("Rue des Lilas", "2", "98000", "Lilasville", 7.0002, 43.7),
            Address("Rue des Lilas", "4", "98000", "Lilasville", 7.0004, 43.7),
            Address("Kirkkokatu", "1", "00170", "Helsinki", 24.95, 60.17),
            Address("Kirkkokatu", "1", "06100", "Porvoo", 25.66, 60.39),
        ]
    )


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lastmile")
    add_geocode_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_free_text_column(tmp_path: Path, town: OfflineGeocoder) -> None:
    src = write(
        tmp_path / "in.csv",
        [
            ["id", "address"],
            ["a", "Rue des Lilas 4, 98000 Lilasville"],
            ["b", "Kirkkokatu 1"],
            ["c", "Nowhere 1"],
            ["d", ""],
        ],
    )
    out = tmp_path / "out.csv"
    messages: list[str] = []

    class Log:
        def write(self, text: str) -> None:
            messages.append(text)

    counts = geocode_csv(src, out, geocoder=town, log=Log())  # type: ignore[arg-type]
    rows = read(out)
    assert list(rows[0]) == ["id", "address", "lon", "lat", "confidence", "status", "candidates"]
    assert [r["status"] for r in rows] == ["ok", "ambiguous", "not_found", "invalid"]
    assert float(rows[0]["lon"]) == pytest.approx(7.0004) and rows[0]["candidates"] == ""
    assert rows[1]["lon"] == rows[1]["lat"] == ""  # no silent guess
    assert set(rows[1]["candidates"].split(" | ")[:2]) == {
        "Kirkkokatu 1, 00170 Helsinki",
        "Kirkkokatu 1, 06100 Porvoo",
    }
    assert counts == {"ok": 1, "ambiguous": 1, "not_found": 1, "invalid": 1}
    assert any("row 4 (line 5), column 'address': empty address" in m for m in messages)


def test_structured_columns(tmp_path: Path, town: OfflineGeocoder) -> None:
    src = write(
        tmp_path / "in.csv",
        [
            ["katu", "nro", "kaupunki"],
            ["Rue des Lilas", "2", "Lilasville"],
            ["", "3", "Lilasville"],
        ],
    )
    out = tmp_path / "out.csv"
    counts = geocode_csv(
        src,
        out,
        geocoder=town,
        columns={"street": "katu", "housenumber": "nro", "city": "kaupunki"},
    )
    rows = read(out)
    assert rows[0]["status"] == "ok" and float(rows[0]["lon"]) == pytest.approx(7.0002)
    assert rows[1]["status"] == "invalid"
    assert counts["invalid"] == 1


def test_input_errors_name_file_and_column(tmp_path: Path, town: OfflineGeocoder) -> None:
    src = write(tmp_path / "in.csv", [["id", "where"], ["1", "x"]])
    with pytest.raises(InputError, match=r"in\.csv.*no column 'address'"):
        geocode_csv(src, tmp_path / "out.csv", geocoder=town)
    clash = write(tmp_path / "clash.csv", [["address", "lat"], ["x", "1"]])
    with pytest.raises(InputError, match="'lat'"):
        geocode_csv(clash, tmp_path / "out.csv", geocoder=town)
    with pytest.raises(InputError, match="no such file"):
        geocode_csv(tmp_path / "missing.csv", tmp_path / "out.csv", geocoder=town)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="no header"):
        geocode_csv(empty, tmp_path / "out.csv", geocoder=town)
    assert not (tmp_path / "out.csv").exists()  # nothing half-written


def test_command_offline_with_extract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(
        tmp_path / "orders.csv",
        [["ref", "street", "no", "zip", "city"], ["1", "Mikonkatu", "18", "00100", "Helsinki"]],
    )
    out = tmp_path / "located.csv"
    code = run(
        [
            "geocode",
            str(src),
            "-o",
            str(out),
            "--network",
            str(HELSINKI),
            "--columns",
            "street,no,zip,city",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    row = read(out)[0]
    assert row["status"] == "ok" and row["confidence"] == "1.000"
    assert 24.9 < float(row["lon"]) < 25.0 and 60.1 < float(row["lat"]) < 60.2
    err = capsys.readouterr().err
    assert "1 ok" in err and "OpenStreetMap contributors" in err


def test_command_online_against_fake(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", [["address"], ["Mikonkatu 18, 00100 Helsinki"]])
    out = tmp_path / "out.csv"
    with fake_nominatim() as server:
        code = run(
            ["geocode", str(src), "-o", str(out), "--online", server.url, "--min-delay", "0"]
        )
    assert code == 0
    assert read(out)[0]["status"] == "ok"
    assert server.log[0].user_agent == "lastmile-geocode"


def test_bad_columns_option(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", [["a"], ["x"]])
    with pytest.raises(InputError, match="--columns"):
        run(
            [
                *("geocode", str(src), "-o", str(tmp_path / "o.csv")),
                *("--network", str(HELSINKI), "--columns", "a,b,c,d,e"),
            ]
        )
