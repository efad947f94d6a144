"""``lastmile orders import FILE --org SLUG [--partial]``: the CSV import from the
command line, against the configured database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lastmile.cli import build_parser
from lastmile.service import commands

HEADER = "external_id,address,lon,lat,window_start,window_end,units\n"


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LASTMILE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LASTMILE_GEOCODER", "none")
    assert commands.main(["admin", "create-org", "--name", "Acme", "--slug", "acme"]) == 0
    return tmp_path


def test_the_main_cli_has_the_command() -> None:
    args = build_parser().parse_args(["orders", "import", "o.csv", "--org", "acme", "--partial"])
    assert (args.handler, args.file, args.org, args.partial) == (
        commands.run_orders_import,
        "o.csv",
        "acme",
        True,
    )


def test_import_from_the_command_line(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    path = acme / "orders.csv"
    path.write_text(
        HEADER
        + "K1,,2.35,48.85,09:00,12:00,1\n"
        + "K2,1 rue X,,,,,1\n"  # no position and no geocoder
        + "K3,,2.36,48.86,,,2\n"
    )
    args = ["orders", "import", str(path), "--org", "acme", "--date", "2025-05-02"]

    # All or nothing: exit 1, each error on stderr, nothing written.
    assert commands.main(args) == 1
    out = capsys.readouterr()
    assert "1 row(s) have errors; nothing was imported" in out.err
    assert "row 3, address, no coordinates and no geocoder configured" in out.err
    assert commands.main([*args, "--dry-run", "--partial", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["created"] == 2

    # Partial: the good rows go in, exit 3 says some were left out.
    assert commands.main([*args, "--partial"]) == 3
    out = capsys.readouterr().out
    assert f"{path}: imported 2 new, 0 updated, 0 unchanged (partial)" in out
    assert "row 3 (K2) left out:" in out and "address: no coordinates" in out

    # Again as JSON: the two orders are there and unchanged.
    assert commands.main([*args, "--partial", "--json"]) == 3
    result = json.loads(capsys.readouterr().out)
    assert (result["created"], result["unchanged"]) == (0, 2)
    assert [r["row"] for r in result["rejected"]] == [3]

    # A fixed file imports whole: exit 0.
    path.write_text(HEADER + "K1,,2.35,48.85,09:00,12:00,1\n" + "K2,,2.40,48.80,,,1\n")
    assert commands.main(args) == 0
    assert "imported 1 new, 0 updated, 1 unchanged (all_or_nothing)" in capsys.readouterr().out


def test_command_errors(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    path = acme / "orders.csv"
    path.write_text(HEADER + "K1,,2.35,48.85,,,1\n")
    assert commands.main(["orders", "import", str(path), "--org", "nope"]) == 1
    assert "organisation" in capsys.readouterr().err
    assert commands.main(["orders", "import", str(acme / "missing.csv"), "--org", "acme"]) == 1
    assert "missing.csv" in capsys.readouterr().err
    assert commands.main(["orders", "import", str(path), "--org", "acme", "--date", "x"]) == 1
    assert "--date" in capsys.readouterr().err
