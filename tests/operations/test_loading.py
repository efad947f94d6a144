from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError
from lastmile.operations import LoadingItem, LoadingStop, build_loading_list
from lastmile.operations.loading import DEFAULT_COMPARTMENT


def stop(
    seq: int,
    *items: LoadingItem,
    kind: OrderKind = OrderKind.DELIVERY,
    trip: int = 0,
    compartment: str | None = None,
) -> LoadingStop:
    return LoadingStop(
        sequence=seq,
        order_id=f"o{seq}",
        order_kind=kind,
        label=f"#{seq}",
        items=items,
        trip=trip,
        compartment=compartment,
    )


def test_last_stop_is_loaded_first_grouped_by_compartment() -> None:
    stops = [
        stop(1, LoadingItem("A", compartment="chilled"), LoadingItem("B")),
        stop(2, LoadingItem("C", quantity=2)),
        stop(3, LoadingItem("D", compartment="chilled")),
    ]
    lst = build_loading_list(stops, compartments=["chilled"])
    got = [(e.compartment, e.position, e.barcode, e.sequence) for e in lst.entries]
    assert got == [
        ("chilled", 1, "D", 3),
        ("chilled", 2, "A", 1),
        ("general", 1, "C", 2),
        ("general", 2, "B", 1),
    ]
    assert lst.compartments == ("chilled", "general")
    assert [e.quantity for e in lst.for_compartment("general")] == [2, 1]


def test_pickups_and_shipments_are_not_loaded_at_the_depot() -> None:
    stops = [
        stop(1, LoadingItem("P"), kind=OrderKind.PICKUP),
        stop(2, LoadingItem("S"), kind=OrderKind.SHIPMENT),
        stop(3),
    ]
    lst = build_loading_list(stops)
    assert [(e.order_id, e.barcode, e.compartment) for e in lst.entries] == [
        ("o3", None, DEFAULT_COMPARTMENT)
    ]


def test_each_trip_has_its_own_list_and_stop_compartment_is_the_default() -> None:
    stops = [
        stop(1, trip=0),
        stop(2, trip=0),
        stop(4, trip=1, compartment="frozen"),
        stop(5, trip=1),
    ]
    lst = build_loading_list(stops)
    assert lst.trips == (0, 1)
    assert [(e.trip, e.compartment, e.sequence) for e in lst.entries] == [
        (0, "general", 2),
        (0, "general", 1),
        (1, "frozen", 4),
        (1, "general", 5),
    ]


def test_duplicate_sequences_are_rejected() -> None:
    with pytest.raises(InputError, match="stops: stop sequences must be unique"):
        build_loading_list([stop(1), stop(1)])


@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", None])), max_size=15))
def test_positions_count_up_and_sequences_go_down(rows: list[tuple[int, str | None]]) -> None:
    stops = [
        stop(i + 1, LoadingItem(f"x{i}", compartment=c), trip=t) for i, (t, c) in enumerate(rows)
    ]
    lst = build_loading_list(stops, compartments=["b"])
    assert len(lst.entries) == len(stops)
    groups: dict[tuple[int, str], list[int]] = {}
    for e in lst.entries:
        groups.setdefault((e.trip, e.compartment), []).append(e.sequence)
        assert e.position == len(groups[(e.trip, e.compartment)])
    for seqs in groups.values():
        assert seqs == sorted(seqs, reverse=True)
    trips = [e.trip for e in lst.entries]
    assert trips == sorted(trips)
