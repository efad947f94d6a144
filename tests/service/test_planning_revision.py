"""The organisation's planning revision moves with every write to what plans are
built from (fleet, depots, orders' stops and amounts, cancellations), in the
writing transaction, and not with the day's routine (new orders, an order's
progress, contact details), so a kept live view is dropped exactly when it must be."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from fastapi import FastAPI

from lastmile.service.orders.models import Order
from lastmile.service.orgs.models import Organisation

from .conftest import DAY, Tenant  # type: ignore[import-not-found]


def revision(app: FastAPI, org_id: uuid.UUID) -> int:
    with app.state.sessionmaker() as session:
        org = session.get(Organisation, org_id)
        assert org is not None
        return org.planning_revision


def moves(app: FastAPI, t: Tenant, method: str, url: str, status: int = 200, **kw: Any) -> int:
    """Call the API; by how much the tenant's planning revision moved."""
    before = revision(app, t.org_id)
    t.ok(method, url, status=status, **kw)
    return revision(app, t.org_id) - before


def test_fleet_and_depot_writes_move_the_revision(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    t = tenant
    before, others = revision(app, t.org_id), revision(app, other_tenant.org_id)
    depot = t.depot()
    vtype = t.vehicle_type()
    van = t.vehicle(vtype["id"], depot["id"])
    assert revision(app, t.org_id) == before + 3
    shift = t.shift("d1", van["id"])
    assert moves(app, t, "patch", f"/depots/{depot['id']}", json={"closes_s": 20 * 3600}) == 1
    assert moves(app, t, "patch", f"/vehicle-types/{vtype['id']}", json={"capacity": [9]}) == 1
    assert moves(app, t, "patch", f"/vehicles/{van['id']}", json={"max_tasks": 12}) == 1
    end = f"{DAY}T19:00:00+02:00"
    assert moves(app, t, "patch", f"/shifts/{shift['id']}", json={"end_at": end}) == 1
    # Deleting a driver deletes their shifts in the database.
    driver = t.ok("post", "/drivers", json={"name": "Temp"}, status=201)
    assert moves(app, t, "delete", f"/drivers/{driver['id']}", status=204) == 1
    # Another organisation's revision never moves with this one's writes.
    assert revision(app, other_tenant.org_id) == others


def test_orders_move_it_only_where_a_plan_would_see_it(app: FastAPI, tenant: Tenant) -> None:
    t = tenant
    before = revision(app, t.org_id)
    order = t.order(1)
    assert revision(app, t.org_id) == before  # in no plan yet
    url = f"/orders/{order['id']}"
    assert moves(app, t, "patch", url, json={"instructions": "ring twice"}) == 0
    assert moves(app, t, "patch", url, json={"customer": {"name": "Someone else"}}) == 0
    stop = dict(order["delivery"])
    stop["time_windows"] = [{"start": f"{DAY}T10:00:00+02:00", "end": f"{DAY}T12:00:00+02:00"}]
    body = {k: stop[k] for k in ("lon", "lat", "time_windows", "service_s")}
    assert moves(app, t, "patch", url, json={"delivery": body}) == 1
    assert moves(app, t, "patch", url, json={"delivery": body}) == 0  # the same again
    assert moves(app, t, "patch", url, json={"amount": [3]}) == 1
    assert moves(app, t, "patch", url, json={"priority": 7}) == 1
    assert moves(app, t, "post", f"{url}/cancel") == 1


def test_an_orders_progress_leaves_it_alone(app: FastAPI, tenant: Tenant) -> None:
    t = tenant
    order = t.order(2)
    before = revision(app, t.org_id)
    with app.state.sessionmaker() as session:
        row = session.get(Order, uuid.UUID(order["id"]))
        assert row is not None
        row.status = "planned"
        session.commit()
        assert revision(app, t.org_id) == before
        row.status = "cancelled"
        session.commit()
    assert revision(app, t.org_id) == before + 1


def test_concurrent_writers_lose_no_raise(app: FastAPI, tenant: Tenant) -> None:
    """The counter is raised in SQL: writers in parallel each add one."""
    t = tenant
    depot = t.depot()
    vtype = t.vehicle_type()
    vans = [t.vehicle(vtype["id"], depot["id"]) for _ in range(4)]
    before = revision(app, t.org_id)
    errors: list[BaseException] = []

    def patch(van: dict[str, Any]) -> None:
        try:
            for k in range(5):
                r = t.patch(f"/vehicles/{van['id']}", json={"max_tasks": 20 + k})
                assert r.status_code == 200, r.text
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=patch, args=(van,)) for van in vans]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert revision(app, t.org_id) == before + 20
