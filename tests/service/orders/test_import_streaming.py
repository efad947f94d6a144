"""CSV import read as a stream: written in batches in one transaction (all or
nothing still holds across batches), a capped list of row errors, and a quote
left open refused with its row and column instead of swallowing rows."""

from __future__ import annotations

import io
from typing import Any

import pytest

from lastmile.service.orders import importing
from lastmile.service.orders.csv_import import (
    MAX_FIELD_LINES,
    parse_orders_csv,
    read_orders_csv,
)

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]

HEADER = "external_id,lon,lat,customer_name,instructions\n"


def upload(tenant: Tenant, text: str, **params: str) -> Any:
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    return tenant.post("/orders/import", files=files, params={"date": str(DAY)} | params)


def good(i: int) -> str:
    return f"S{i},2.35,48.85,Customer {i},\n"


def refs(tenant: Tenant) -> list[str]:
    return sorted(o["external_id"] for o in tenant.ok("get", "/orders"))


def test_an_unclosed_quote_is_refused_with_its_row_and_column(tenant: Tenant) -> None:
    text = HEADER + good(1) + 'S2,2.35,48.85,"Smith, Bob,\n' + good(3) + good(4)
    r = upload(tenant, text)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert (error["row"], error["column"]) == (3, "customer_name")
    assert "never closed" in error["reason"]
    assert refs(tenant) == []
    # partial imports cannot leave it out either: the rows after it are unreadable
    r = upload(tenant, text, mode="partial")
    assert r.status_code == 422, r.text
    assert refs(tenant) == []


def test_a_quote_closed_rows_later_is_a_row_error_not_a_swallowed_name(tenant: Tenant) -> None:
    text = HEADER + good(1) + 'S2,2.35,48.85,"Smith Bob,\n' + good(3) + 'S4,2.35,48.85,x",\n'
    r = upload(tenant, text, mode="partial")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["created"] == 1
    (rejected,) = result["rejected"]
    assert rejected["row"] == 3
    columns = {e["column"] for e in rejected["errors"]}
    assert "customer_name" in columns
    assert any("left open" in e["reason"] for e in rejected["errors"])


def test_free_text_may_span_a_few_lines() -> None:
    note = "\n".join(f"line {k}" for k in range(3))
    rows, errors = parse_orders_csv(HEADER + f'N1,2.35,48.85,Ann,"{note}"\n', dimensions=[])
    assert errors == []
    assert rows[0].order.instructions == note
    many = "\n".join(f"line {k}" for k in range(MAX_FIELD_LINES + 1))
    _, errors = parse_orders_csv(HEADER + f'N1,2.35,48.85,Ann,"{many}"\n', dimensions=[])
    assert [(e.row, e.column) for e in errors] == [(2, "instructions")]


def test_a_file_object_is_read_and_left_open() -> None:
    stream = io.BytesIO(("\ufeff" + HEADER + good(1) + good(2)).encode())
    rows, errors = parse_orders_csv(stream, dimensions=[])
    assert errors == [] and [r.row for r in rows] == [2, 3]
    assert not stream.closed


def test_rows_are_read_as_the_file_is_read() -> None:
    body = "".join(good(i) for i in range(100_000))
    stream = io.BytesIO((HEADER + body).encode())
    rows = read_orders_csv(stream, dimensions=[])
    first = next(rows)
    assert first.row == 2 and first.order is not None
    assert stream.tell() < 64 * 1024 < len(body)  # a few pieces, not the whole file
    rows.close()
    assert not stream.closed


def test_all_or_nothing_holds_across_batches(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    rows = "".join(good(i) for i in range(1, 8))
    r = upload(tenant, HEADER + rows + "S8,2.35,95,Customer 8,\n")  # latitude out of range
    assert r.status_code == 422, r.text
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(9, "lat")]
    assert refs(tenant) == []  # the batches flushed before were rolled back
    result = tenant.ok("post", "/orders/import", files={"file": ("o.csv", HEADER + rows)})
    assert result["created"] == 7
    assert refs(tenant) == [f"S{i}" for i in range(1, 8)]


def test_partial_import_across_batches(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    text = HEADER + good(1) + "S2,x,48.85,,\n" + good(3) + good(4) + "S5,2.35,,,\n" + good(1)
    result = upload(tenant, text, mode="partial").json()
    assert (result["created"], result["rejected_count"]) == (3, 3)
    assert [r["row"] for r in result["rejected"]] == [3, 6, 7]
    assert result["rejected"][2]["errors"][0]["reason"].startswith("'S1' already appears")
    assert refs(tenant) == ["S1", "S3", "S4"]
    assert len(result["order_ids"]) == 3


def test_row_errors_reported_are_capped(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_REPORTED_ROWS", 3)
    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    bad = "".join(f"B{i},2.35,91,,\n" for i in range(6))
    text = HEADER + good(1) + bad
    result = upload(tenant, text, mode="partial").json()
    assert result["rejected_count"] == 6
    assert [r["row"] for r in result["rejected"]] == [3, 4, 5]
    assert result["created"] == 1
    r = upload(tenant, text.replace("S1,", "S9,"))
    assert r.status_code == 422
    assert r.json()["detail"].startswith("more than 3 rows have errors")
    assert len({e["row"] for e in r.json()["errors"]}) == 3
