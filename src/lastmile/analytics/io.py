"""Reading day records from JSON files and writing tables as CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from lastmile.domain.day import DayRecord
from lastmile.exceptions import InputError


def read_records(path: str | Path) -> list[DayRecord]:
    """The records in a JSON file: one record (an object) or several (a list).

    A file that cannot be read, is not JSON, or holds a wrong field is an
    :class:`~lastmile.exceptions.InputError` naming the file and the field
    (``day1.json: stops[3].status: ...``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=str(path)) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", where=str(path)
        ) from exc
    items = data if isinstance(data, list) else [data]
    records: list[DayRecord] = []
    for i, item in enumerate(items):
        prefix = f"{path}: [{i}]" if isinstance(data, list) else str(path)
        if not isinstance(item, dict):
            raise InputError(
                f"expected a day record (an object), got {type(item).__name__}", where=prefix
            )
        try:
            records.append(DayRecord.from_dict(item))
        except InputError as exc:
            where = f"{prefix}: {exc.where}" if exc.where else prefix
            message = str(exc).removeprefix(f"{exc.where}: ") if exc.where else str(exc)
            raise InputError(message, where=where) from exc
    return records


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_csv(rows: Iterable[Mapping[str, Any]], path_or_file: str | Path | IO[str]) -> None:
    """Write ``rows`` (dicts, e.g. :meth:`Kpis.as_row`, :func:`stop_table`) as CSV.

    The header is every key in the order first seen (rows may differ: a column
    a row lacks is left empty); ``None`` is written as an empty cell. A path is
    written whole or not at all (a temporary file renamed over it).
    """
    rows = list(rows)
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    if isinstance(path_or_file, str | Path):
        target = Path(path_or_file)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as f:
                _write(rows, list(header), f)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        _write(rows, list(header), path_or_file)


def _write(rows: list[Mapping[str, Any]], header: list[str], f: IO[str]) -> None:
    writer = csv.DictWriter(f, fieldnames=header, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
