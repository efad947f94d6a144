"""What customers are told about when their delivery comes: the start of service,
as a range inside their window or "running late", on the tracking link and in
messages, in the organisation's time zone; late ones alert the dispatcher."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.operations.notify import NotifyEvent, render
from lastmile.service.notifications.delivery import message_facts
from lastmile.service.notifications.models import CustomerNotification, WebhookDelivery
from lastmile.service.notifications.outbox import scan_delays
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order
from lastmile.service.plans.models import Visit

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]


def utc(h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=dt.UTC)


SLOT = [{"start": utc(11).isoformat(), "end": utc(14).isoformat()}]  # 13:00-16:00 in Paris


@pytest.fixture(scope="module")
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def _set(app: FastAPI, visit_id: str, order_id: str, eta: dt.datetime) -> None:
    with app.state.sessionmaker() as session:
        visit = session.get(Visit, uuid.UUID(visit_id))
        order = session.get(Order, uuid.UUID(order_id))
        assert visit is not None and order is not None
        visit.eta_at = eta
        order.delivery_windows = SLOT
        session.commit()


def _on_the_way_text(app: FastAPI, order_id: str) -> str:
    with app.state.sessionmaker() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order is not None
        note = CustomerNotification(
            org_id=order.org_id, order_id=order.id, event="on_the_way", detail={}
        )
        facts = message_facts(session, note=note, order=order, settings=NotifySettings())
        session.rollback()
    event = NotifyEvent.DELAY if facts.late else NotifyEvent.ON_THE_WAY
    return render(event, facts).text


def test_customers_are_told_the_start_of_service(
    app: FastAPI, client: TestClient, world: World
) -> None:
    t = world.tenant
    route = world.plan["routes"][0]
    driver = "d1" if route["driver_id"] == str(t.driver_ids["d1"]) else "d2"
    t.ok("post", f"/routes/{route['id']}/start", driver)
    visit = next(v for v in route["visits"] if v["order_id"])
    order_id = visit["order_id"]
    token = t.ok("post", f"/orders/{order_id}/tracking-links", status=201)["token"]
    hook = t.ok(
        "post",
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "events": ["tracking.delay"]},
        status=201,
    )

    def track() -> dict[str, Any]:
        body: dict[str, Any] = client.get(f"/track/{token}").json()
        return body

    # The reported case: a 13:00-16:00 slot and a van predicted at 09:05. Service
    # starts when the slot opens; the range told is inside the slot.
    _set(app, visit["id"], order_id, utc(7, 5))
    early = track()
    assert early["timezone"] == "Europe/Paris" and early["running_late"] is False
    assert early["eta_at"] == f"{DAY}T13:00:00+02:00"
    assert (early["expected_from"], early["expected_to"]) == (
        f"{DAY}T13:00:00+02:00",
        f"{DAY}T13:10:00+02:00",
    )
    assert early["message"] == "Expected Friday 2 May between 13:00 and 13:10 (UTC+02:00)"
    assert early["time_windows"] == [
        {"start": f"{DAY}T13:00:00+02:00", "end": f"{DAY}T16:00:00+02:00"}
    ]
    text = _on_the_way_text(app, order_id)
    assert "between 13:00 and 13:10 (UTC+02:00)" in text and "09:05" not in text

    # Predicted inside the slot: around it, inside it.
    _set(app, visit["id"], order_id, utc(12, 2))
    inside = track()
    assert inside["running_late"] is False and inside["eta_at"] == f"{DAY}T14:02:00+02:00"
    assert (inside["expected_from"], inside["expected_to"]) == (
        f"{DAY}T13:50:00+02:00",
        f"{DAY}T14:15:00+02:00",
    )
    assert "between 13:50 and 14:15 (UTC+02:00)" in _on_the_way_text(app, order_id)

    # After the slot: running late, and the dispatcher is alerted.
    _set(app, visit["id"], order_id, utc(14, 22))
    late = track()
    assert late["running_late"] is True
    assert late["message"].startswith("Running late, expected around 16:20 (UTC+02:00)")
    late_text = _on_the_way_text(app, order_id)
    assert "running late" in late_text and "around 16:20 (UTC+02:00)" in late_text
    assert "instead of Friday 2 May between 13:00 and 16:00 (UTC+02:00)" in late_text
    with app.state.sessionmaker() as session:
        assert scan_delays(session, settings=NotifySettings(), now=utc(13)) >= 1
        (delay,) = session.scalars(
            select(CustomerNotification).where(
                CustomerNotification.order_id == uuid.UUID(order_id),
                CustomerNotification.event == "delay",
            )
        ).all()
        assert delay.detail["expected_start"] == utc(14, 22).isoformat()
        alerts = session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == uuid.UUID(hook["id"]),
                WebhookDelivery.event_type == "tracking.delay",
            )
        ).all()
        assert [a.payload["data"]["order_id"] for a in alerts] == [order_id]
        assert alerts[0].payload["data"]["window_end"] == utc(14).isoformat()


def test_an_early_van_is_not_a_delay(app: FastAPI, world: World) -> None:
    t = world.tenant
    route = world.plan["routes"][1]
    driver = "d1" if route["driver_id"] == str(t.driver_ids["d1"]) else "d2"
    t.ok("post", f"/routes/{route['id']}/start", driver)
    visit = next(v for v in route["visits"] if v["order_id"])
    _set(app, visit["id"], visit["order_id"], utc(7, 5))  # hours before its 13:00 slot
    with app.state.sessionmaker() as session:
        scan_delays(session, settings=NotifySettings(), now=utc(6))
        delays = session.scalars(
            select(CustomerNotification).where(
                CustomerNotification.order_id == uuid.UUID(visit["order_id"]),
                CustomerNotification.event == "delay",
            )
        ).all()
    assert delays == []
