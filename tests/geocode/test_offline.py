"""The offline geocoder: on hand-made addresses, and on central Helsinki's OSM addresses.

OSM data (c) OpenStreetMap contributors, ODbL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lastmile.exceptions import InputError
from lastmile.geocode import (
    Address,
    GeocodeStatus,
    OfflineGeocoder,
    Precision,
    StructuredAddress,
)
from lastmile.geocode.base import distance_m

DATA = Path(__file__).resolve().parents[1] / "data" / "osm"
HELSINKI = DATA / "helsinki.osm.pbf"
MONACO = DATA / "monaco.osm.pbf"


def addr(street: str, number: str, lon: float, lat: float, **kw: str) -> Address:
    return Address(
        street=street,
        housenumber=number,
        postcode=kw.get("postcode", ""),
        city=kw.get("city", ""),
        lon=lon,
        lat=lat,
    )


@pytest.fixture(scope="module")
def town() -> OfflineGeocoder:
    """A hand-made town: one street with numbers 2..10 (even), two same-named streets."""
    base = [
        addr("Rue des Lilas", str(n), 7.0 + n * 1e-4, 43.7, postcode="98000", city="Lilasville")
        for n in (2, 4, 8, 10)
    ]
    base += [
        addr("Rue des Lilas", "12 bis", 7.0012, 43.7, postcode="98000", city="Lilasville"),
        addr("Avenue des Roses", "1", 7.01, 43.71, postcode="98000", city="Lilasville"),
        # Same street name and number in two towns 50 km apart.
        addr("Kirkkokatu", "1", 24.95, 60.17, postcode="00170", city="Helsinki"),
        addr("Kirkkokatu", "1", 25.66, 60.39, postcode="06100", city="Porvoo"),
    ]
    return OfflineGeocoder.from_addresses(base)


def test_exact_address_is_ok(town: OfflineGeocoder) -> None:
    result = town.geocode("Rue des Lilas 4, 98000 Lilasville")
    assert result.status is GeocodeStatus.OK
    assert result.confidence == 1.0
    assert (result.lon, result.lat) == pytest.approx((7.0004, 43.7))
    assert result.location is not None and result.location.lon == result.lon


def test_case_accents_abbreviation_and_order(town: OfflineGeocoder) -> None:
    for text in (
        "RUE DES LILAS 4, 98000 LILASVILLE",
        "4 r. des Lilas, Lilasville",
        "4, Rue des Lilas, 98000 Lilasville",
        "Rue dès Lîlas 4 98000 Lilasville",
        "Av. des Roses 1",
    ):
        result = town.geocode(text)
        assert result.ok, text
        assert result.confidence >= 0.95, text


def test_house_number_suffix_variants(town: OfflineGeocoder) -> None:
    assert town.geocode("Rue des Lilas 12bis").label.startswith("Rue des Lilas 12 bis")
    # "8 A" is not in the data but 8 is: the house, a little less sure.
    result = town.geocode("Rue des Lilas 8 A, Lilasville")
    assert result.ok and result.label.startswith("Rue des Lilas 8,")
    assert result.confidence == pytest.approx(0.9)


def test_small_typo_costs_confidence_not_the_answer(town: OfflineGeocoder) -> None:
    result = town.geocode("Rue des Lilsa 4, 98000 Lilasville")
    assert result.ok
    assert 0.8 <= result.confidence < 1.0
    assert result.lon == pytest.approx(7.0004)


def test_missing_number_is_interpolated_between_neighbours(town: OfflineGeocoder) -> None:
    result = town.geocode("Rue des Lilas 6, Lilasville")
    assert result.candidates[0].precision is Precision.INTERPOLATED
    assert result.candidates[0].lon == pytest.approx(7.0006)
    assert result.confidence == pytest.approx(0.85)


def test_interpolated_label_writes_the_number_as_asked(town: OfflineGeocoder) -> None:
    result = town.geocode("Rue des Lilas 6b, Lilasville")
    assert result.candidates[0].label == "Rue des Lilas 6 B, 98000 Lilasville"


def test_large_index_uses_the_trigram_prefilter(monkeypatch: pytest.MonkeyPatch) -> None:
    from lastmile.geocode import offline

    monkeypatch.setattr(offline, "PREFILTER_ABOVE", 10)
    names = [f"Street {a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "klmnp"]
    geocoder = OfflineGeocoder.from_addresses(
        [addr(name, "1", 7.0 + i * 1e-3, 43.7) for i, name in enumerate(names)]
        + [addr("Chemin des Vignes", "3", 6.9, 43.6)]
    )
    assert geocoder._trigrams is not None  # the pre-filter is in use
    assert geocoder.geocode("Chemin des Vigens 3").ok  # typo, no postcode or city: all streets
    result = geocoder.geocode("Street dek 1")
    assert result.ok and result.label == "Street dek 1"


def test_number_beyond_the_street_is_street_level_and_ambiguous(town: OfflineGeocoder) -> None:
    result = town.geocode("Rue des Lilas 200, Lilasville")
    assert result.status is GeocodeStatus.AMBIGUOUS
    assert result.lon is None and result.lat is None  # never guessed silently
    assert result.candidates[0].precision is Precision.STREET
    assert result.candidates[0].label.startswith("Rue des Lilas")


def test_same_address_in_two_towns(town: OfflineGeocoder) -> None:
    unsure = town.geocode("Kirkkokatu 1")
    assert unsure.status is GeocodeStatus.AMBIGUOUS and unsure.lon is None
    assert {c.label for c in unsure.candidates[:2]} == {
        "Kirkkokatu 1, 00170 Helsinki",
        "Kirkkokatu 1, 06100 Porvoo",
    }
    assert town.geocode("Kirkkokatu 1, Porvoo").lon == pytest.approx(25.66)
    assert town.geocode("Kirkkokatu 1, 00170").lon == pytest.approx(24.95)


def test_not_found(town: OfflineGeocoder) -> None:
    for text in ("Zzyzx Road 1, 12345 Nowhere", "", "   ", ", ,"):
        result = town.geocode(text)
        assert result.status is GeocodeStatus.NOT_FOUND, text
        assert result.candidates == () and result.lon is None


def test_structured_query(town: OfflineGeocoder) -> None:
    query = StructuredAddress(street="rue des lilas", housenumber="10", city="Lilasville")
    assert town.geocode(query).lon == pytest.approx(7.001)
    assert town.geocode(StructuredAddress(street="Rue des Lilas 10")).ok
    assert town.geocode(StructuredAddress()).status is GeocodeStatus.NOT_FOUND


def test_geocode_many_keeps_order_and_limit(town: OfflineGeocoder) -> None:
    queries = ["Rue des Lilas 2", "Kirkkokatu 1", "Rue des Lilas 2"]
    results = town.geocode_many(queries, limit=1)
    assert [r.query for r in results] == queries
    assert [r.status for r in results] == [
        GeocodeStatus.OK,
        GeocodeStatus.AMBIGUOUS,
        GeocodeStatus.OK,
    ]
    assert all(len(r.candidates) <= 1 for r in results)
    with pytest.raises(InputError, match="limit"):
        town.geocode("Rue des Lilas 2", limit=0)


def test_reverse(town: OfflineGeocoder) -> None:
    found = town.reverse(7.00041, 43.70001)
    assert found is not None and (found.street, found.housenumber) == ("Rue des Lilas", "4")
    assert town.reverse(7.5, 43.9) is None
    assert town.reverse(7.0, 43.7, max_distance_m=1.0) is None
    with pytest.raises(InputError):
        town.reverse(float("nan"), 43.7)


def test_threshold_is_configurable() -> None:
    strict = OfflineGeocoder.from_addresses([addr("Mainstreet", "1", 1.0, 1.0)], min_confidence=1.0)
    assert strict.geocode("Mainstreat 1").status is GeocodeStatus.AMBIGUOUS
    assert strict.geocode("Mainstreet 1").ok
    with pytest.raises(InputError, match="min_confidence"):
        OfflineGeocoder.from_addresses([], min_confidence=0.0)


# --------------------------------------------------------------------- real extract


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> OfflineGeocoder:
    cache = tmp_path_factory.mktemp("geocode-cache")
    return OfflineGeocoder.from_pbf(HELSINKI, cache_dir=cache)


def test_helsinki_index_has_its_addresses(helsinki: OfflineGeocoder) -> None:
    assert len(helsinki.addresses) > 550
    streets = {a.street for a in helsinki.addresses}
    assert {"Mikonkatu", "Aleksanterinkatu", "Mannerheimintie"} <= streets


def test_helsinki_typos_and_abbreviations(helsinki: OfflineGeocoder) -> None:
    exact = helsinki.geocode("Mikonkatu 18, 00100 Helsinki")
    assert exact.ok and exact.confidence == 1.0
    assert exact.lon is not None and exact.lat is not None
    for text in (
        "mikonkatu 18 helsinki",
        "Mikonk. 18, 00100 Helsinki",
        "Mikonktau 18, 00100 Helsinki",  # swapped letters
        "Mikonkatu 18, 00100 Helsinky",  # typo in the city
        "18 Mikonkatu, Helsinki",
        "Mikonkatu 18 00100 Helsinki",
        "Mikonkatu 18 A 5, 00100 Helsinki",  # staircase and flat
    ):
        result = helsinki.geocode(text)
        assert result.ok, text
        assert result.lon is not None and result.lat is not None
        assert distance_m(result.lon, result.lat, exact.lon, exact.lat) < 1.0, text


def test_helsinki_swedish_street_name_is_an_alias(helsinki: OfflineGeocoder) -> None:
    # Highway ways carry name:sv; addresses are tagged with the Finnish name.
    result = helsinki.geocode("Mikaelsgatan 18, Helsingfors")
    assert result.ok and result.label.startswith("Mikonkatu 18")


def test_helsinki_reverse_round_trip(helsinki: OfflineGeocoder) -> None:
    for address in helsinki.addresses[::40]:
        found = helsinki.reverse(address.lon, address.lat, max_distance_m=0.5)
        assert found is not None  # (two addresses may share one point)
        assert distance_m(found.lon, found.lat, address.lon, address.lat) < 0.5


@pytest.fixture(scope="module")
def monaco_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("monaco-cache")


@pytest.fixture(scope="module")
def monaco(monaco_cache: Path) -> OfflineGeocoder:
    return OfflineGeocoder.from_pbf(MONACO, cache_dir=monaco_cache)


def test_cache_is_written_and_reused(monaco: OfflineGeocoder, monaco_cache: Path) -> None:
    cached = list((monaco_cache / "geocode").glob("monaco-*.json.gz"))
    assert len(cached) == 1
    again = OfflineGeocoder.from_pbf(MONACO, cache_dir=monaco_cache)
    assert again.addresses == monaco.addresses
    cached[0].write_bytes(b"not gzip")  # a damaged cache is rebuilt, not trusted
    rebuilt = OfflineGeocoder.from_pbf(MONACO, cache_dir=monaco_cache)
    assert rebuilt.addresses == monaco.addresses
    assert rebuilt.geocode("Avenue de la Paix 596").ok


def test_monaco_french_abbreviations_relations_and_ranges(monaco: OfflineGeocoder) -> None:
    # 596 avenue de la Paix carries only a number; its street comes from an
    # associatedStreet relation.
    assert monaco.geocode("596 av. de la Paix").ok
    assert monaco.geocode("Bd du Jardin Exotique 62").ok
    assert monaco.geocode("Rue de la Colle 4 bis").label.startswith("Rue de la Colle 4bis")
    ranged = monaco.geocode("Rue Terrazzani 9")  # tagged "7-9"
    assert ranged.ok and ranged.label.startswith("Rue Terrazzani 7-9")


def test_missing_extract_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such"):
        OfflineGeocoder.from_pbf(tmp_path / "nope.osm.pbf")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not a pbf")
    with pytest.raises(InputError, match=r"bad\.osm\.pbf"):
        OfflineGeocoder.from_pbf(bad, use_cache=False)
