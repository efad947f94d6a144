from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError
from lastmile.operations import InvalidTransition, OrderEvent, OrderStatus, allowed_events
from lastmile.operations import next_status as nxt

S, E, K = OrderStatus, OrderEvent, OrderKind


def run(kind: OrderKind, *events: OrderEvent) -> OrderStatus:
    status = S.PENDING
    for event in events:
        status = nxt(kind=kind, status=status, event=event)
    return status


def test_delivery_happy_path() -> None:
    assert run(K.DELIVERY, E.PLAN, E.DISPATCH, E.START, E.COMPLETE) is S.COMPLETED


def test_shipment_needs_pickup_before_completion() -> None:
    assert run(K.SHIPMENT, E.PLAN, E.DISPATCH, E.START, E.PICK_UP, E.COMPLETE) is S.COMPLETED
    with pytest.raises(
        InvalidTransition, match="cannot complete a shipment order that is en_route"
    ):
        run(K.SHIPMENT, E.PLAN, E.DISPATCH, E.START, E.COMPLETE)


def test_single_stop_orders_have_no_pick_up_half() -> None:
    for kind in (K.DELIVERY, K.PICKUP):
        with pytest.raises(InvalidTransition):
            run(kind, E.PLAN, E.DISPATCH, E.START, E.PICK_UP)


def test_failure_and_retry_return_to_pending() -> None:
    assert run(K.DELIVERY, E.PLAN, E.DISPATCH, E.START, E.FAIL, E.RETRY) is S.PENDING


def test_replanning_and_redispatch_are_allowed() -> None:
    assert run(K.PICKUP, E.PLAN, E.PLAN, E.DISPATCH, E.DISPATCH) is S.DISPATCHED
    assert run(K.PICKUP, E.PLAN, E.DISPATCH, E.UNPLAN) is S.PENDING


def test_error_names_where_and_allowed_events() -> None:
    with pytest.raises(InputError) as info:
        nxt(kind=K.DELIVERY, status=S.COMPLETED, event=E.CANCEL, where="order 'A1'")
    assert str(info.value) == (
        "order 'A1': cannot cancel a delivery order that is completed (allowed: none)"
    )


@given(
    kind=st.sampled_from(list(OrderKind)),
    events=st.lists(st.sampled_from(list(OrderEvent)), max_size=12),
)
def test_random_event_sequences_respect_the_table(
    kind: OrderKind, events: list[OrderEvent]
) -> None:
    status = S.PENDING
    for event in events:
        allowed = allowed_events(kind=kind, status=status)
        if event in allowed:
            new = nxt(kind=kind, status=status, event=event)
            assert not status.is_final
            if new is S.PICKED_UP:
                assert kind is K.SHIPMENT
            status = new
        else:
            with pytest.raises(InvalidTransition):
                nxt(kind=kind, status=status, event=event)
    if status.is_final:
        assert allowed_events(kind=kind, status=status) == ()


def test_every_non_final_status_can_be_left() -> None:
    for kind in OrderKind:
        for status in OrderStatus:
            assert status.is_final == (allowed_events(kind=kind, status=status) == ())
