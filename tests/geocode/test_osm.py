"""Reading addresses and named streets out of an OpenStreetMap extract."""

from __future__ import annotations

from pathlib import Path

import pytest

from lastmile.exceptions import FormatError, InputError
from lastmile.geocode.osm import RawAddress, read_extract

# Nodes 1-4 form a closed building way (10), nodes 5-6 a named street (20),
# node 7 an address without a street (named by the associatedStreet relation 30),
# node 8 an address with addr:place only, nodes 11-14 the outer ring of a
# multipolygon building (relation 31) carrying an address.
EXTRACT = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" version="1" lat="60.0" lon="24.0"/>
  <node id="2" version="1" lat="60.0" lon="24.002"/>
  <node id="3" version="1" lat="60.002" lon="24.002"/>
  <node id="4" version="1" lat="60.002" lon="24.0"/>
  <node id="5" version="1" lat="60.01" lon="24.01"/>
  <node id="6" version="1" lat="60.01" lon="24.02"/>
  <node id="7" version="1" lat="60.03" lon="24.03">
    <tag k="addr:housenumber" v="7b"/>
  </node>
  <node id="8" version="1" lat="60.04" lon="24.04">
    <tag k="addr:housenumber" v="1"/>
    <tag k="addr:place" v="Suomenlinna"/>
  </node>
  <node id="9" version="1" lat="60.05" lon="24.05">
    <tag k="addr:housenumber" v="12"/>
    <tag k="addr:street" v="Mannerheimintie"/>
    <tag k="addr:postcode" v="00100"/>
    <tag k="addr:city" v="Helsinki"/>
    <tag k="addr:country" v="FI"/>
  </node>
  <node id="11" version="1" lat="61.0" lon="25.0"/>
  <node id="12" version="1" lat="61.0" lon="25.004"/>
  <node id="13" version="1" lat="61.004" lon="25.004"/>
  <node id="14" version="1" lat="61.004" lon="25.0"/>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="yes"/>
    <tag k="addr:housenumber" v="3"/>
    <tag k="addr:street" v="Aleksanterinkatu"/>
  </way>
  <way id="20" version="1">
    <nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="residential"/>
    <tag k="name" v="Aleksanterinkatu"/>
    <tag k="name:sv" v="Alexandersgatan"/>
    <tag k="name:fi" v="Aleksanterinkatu"/>
    <tag k="old_name" v="Keisarinkatu"/>
  </way>
  <way id="21" version="1">
    <nd ref="5"/><nd ref="7"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="22" version="1">
    <nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="14"/><nd ref="11"/>
  </way>
  <relation id="30" version="1">
    <member type="node" ref="7" role="house"/>
    <member type="way" ref="20" role="street"/>
    <tag k="type" v="associatedStreet"/>
    <tag k="name" v="Aleksanterinkatu"/>
  </relation>
  <relation id="31" version="1">
    <member type="way" ref="22" role="outer"/>
    <tag k="type" v="multipolygon"/>
    <tag k="building" v="yes"/>
    <tag k="addr:housenumber" v="40"/>
    <tag k="addr:street" v="Rantatie"/>
  </relation>
</osm>
"""


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("osm") / "tiny.osm"
    path.write_text(EXTRACT, encoding="utf-8")
    return path


def by_number(addresses: list[RawAddress]) -> dict[str, RawAddress]:
    return {a.housenumber: a for a in addresses}


def test_a_node_address_keeps_every_tag(extract: Path) -> None:
    addresses, _ = read_extract(extract)
    a = by_number(addresses)["12"]
    assert (a.street, a.postcode, a.city, a.country) == (
        "Mannerheimintie",
        "00100",
        "Helsinki",
        "FI",
    )
    assert (a.lon, a.lat) == pytest.approx((24.05, 60.05))
    assert (a.osm_type, a.osm_id) == ("node", 9)


def test_a_building_way_is_at_the_mean_of_its_distinct_nodes(extract: Path) -> None:
    addresses, _ = read_extract(extract)
    a = by_number(addresses)["3"]
    assert (a.osm_type, a.osm_id, a.street) == ("way", 10, "Aleksanterinkatu")
    # the closing node is not counted twice: the centre of the square
    assert (a.lon, a.lat) == pytest.approx((24.001, 60.001))


def test_a_multipolygon_building_is_at_the_mean_of_its_outer_ring(extract: Path) -> None:
    addresses, _ = read_extract(extract)
    a = by_number(addresses)["40"]
    assert (a.osm_type, a.osm_id, a.street) == ("relation", 31, "Rantatie")
    assert a.lon == pytest.approx(25.002, abs=1e-3)
    assert a.lat == pytest.approx(61.002, abs=1e-3)


def test_missing_street_comes_from_the_relation_or_the_place(extract: Path) -> None:
    addresses, _ = read_extract(extract)
    found = by_number(addresses)
    assert found["7b"].street == "Aleksanterinkatu"
    assert found["1"].street == "Suomenlinna"
    assert found["1"].postcode == found["1"].city == ""


def test_only_tagged_objects_become_addresses(extract: Path) -> None:
    addresses, _ = read_extract(extract)
    assert sorted(a.housenumber for a in addresses) == ["1", "12", "3", "40", "7b"]


def test_named_highways_with_aliases_other_than_the_name(extract: Path) -> None:
    _, streets = read_extract(extract)
    (street,) = streets  # the unnamed footway is left out
    assert street.name == "Aleksanterinkatu"
    # name:fi repeats the name and is no alias
    assert street.aliases == ("Alexandersgatan", "Keisarinkatu")
    assert street.points == [pytest.approx((24.01, 60.01)), pytest.approx((24.02, 60.01))]


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_extract(tmp_path / "absent.osm.pbf")


def test_a_file_that_is_not_osm_data_is_a_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(FormatError, match="cannot read as OpenStreetMap data"):
        read_extract(bad)
