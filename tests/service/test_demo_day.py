"""``lastmile demo --serve``'s day, seeded into a temporary database (not served):
planned, dispatched and under way, and open to the people it prints."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.exceptions import InputError
from lastmile.service.app import create_app
from lastmile.service.demo_day import (
    HELSINKI_BOX,
    SHIFT_HOURS,
    DemoSeedError,
    SeededDay,
    demo_settings,
    fresh_database,
    seed_demo_day,
    serve_demo,
)

ORDERS = 60


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, SeededDay]]:
    folder = tmp_path_factory.mktemp("demo")
    url = fresh_database(folder / "service.db")
    app = create_app(demo_settings(url, public_base_url="http://demo.test"), geocode=None)
    facts = seed_demo_day(app, orders=ORDERS, time_limit_s=3.0)
    yield app, facts


@pytest.fixture(scope="module")
def client(seeded: tuple[FastAPI, SeededDay]) -> Iterator[TestClient]:
    """The seeded app started again, as ``lastmile demo --serve`` serves it after seeding."""
    with TestClient(seeded[0], follow_redirects=False) as client:
        yield client


def _api(client: TestClient, email: str, password: str) -> dict[str, str]:
    r = client.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _get(client: TestClient, path: str, headers: dict[str, str]) -> Any:
    r = client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_printed_user_signs_in_with_the_printed_password(
    client: TestClient, seeded: tuple[FastAPI, SeededDay]
) -> None:
    facts = seeded[1]
    roles = [u.role for u in facts.users]
    assert roles[:2] == ["admin", "dispatcher"]
    assert roles.count("driver") == facts.vehicles >= 6
    assert len({u.password for u in facts.users}) == len(facts.users)
    for user in facts.users:
        me = _get(client, "/auth/me", _api(client, user.email, user.password))
        assert me["user"]["email"] == user.email and me["role"] == user.role
        assert me["org_id"] == str(facts.org_id)


def test_the_plan_is_dispatched_and_keeps_every_rule(
    client: TestClient, seeded: tuple[FastAPI, SeededDay]
) -> None:
    facts = seeded[1]
    dispatcher = facts.user("dispatcher")
    headers = _api(client, dispatcher.email, dispatcher.password)
    plan = _get(client, f"/plans/{facts.plan_id}", headers)
    assert plan["status"] == "dispatched"
    org = _get(client, "/org", headers)
    assert (org["name"], org["timezone"]) == ("Demo Deliveries", "Europe/Helsinki")
    orders = {o["id"]: o for o in _get(client, "/orders?limit=500", headers)}
    assert len(orders) == facts.orders == ORDERS
    capacity = {
        v["id"]: next(t for t in _get(client, "/vehicle-types", headers) if t["id"] == v["type_id"])
        for v in _get(client, "/vehicles", headers)
    }
    assert {t["profile"] for t in capacity.values()} == {"van", "cargo_bike"}

    routed = set()
    for route in plan["routes"]:
        assert route["driver_id"] is not None
        events = _get(client, f"/routes/{route['id']}/events", headers)
        failed = {e["order_id"] for e in events if e["kind"] == "failed"}
        start = dt.datetime.fromisoformat(route["start_at"])
        end = dt.datetime.fromisoformat(route["end_at"])
        assert (start.hour, start.date()) >= (SHIFT_HOURS[0], facts.day)
        assert end <= dt.datetime.combine(facts.day, dt.time(SHIFT_HOURS[1]), start.tzinfo)
        kinds = [v["kind"] for v in route["visits"]]
        if "delivery" in kinds or "job" in kinds:
            assert kinds.count("break") == 1, kinds
        limit = capacity[route["vehicle_id"]]["capacity"]
        for visit in route["visits"]:
            assert all(load <= cap for load, cap in zip(visit["load"], limit, strict=True))
            if visit["order_id"] is None:
                continue
            routed.add(visit["order_id"])
            if visit["order_id"] in failed:
                continue  # its windows moved to the day it is tried again
            windows = orders[visit["order_id"]]["delivery"]["time_windows"]
            begins = dt.datetime.fromisoformat(visit["start_at"])
            assert not windows or any(
                dt.datetime.fromisoformat(w["start"])
                <= begins
                <= dt.datetime.fromisoformat(w["end"])
                for w in windows
            ), (visit, windows)
    left_out = {u["order_id"]: u for u in plan["unassigned"]}
    assert routed | set(left_out) == set(orders) and not routed & set(left_out)
    assert all(u["code"] and u["reason"] for u in left_out.values())
    assert (len(routed), len(left_out)) == (facts.routed, facts.unassigned)
    assert facts.routed > ORDERS // 2


def test_orders_sit_in_central_helsinki_with_parcels_and_most_with_two_hour_windows(
    client: TestClient, seeded: tuple[FastAPI, SeededDay]
) -> None:
    facts = seeded[1]
    admin = facts.user("admin")
    orders = _get(client, "/orders?limit=500", _api(client, admin.email, admin.password))
    w, s, e, n = HELSINKI_BOX
    windowed = 0
    for order in orders:
        stop = order["delivery"]
        assert w <= stop["lon"] <= e and s <= stop["lat"] <= n
        assert stop["address"].endswith(", Helsinki") and order["customer"]["name"]
        assert order["items"] and all(item["barcode"] for item in order["items"])
        for window in stop["time_windows"]:
            length = dt.datetime.fromisoformat(window["end"]) - dt.datetime.fromisoformat(
                window["start"]
            )
            assert length == dt.timedelta(hours=2)
            windowed += 1
    assert windowed > len(orders) // 2


def test_the_day_is_under_way_with_outcomes_positions_and_tracking_links(
    client: TestClient, seeded: tuple[FastAPI, SeededDay]
) -> None:
    facts = seeded[1]
    dispatcher = facts.user("dispatcher")
    headers = _api(client, dispatcher.email, dispatcher.password)
    plan = _get(client, f"/plans/{facts.plan_id}", headers)
    outcomes = {"delivered": 0, "failed": 0}
    for route in plan["routes"]:
        events = _get(client, f"/routes/{route['id']}/events", headers)
        for event in events:
            if event["kind"] in outcomes:
                outcomes[event["kind"]] += 1
        if sum(1 for v in route["visits"] if v["order_id"]) >= 2:
            assert events, route["vehicle_name"]
            assert _get(client, f"/routes/{route['id']}/positions", headers)
    assert (outcomes["delivered"], outcomes["failed"]) == (facts.delivered, facts.failed)
    assert facts.delivered > 0
    assert len(facts.tracking_urls) == 2
    for url in facts.tracking_urls:
        assert url.startswith("http://demo.test/track/")
        answer = client.get(
            url.removeprefix("http://demo.test"), headers={"Accept": "application/json"}
        )
        assert answer.status_code == 200, answer.text
    assert facts.seconds >= facts.planning_seconds > 0


def test_the_dashboard_and_the_driver_app_open_for_their_users(
    seeded: tuple[FastAPI, SeededDay], client: TestClient
) -> None:
    del client  # the app is started
    app, facts = seeded
    for user in facts.users:
        browser = TestClient(app, follow_redirects=False)
        r = browser.post("/login", data={"email": user.email, "password": user.password})
        assert r.status_code == 303, r.text
        page = "/driver" if user.role == "driver" else "/dashboard"
        assert r.headers["location"] == page
        assert browser.get(page).status_code == 200


def test_on_a_road_network_the_day_lies_on_its_roads(tmp_path: Path) -> None:
    monaco = Path(__file__).resolve().parents[1] / "data" / "osm" / "monaco.osm.pbf"
    # The demo plans in a thread: 8 orders on Monaco's roads need 2 s; a fresh day
    # with 5 s when a busy machine made that search miss.
    for time_limit_s in (2.0, 5.0):
        url = fresh_database(tmp_path / f"service-{time_limit_s:g}.db")
        settings = demo_settings(url, public_base_url="http://demo.test", network=str(monaco))
        app = create_app(settings.model_copy(update={"traffic": "none"}), geocode=None)
        try:
            facts = seed_demo_day(app, orders=8, time_limit_s=time_limit_s)
            break
        except DemoSeedError:
            if time_limit_s == 5.0:
                raise
    w, s, e, n = app.state.travel_model.network("car").bounds
    admin = facts.user("admin")
    with TestClient(app) as client:
        orders = _get(client, "/orders", _api(client, admin.email, admin.password))
        plan = _get(client, f"/plans/{facts.plan_id}", _api(client, admin.email, admin.password))
    assert plan["status"] == "dispatched" and plan["travel_model"]["kind"] == "road"
    assert len(orders) == 8
    for order in orders:
        assert w <= order["delivery"]["lon"] <= e and s <= order["delivery"]["lat"] <= n


def test_a_port_in_use_is_refused_before_seeding(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"--port: cannot listen on 127.0.0.1:{port}"):
            serve_demo(out_dir=tmp_path, port=port)
    assert not (tmp_path / "service.db").exists()
