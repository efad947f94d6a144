"""What a tracking link tells a customer about the driver and the proof: the
driver's position only once at most ``DRIVER_SHOWN_WITHIN`` stops remain before
theirs, and of the proof only its time, recipient and whether a photo and a
signature exist. The route is written straight into the tables so the rule is
tested without a solver."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.orders.customer import DRIVER_SHOWN_WITHIN
from lastmile.service.orders.models import Order
from lastmile.service.plans.models import Plan, Route, Visit
from lastmile.service.pod.models import Proof
from lastmile.service.tracking.models import RouteProgress, StopEvent

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]

STOPS = 6
DRIVER_AT = (2.3333, 48.8444)


def at(h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=dt.UTC)


def seed_route(app: FastAPI, tenant: Tenant) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """A started route of ``STOPS`` orders with the driver's last fix; the route id
    and the orders in visiting order."""
    depot = tenant.depot()
    vtype = tenant.vehicle_type()
    vehicle = tenant.vehicle(vtype["id"], depot["id"])
    orders = [tenant.order(i) for i in range(STOPS)]
    with app.state.sessionmaker() as session:
        plan = Plan(org_id=tenant.org_id, status="dispatched", epoch=at(0), dispatched_at=at(6))
        session.add(plan)
        session.flush()
        route = Route(
            org_id=tenant.org_id,
            plan_id=plan.id,
            vehicle_id=uuid.UUID(vehicle["id"]),
            driver_id=tenant.driver_ids["d1"],
            status="started",
            start_at=at(7),
            end_at=at(17),
            dispatched_at=at(6),
            started_at=at(7),
        )
        session.add(route)
        session.flush()
        for sequence, order in enumerate(orders, start=1):
            when = at(8 + sequence)
            session.add(
                Visit(
                    org_id=tenant.org_id,
                    route_id=route.id,
                    sequence=sequence,
                    kind="job",
                    order_id=uuid.UUID(order["id"]),
                    lon=order["delivery"]["lon"],
                    lat=order["delivery"]["lat"],
                    arrival_at=when,
                    start_at=when,
                    departure_at=when,
                    eta_at=when,
                )
            )
            row = session.get(Order, uuid.UUID(order["id"]))
            assert row is not None
            row.status = "en_route"
        session.add(
            RouteProgress(
                org_id=tenant.org_id,
                route_id=route.id,
                last_fix_at=at(9, 30),
                last_lon=DRIVER_AT[0],
                last_lat=DRIVER_AT[1],
            )
        )
        session.commit()
        return route.id, orders


def finish(
    app: FastAPI, tenant: Tenant, route_id: uuid.UUID, order: dict[str, Any], n: int
) -> None:
    """The driver delivered the ``n``-th stop (1-based)."""
    with app.state.sessionmaker() as session:
        session.add(
            StopEvent(
                org_id=tenant.org_id,
                source="test",
                event_id=f"e{n}",
                route_id=route_id,
                order_id=uuid.UUID(order["id"]),
                sequence=n,
                kind="delivered",
                recorded_at=at(9 + n),
                received_at=at(9 + n),
            )
        )
        row = session.get(Order, uuid.UUID(order["id"]))
        assert row is not None
        row.status = "completed"
        session.commit()


def test_the_driver_shows_only_within_the_last_stops_before_theirs(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    route_id, orders = seed_route(app, tenant)
    last = orders[-1]
    token = tenant.ok("post", f"/orders/{last['id']}/tracking-links", status=201)["token"]
    browser = {"Accept": "text/html"}

    view = client.get(f"/track/{token}").json()
    assert view["stops_before"] == STOPS - 1
    assert view["driver"] is None and view["destination"] is None
    page = client.get(f"/track/{token}", headers=browser).text
    assert str(DRIVER_AT[0]) not in page and str(DRIVER_AT[1]) not in page

    for n, order in enumerate(orders[:-1], start=1):
        finish(app, tenant, route_id, order, n)
        view = client.get(f"/track/{token}").json()
        remaining = STOPS - 1 - n
        assert view["stops_before"] == remaining
        if remaining > DRIVER_SHOWN_WITHIN:
            assert view["driver"] is None and view["destination"] is None, n
        else:
            assert (view["driver"]["lon"], view["driver"]["lat"]) == DRIVER_AT
            here = (view["destination"]["lon"], view["destination"]["lat"])
            assert here == (last["delivery"]["lon"], last["delivery"]["lat"])
            assert view["driver"]["at"] == "2025-05-02T11:30:00+02:00"  # Paris
            page = client.get(f"/track/{token}", headers=browser).text
            assert str(DRIVER_AT[0]) in page  # in the page's data for its map
            assert "Your driver is close" in page

    # A customer earlier on the route never sees the driver once served.
    first = tenant.ok("post", f"/orders/{orders[0]['id']}/tracking-links", status=201)["token"]
    done = client.get(f"/track/{first}").json()
    assert done["status"] == "completed"
    assert done["driver"] is None and done["stops_before"] is None


def test_a_delivered_order_shows_a_summary_of_its_proof(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    route_id, orders = seed_route(app, tenant)
    order = orders[0]
    token = tenant.ok("post", f"/orders/{order['id']}/tracking-links", status=201)["token"]
    finish(app, tenant, route_id, order, 1)
    assert client.get(f"/track/{token}").json()["proof"] == {
        "delivered_at": "2025-05-02T12:00:00+02:00",
        "recipient_name": "",
        "photo": False,
        "signature": False,
    }
    with app.state.sessionmaker() as session:
        session.add(
            Proof(
                org_id=tenant.org_id,
                route_id=route_id,
                order_id=uuid.UUID(order["id"]),
                source="test",
                event_id="p1",
                stop="job",
                outcome="delivered",
                recipient_name="J. Neighbour",
                barcodes=["BC0000"],
                lon=2.3,
                lat=48.8,
                note="behind the bins",
                photo_file_ids=[str(uuid.uuid4())],
                recorded_at=at(10, 5),
            )
        )
        session.commit()
    view = client.get(f"/track/{token}").json()
    assert view["proof"] == {
        "delivered_at": "2025-05-02T12:05:00+02:00",
        "recipient_name": "J. Neighbour",
        "photo": True,
        "signature": False,
    }
    page = client.get(f"/track/{token}", headers={"Accept": "text/html"}).text
    assert "J. Neighbour" in page and "Friday 2 May at 12:05" in page
    for private in ("behind the bins", "BC0000", "48.8"):
        assert private not in page
