"""The geocoder's confidence and matched address are stored on the stop and
returned; uncertain positions are flagged needs_review, listed, and cleared when a
dispatcher confirms or corrects them; re-imports keep what the dispatcher did."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from lastmile.service.geocoding import GeocodeMatch

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]


class ScoredGeocoder:
    """Known addresses with a confidence and the address matched; else not found."""

    def __init__(self) -> None:
        self.known = {
            "1 rue de rivoli, paris": GeocodeMatch(
                2.3522, 48.8566, confidence=1.0, label="Rue de Rivoli 1, 75001 Paris"
            ),
            "12 rue de rivoli, paris": GeocodeMatch(
                2.3541, 48.8570, confidence=0.85, label="Rue de Rivoli 12, 75001 Paris"
            ),
            "7 rue du bac, paris": GeocodeMatch(
                2.3260, 48.8570, confidence=0.62, label="Rue du Bac, 75007 Paris"
            ),
        }
        self.calls: list[str] = []

    def __call__(self, address: str) -> GeocodeMatch | None:
        self.calls.append(address)
        return self.known.get(address.strip().lower())


@pytest.fixture
def scored(app: FastAPI) -> Iterator[ScoredGeocoder]:
    """The app's geocoder, for one test (starlette's State is not monkeypatch-friendly)."""
    geocoder, kept = ScoredGeocoder(), app.state.geocode
    app.state.geocode = geocoder
    try:
        yield geocoder
    finally:
        app.state.geocode = kept


HEADER = "external_id,kind,address,lon,lat,pickup_address,pickup_lon,pickup_lat,units\n"
FILE = (
    HEADER
    + 'G1,,"1 rue de Rivoli, Paris",,,,,,1\n'
    + 'G2,,"12 rue de Rivoli, Paris",,,,,,1\n'
    + 'G3,shipment,,2.30,48.84,"7 rue du Bac, Paris",,,1\n'
)


def upload(tenant: Tenant, text: str, **params: str) -> dict[str, Any]:
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    r = tenant.post("/orders/import", files=files, params={"date": str(DAY)} | params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def refs(orders: list[dict[str, Any]]) -> list[str]:
    return sorted(o["external_id"] for o in orders)


def test_confidence_is_stored_returned_flagged_and_cleared(
    tenant: Tenant, scored: ScoredGeocoder
) -> None:
    result = upload(tenant, FILE)
    ids = dict(zip(["G1", "G2", "G3"], result["order_ids"], strict=True))
    assert result["needs_review"] == [
        {
            "row": 3,
            "order_id": ids["G2"],
            "column": "address",
            "confidence": 0.85,
            "matched_address": "Rue de Rivoli 12, 75001 Paris",
        },
        {
            "row": 4,
            "order_id": ids["G3"],
            "column": "pickup_address",
            "confidence": 0.62,
            "matched_address": "Rue du Bac, 75007 Paris",
        },
    ]
    g1, g2, g3 = (tenant.ok("get", f"/orders/{ids[k]}") for k in ("G1", "G2", "G3"))
    assert g1["delivery"]["geocode"] == {
        "confidence": 1.0,
        "matched_address": "Rue de Rivoli 1, 75001 Paris",
    }
    assert (g1["delivery"]["needs_review"], g1["needs_review"]) == (False, False)
    assert g2["delivery"]["geocode"]["confidence"] == 0.85
    assert (g2["delivery"]["needs_review"], g2["needs_review"]) == (True, True)
    assert (g2["delivery"]["lon"], g2["delivery"]["lat"]) == (2.3541, 48.8570)
    # The shipment's delivery was given by coordinates: no geocode, no flag.
    assert g3["delivery"]["geocode"] is None and g3["delivery"]["needs_review"] is False
    assert g3["pickup"]["needs_review"] is True and g3["needs_review"] is True

    flagged = tenant.ok("get", "/orders", params={"needs_review": "true"})
    assert refs(flagged) == ["G2", "G3"]
    assert refs(tenant.ok("get", "/orders", params={"needs_review": "false"})) == ["G1"]

    # Confirming G2's position as it is clears the flag and keeps what the geocoder said.
    stop = {k: g2["delivery"][k] for k in ("address", "lon", "lat")}
    confirmed = tenant.ok("patch", f"/orders/{ids['G2']}", "dispatcher", json={"delivery": stop})
    assert confirmed["needs_review"] is False and confirmed["delivery"]["needs_review"] is False
    assert confirmed["delivery"]["geocode"]["confidence"] == 0.85
    # Correcting G3's pickup moves it and clears the flag; the position is now given.
    moved = {"address": "7 rue du Bac, Paris", "lon": 2.3255, "lat": 48.8575}
    corrected = tenant.ok("patch", f"/orders/{ids['G3']}", json={"pickup": moved})
    assert corrected["needs_review"] is False
    assert (corrected["pickup"]["lon"], corrected["pickup"]["lat"]) == (2.3255, 48.8575)
    assert corrected["pickup"]["geocode"] is None
    assert tenant.ok("get", "/orders", params={"needs_review": "true"}) == []

    # Re-importing the file asks the geocoder nothing and undoes nothing.
    calls = len(scored.calls)
    again = upload(tenant, FILE)
    assert (again["unchanged"], again["updated"], again["needs_review"]) == (3, 0, [])
    assert len(scored.calls) == calls
    g3 = tenant.ok("get", f"/orders/{ids['G3']}")
    assert (g3["pickup"]["lon"], g3["pickup"]["lat"], g3["needs_review"]) == (
        2.3255,
        48.8575,
        False,
    )
    assert tenant.ok("get", "/orders", params={"needs_review": "true"}) == []

    # A new address is geocoded again (and judged again).
    changed = upload(tenant, FILE.replace('"1 rue de Rivoli', '"7 rue du Bac'))
    assert changed["updated"] == 1 and [r["row"] for r in changed["needs_review"]] == [2]
    assert refs(tenant.ok("get", "/orders", params={"needs_review": "true"})) == ["G1"]


def test_orders_made_through_the_api_are_flagged_until_confirmed(
    tenant: Tenant, scored: ScoredGeocoder
) -> None:
    order = tenant.ok(
        "post", "/orders", json={"delivery": {"address": "12 rue de Rivoli, Paris"}}, status=201
    )
    assert order["needs_review"] is True
    url = f"/orders/{order['id']}"
    # Editing something else, or naming the same address again, keeps the flag and position.
    assert tenant.ok("patch", url, json={"priority": 7})["needs_review"] is True
    same = tenant.ok("patch", url, json={"delivery": {"address": "12 Rue de Rivoli,  Paris"}})
    assert same["needs_review"] is True and same["delivery"]["lon"] == 2.3541
    # A better address clears it through the geocoder.
    better = tenant.ok("patch", url, json={"delivery": {"address": "1 rue de Rivoli, Paris"}})
    assert better["needs_review"] is False
    assert better["delivery"]["geocode"]["matched_address"] == "Rue de Rivoli 1, 75001 Paris"


def test_the_threshold_is_a_setting(app: FastAPI, tenant: Tenant, scored: ScoredGeocoder) -> None:
    settings = app.state.settings
    assert settings.geocode_review_below == 0.9  # the documented default
    app.state.settings = settings.model_copy(update={"geocode_review_below": 0.6})
    try:
        result = upload(tenant, FILE)
    finally:
        app.state.settings = settings
    assert result["needs_review"] == []
    assert tenant.ok("get", "/orders", params={"needs_review": "true"}) == []
