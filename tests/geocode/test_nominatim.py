"""NominatimGeocoder against a local fake server (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from geopy.adapters import URLLibAdapter

from lastmile.exceptions import InputError
from lastmile.geocode import GeocodeStatus, Precision, StructuredAddress
from lastmile.geocode.nominatim import GeocoderUnavailable, NominatimGeocoder

from .fake_nominatim import FakeNominatim, fake_nominatim


@pytest.fixture(scope="module")
def server() -> Iterator[FakeNominatim]:
    with fake_nominatim() as state:
        yield state


def make(server: FakeNominatim, **kwargs: object) -> NominatimGeocoder:
    options: dict[str, object] = {"min_delay_s": 0.0, "error_wait_s": 0.0, "timeout_s": 5.0}
    options.update(kwargs)
    return NominatimGeocoder(
        server.url,
        "lastmile-tests",
        adapter=URLLibAdapter,
        **options,  # type: ignore[arg-type]
    )


def test_house_found_is_ok_with_position(server: FakeNominatim) -> None:
    result = make(server).geocode("Mikonkatu 18, 00100 Helsinki")
    assert result.status is GeocodeStatus.OK
    assert result.lon == pytest.approx(24.9488) and result.lat == pytest.approx(60.1708)
    assert result.confidence == 1.0
    assert result.label == "Mikonkatu 18, 00100 Helsinki"
    assert server.log[-1].path == "/search"
    assert server.log[-1].params["addressdetails"] == "1"
    assert server.log[-1].user_agent == "lastmile-tests"


def test_structured_query_sends_nominatim_fields(server: FakeNominatim) -> None:
    query = StructuredAddress(street="Rue Grimaldi", housenumber="5", city="Monaco")
    result = make(server).geocode(query)
    assert result.ok and result.candidates[0].precision is Precision.HOUSE
    params = server.log[-1].params
    assert params["street"] == "5 Rue Grimaldi" and params["city"] == "Monaco"
    assert "q" not in params


def test_street_only_answer_is_ambiguous_not_a_position(server: FakeNominatim) -> None:
    result = make(server).geocode("Mikonkatu 99, Helsinki")
    assert result.status is GeocodeStatus.AMBIGUOUS
    assert result.lon is None and result.lat is None and result.location is None
    assert result.candidates and result.candidates[0].precision is Precision.STREET
    assert result.candidates[0].confidence < 0.8


def test_same_address_in_two_towns_is_ambiguous(server: FakeNominatim) -> None:
    result = make(server).geocode("Kirkkokatu 1")
    assert result.status is GeocodeStatus.AMBIGUOUS
    assert result.lon is None
    assert {c.label for c in result.candidates} == {
        "Kirkkokatu 1, Helsinki",
        "Kirkkokatu 1, Tampere",
    }


def test_nothing_found_is_not_found(server: FakeNominatim) -> None:
    result = make(server).geocode("Nowhere Street 1, 99999 Atlantis")
    assert result.status is GeocodeStatus.NOT_FOUND
    assert result.candidates == () and result.lon is None


def test_reverse(server: FakeNominatim) -> None:
    geocoder = make(server)
    address = geocoder.reverse(24.94881, 60.17081)
    assert address is not None
    assert (address.street, address.housenumber, address.city) == ("Mikonkatu", "18", "Helsinki")
    assert server.log[-1].path == "/reverse"
    assert geocoder.reverse(0.0, 0.0) is None  # the server has nothing there
    assert geocoder.reverse(24.9500, 60.1708, max_distance_m=10.0) is None  # too far


def test_rate_limit_spaces_requests(server: FakeNominatim) -> None:
    geocoder = make(server, min_delay_s=0.2)
    before = len(server.log)
    results = geocoder.geocode_many(["Mikonkatu 18", "Rue Grimaldi 5", "Mikonkatu 18"])
    assert [r.status for r in results] == [GeocodeStatus.OK] * 3
    times = [entry.at for entry in server.log[before:]]
    assert len(times) == 2  # the repeated query is asked once
    assert times[1] - times[0] >= 0.19


def test_server_error_is_retried_then_reported(server: FakeNominatim) -> None:
    server.fail_next = 1
    assert make(server, max_retries=1).geocode("Mikonkatu 18").ok  # one retry succeeds
    server.fail_next = 5
    with pytest.raises(GeocoderUnavailable, match="Nominatim"):
        make(server, max_retries=1).geocode("Mikonkatu 18")
    server.fail_next = 0


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(InputError, match="url"):
        NominatimGeocoder("ftp://example.org", "x")
    with pytest.raises(InputError, match="user_agent"):
        NominatimGeocoder("http://127.0.0.1:9", " ")
    with pytest.raises(InputError, match="min_confidence"):
        NominatimGeocoder("http://127.0.0.1:9", "x", min_confidence=0.0)
