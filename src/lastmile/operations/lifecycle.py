"""The order lifecycle: which status follows which event, and nothing else.

::

    pending ──plan──> planned ──dispatch──> dispatched ──start──> en_route ──complete──> completed
       ^  ^             │  ^                    │  │                 │  └─pick_up─> picked_up ─┘
       │  └───unplan────┘  └─(plan again)       │  └─(dispatch again: moved to another route)
       │  └───────────────────unplan────────────┘                    │          │
       └──retry── failed <────────────────fail── dispatched / en_route / picked_up
    cancel: from pending, planned, dispatched or failed -> cancelled

``pick_up`` is the first half of a shipment (pickup stop done, delivery still
to come); delivery and pickup orders have one stop and finish with
``complete``. ``completed`` and ``cancelled`` are final.
"""

from __future__ import annotations

from enum import StrEnum

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING = "pending"
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    PICKED_UP = "picked_up"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.COMPLETED, OrderStatus.CANCELLED)

    @property
    def is_editable(self) -> bool:
        """Whether the order's contents (stops, amounts, windows) may still change."""
        return self in (OrderStatus.PENDING, OrderStatus.PLANNED, OrderStatus.FAILED)


class OrderEvent(StrEnum):
    """What can happen to an order."""

    PLAN = "plan"
    UNPLAN = "unplan"
    DISPATCH = "dispatch"
    START = "start"
    PICK_UP = "pick_up"
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY = "retry"
    CANCEL = "cancel"


_S = OrderStatus
_E = OrderEvent
_ANY_KIND = frozenset(OrderKind)

#: (status, event) -> (next status, kinds the transition applies to)
_TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], tuple[OrderStatus, frozenset[OrderKind]]] = {
    (_S.PENDING, _E.PLAN): (_S.PLANNED, _ANY_KIND),
    (_S.PLANNED, _E.PLAN): (_S.PLANNED, _ANY_KIND),
    (_S.PLANNED, _E.UNPLAN): (_S.PENDING, _ANY_KIND),
    (_S.DISPATCHED, _E.UNPLAN): (_S.PENDING, _ANY_KIND),
    (_S.PLANNED, _E.DISPATCH): (_S.DISPATCHED, _ANY_KIND),
    (_S.DISPATCHED, _E.DISPATCH): (_S.DISPATCHED, _ANY_KIND),
    (_S.DISPATCHED, _E.START): (_S.EN_ROUTE, _ANY_KIND),
    (_S.EN_ROUTE, _E.PICK_UP): (_S.PICKED_UP, frozenset({OrderKind.SHIPMENT})),
    # Picked up again: goods handed over from a vehicle that broke down.
    (_S.PICKED_UP, _E.PICK_UP): (_S.PICKED_UP, frozenset({OrderKind.SHIPMENT})),
    (_S.EN_ROUTE, _E.COMPLETE): (
        _S.COMPLETED,
        frozenset({OrderKind.DELIVERY, OrderKind.PICKUP}),
    ),
    (_S.PICKED_UP, _E.COMPLETE): (_S.COMPLETED, frozenset({OrderKind.SHIPMENT})),
    (_S.DISPATCHED, _E.FAIL): (_S.FAILED, _ANY_KIND),
    (_S.EN_ROUTE, _E.FAIL): (_S.FAILED, _ANY_KIND),
    (_S.PICKED_UP, _E.FAIL): (_S.FAILED, _ANY_KIND),
    (_S.FAILED, _E.RETRY): (_S.PENDING, _ANY_KIND),
    (_S.PENDING, _E.CANCEL): (_S.CANCELLED, _ANY_KIND),
    (_S.PLANNED, _E.CANCEL): (_S.CANCELLED, _ANY_KIND),
    (_S.DISPATCHED, _E.CANCEL): (_S.CANCELLED, _ANY_KIND),
    (_S.FAILED, _E.CANCEL): (_S.CANCELLED, _ANY_KIND),
}


class InvalidTransition(InputError):
    """An event that cannot happen to an order in its current status."""

    def __init__(self, *, kind: OrderKind, status: OrderStatus, event: OrderEvent, where: str):
        self.kind = kind
        self.status = status
        self.event = event
        allowed = ", ".join(e.value for e in allowed_events(kind=kind, status=status)) or "none"
        super().__init__(
            f"cannot {event.value} a {kind.value} order that is {status.value} "
            f"(allowed: {allowed})",
            where=where,
        )


def next_status(
    *, kind: OrderKind, status: OrderStatus, event: OrderEvent, where: str = "order"
) -> OrderStatus:
    """The status after ``event``; raises :class:`InvalidTransition` if it cannot happen."""
    found = _TRANSITIONS.get((status, event))
    if found is None or kind not in found[1]:
        raise InvalidTransition(kind=kind, status=status, event=event, where=where)
    return found[0]


def allowed_events(*, kind: OrderKind, status: OrderStatus) -> tuple[OrderEvent, ...]:
    """Events that may happen to a ``kind`` order in ``status``, in declaration order."""
    return tuple(
        event
        for event in OrderEvent
        if (found := _TRANSITIONS.get((status, event))) is not None and kind in found[1]
    )
