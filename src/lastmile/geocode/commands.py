"""``lastmile geocode``: addresses in a CSV file to positions.

::

    lastmile geocode orders.csv -o located.csv --network city.osm.pbf [--column address]
    lastmile geocode orders.csv -o located.csv --network city.osm.pbf \\
        --columns street,number,postcode,city
    lastmile geocode orders.csv -o located.csv --online https://nominatim.example.org

The output has every input column, then ``lon``, ``lat``, ``confidence``,
``status`` (ok | ambiguous | not_found | invalid) and ``candidates`` (the
top three labels, ``" | "``-separated, when the status is not ok). Only "ok"
rows get a position: an address that does not match well is never guessed.
A row whose address cannot be read (empty) is "invalid" and named, with
its column, on standard error; the other rows are still geocoded.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from lastmile.exceptions import InputError
from lastmile.geocode.base import Geocoder, GeocodeResult, StructuredAddress
from lastmile.geocode.osm import OSM_ATTRIBUTION

OUTPUT_COLUMNS = ("lon", "lat", "confidence", "status", "candidates")
STRUCTURED_FIELDS = ("street", "housenumber", "postcode", "city")
SHOWN_CANDIDATES = 3


def add_geocode_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``geocode`` command to the main CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "geocode",
        help="add lon/lat to the addresses of a CSV file",
        description=__doc__.split("::")[0].strip().splitlines()[0],
    )
    parser.add_argument("input", type=Path, metavar="INPUT.csv")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.csv")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--network", type=Path, metavar="PBF", help="OpenStreetMap extract to geocode offline"
    )
    source.add_argument("--online", metavar="URL", help="Nominatim server to ask instead")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--column", help="column holding the whole address (default: 'address')")
    which.add_argument(
        "--columns",
        help="columns for street,number,postcode,city in that order (leave a name empty to skip)",
    )
    parser.add_argument(
        "--min-confidence", type=float, default=0.8, help="below this a row is ambiguous"
    )
    parser.add_argument("--cache-dir", type=Path, help="where the parsed extract is cached")
    parser.add_argument(
        "--user-agent", default="lastmile-geocode", help="sent to the Nominatim server"
    )
    parser.add_argument(
        "--min-delay", type=float, default=1.0, help="seconds between Nominatim requests"
    )
    parser.add_argument("--delimiter", default=",", help="CSV delimiter (default ',')")
    parser.set_defaults(func=cmd_geocode)
    return parser


def cmd_geocode(args: argparse.Namespace) -> int:
    """Run the command; exit code 0 whatever the per-row statuses."""
    columns = _parse_columns(args.columns) if args.columns else None
    geocoder: Geocoder
    if args.online:
        from lastmile.geocode.nominatim import NominatimGeocoder

        geocoder = NominatimGeocoder(
            args.online,
            args.user_agent,
            min_delay_s=args.min_delay,
            min_confidence=args.min_confidence,
        )
    else:
        from lastmile.geocode.offline import OfflineGeocoder

        geocoder = OfflineGeocoder.from_pbf(
            args.network, cache_dir=args.cache_dir, min_confidence=args.min_confidence
        )
    counts = geocode_csv(
        args.input,
        args.output,
        geocoder=geocoder,
        column=args.column,
        columns=columns,
        delimiter=args.delimiter,
        log=sys.stderr,
    )
    summary = ", ".join(f"{counts[s]} {s}" for s in ("ok", "ambiguous", "not_found", "invalid"))
    print(f"{args.output}: {sum(counts.values())} rows: {summary}", file=sys.stderr)
    print(OSM_ATTRIBUTION, file=sys.stderr)
    return 0


def _parse_columns(text: str) -> dict[str, str]:
    names = [n.strip() for n in text.split(",")]
    if len(names) > len(STRUCTURED_FIELDS) or not any(names):
        raise InputError(
            f"expected up to 4 names (street,number,postcode,city), got {text!r}",
            where="--columns",
        )
    return {f: n for f, n in zip(STRUCTURED_FIELDS, names, strict=False) if n}


def geocode_csv(
    input_path: Path,
    output_path: Path,
    *,
    geocoder: Geocoder,
    column: str | None = None,
    columns: dict[str, str] | None = None,
    delimiter: str = ",",
    log: TextIO | None = None,
) -> Counter[str]:
    """Geocode every row of a CSV file; returns how many rows got each status.

    ``column`` names a free-text address column (default ``address``);
    ``columns`` maps ``street``/``housenumber``/``postcode``/``city`` to
    column names instead. The output is written all at once, only after
    every row was processed.
    """
    if not input_path.is_file():
        raise InputError("no such file", where=str(input_path))
    try:
        with input_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            header = list(reader.fieldnames or [])
            rows: list[dict[str, str]] = []
            lines: list[int] = []  # where each row ends in the file (quoted cells may span lines)
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read as UTF-8 CSV: {exc}", where=str(input_path)) from exc
    if not header:
        raise InputError("no header row", where=str(input_path))
    clash = [c for c in OUTPUT_COLUMNS if c in header]
    if clash:
        raise InputError(
            f"the input already has column(s) {', '.join(map(repr, clash))}, which the output"
            " adds; rename them",
            where=str(input_path),
        )
    if columns is None:
        column = column or "address"
        needed = [column]
    else:
        needed = list(columns.values())
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(
            f"no column {', '.join(map(repr, missing))}; the header has {', '.join(header)}",
            where=str(input_path),
        )

    queries: list[str | StructuredAddress] = []
    valid: list[int] = []
    invalid: dict[int, str] = {}
    for i, row in enumerate(rows):
        where = f"{input_path} row {i + 1} (line {lines[i]})"
        if columns is None:
            assert column is not None
            text = (row.get(column) or "").strip()
            if not text:
                invalid[i] = f"{where}, column {column!r}: empty address"
                continue
            queries.append(text)
        else:
            values = {f: (row.get(c) or "").strip() for f, c in columns.items()}
            if not any(values.values()):
                names = ", ".join(repr(c) for c in columns.values())
                invalid[i] = f"{where}, columns {names}: empty address"
                continue
            if "street" in columns and not values.get("street"):
                invalid[i] = f"{where}, column {columns['street']!r}: no street"
                continue
            queries.append(StructuredAddress(**values))
        valid.append(i)

    results = geocoder.geocode_many(queries, limit=SHOWN_CANDIDATES)
    by_row: dict[int, GeocodeResult] = dict(zip(valid, results, strict=True))
    counts: Counter[str] = Counter()
    out_rows: list[dict[str, str]] = []
    for i, row in enumerate(rows):
        extra = dict.fromkeys(OUTPUT_COLUMNS, "")
        if i in invalid:
            extra["status"] = "invalid"
            if log is not None:
                print(invalid[i], file=log)
        else:
            result = by_row[i]
            extra["status"] = result.status.value
            extra["confidence"] = f"{result.confidence:.3f}"
            if result.lon is not None and result.lat is not None:
                extra["lon"] = f"{result.lon:.7f}"
                extra["lat"] = f"{result.lat:.7f}"
            else:
                extra["candidates"] = " | ".join(
                    c.label for c in result.candidates[:SHOWN_CANDIDATES]
                )
        counts[extra["status"]] += 1
        out_rows.append({**{k: row.get(k) or "" for k in header}, **extra})
    _write_csv(output_path, [*header, *OUTPUT_COLUMNS], out_rows, delimiter=delimiter)
    return counts


def _write_csv(
    path: Path, header: Sequence[str], rows: list[dict[str, str]], *, delimiter: str
) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("no such directory", where=str(folder))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(header), delimiter=delimiter)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
