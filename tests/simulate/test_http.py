"""The twin driving the real service through its HTTP API (a private server, simulated clock)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from lastmile.cli import main
from lastmile.domain.day import StopStatus
from lastmile.exceptions import InputError
from lastmile.service.clock import SimulatedClock
from lastmile.service.settings import Settings
from lastmile.service.simulation import private_service
from lastmile.simulate.http import (
    DayPlan,
    Mirror,
    ServiceClock,
    ServiceDay,
    ServiceDriveError,
    clock_start,
)
from lastmile.simulate.twin import TwinConfig
from lastmile.travel.noise import TravelNoise

SPEED = 2500
START = clock_start(dt.date(2030, 12, 10), ZoneInfo("Europe/Helsinki"), SPEED)


def test_the_clock_setting_parses_and_refuses_bad_values_naming_the_field() -> None:
    clock = SimulatedClock.parse("2026-12-08T06:00:00+01:00 x120")
    assert clock.start == dt.datetime(2026, 12, 8, 5, tzinfo=dt.UTC)
    assert clock.speed == 120
    assert clock.now() >= clock.start
    for bad in ("tomorrow x2", "2026-12-08T06:00 x2", "2026-12-08T06:00+01:00 x0", "x"):
        with pytest.raises(InputError, match="LASTMILE_SIMULATED_CLOCK"):
            SimulatedClock.parse(bad)
    with pytest.raises(ValueError, match="simulated_clock"):
        Settings(simulated_clock="2026-12-08T06:00 x120", _env_file=None)  # type: ignore[call-arg]


def test_a_held_clock_stands_still_and_runs_on_from_where_it_stopped() -> None:
    clock = SimulatedClock.parse("2026-12-08T06:00:00+01:00 x1000")
    clock.hold()
    held_at = clock.now()
    time.sleep(0.02)
    assert clock.held and clock.now() == held_at
    clock.run()
    time.sleep(0.02)
    assert not clock.held
    assert held_at < clock.now() < held_at + dt.timedelta(seconds=3600)


def test_a_day_driven_through_the_service() -> None:
    config = TwinConfig(noise=TravelNoise.parse("lognormal:sigma=0.2"), absent_rate=0.1)
    with (
        private_service(start=START, speed=SPEED, planning_limit_s=1) as svc,
        httpx.Client(base_url=svc.url, timeout=60) as client,
    ):
        health = client.get("/health").json()
        assert health["clock"]["simulated"] is True
        assert health["clock"]["speed"] == SPEED
        # Held while the day is set up: no simulated time passes.
        assert health["clock"]["held"] is True
        held_at = dt.datetime.fromisoformat(health["clock"]["now"])
        assert START <= held_at < START + dt.timedelta(minutes=1)
        spec = DayPlan(
            orders=20, vans=3, urgent_orders=1, breakdowns=1, breakdown_share=0, time_limit_s=1
        )
        day = ServiceDay(client, svc.token, spec=spec, config=config, before_driving=svc.run_clock)
        assert client.get("/health").json()["clock"]["now"] == health["clock"]["now"]
        result = day.run()
        assert client.get("/health").json()["clock"]["held"] is False
        record = result.record
        assert record.source == "service"
        # Every stop the twin finished is finished in the service too.
        by_order: dict[str, list[dict[str, object]]] = {}
        for _name, route in day_routes(day):
            for outcome in day.admin.call("GET", f"/routes/{route}/outcomes"):
                by_order.setdefault(outcome["order_id"], []).append(outcome)
        mirror_ids = day_mirror(day).order_ids
        # The service stamped what it received with its simulated clock.
        events = [
            e
            for _name, route in day_routes(day)
            for e in day.admin.call("GET", f"/routes/{route}/events")
        ]
        # (START lies years away from the wall clock; a slow machine may let the
        # simulated day run past midnight, so the next day is allowed too.)
        received = [dt.datetime.fromisoformat(str(e["received_at"])) for e in events]
        late = START + dt.timedelta(days=2)
        assert events and all(START <= t < late for t in received), (min(received), max(received))
        finished = [s for s in record.stops if s.status in (StopStatus.DONE, StopStatus.FAILED)]
        assert finished
        for stop in finished:
            service = by_order[mirror_ids[stop.order_id]]
            outcomes = {o["outcome"] for o in service}
            want = {"delivered", "picked_up"} if stop.status is StopStatus.DONE else {"failed"}
            assert want & outcomes, (stop, service)
        # The service's ETAs were read and kept with the actual arrivals.
        assert result.counts["eta_reads"] > 0
        assert record.eta_samples
        assert all(s.actual_arrival >= s.asked_at for s in record.eta_samples)
        # The urgent order, inserted by the service, is driven as inserted.
        urgent = [s for s in record.stops if s.order_id.startswith("urgent-")]
        assert urgent and all(s.inserted for s in urgent)
        assert result.counts["plan_changes"] >= 2
        # The broken van's stops the service moved are driven by other vans.
        broken = next(i.vehicle_id for i in record.incidents if i.kind == "breakdown")
        left = {s.order_id for s in record.stops if s.vehicle_id == broken}
        left &= {s.order_id for s in record.stops if s.status is StopStatus.NOT_REACHED}
        moved = [s for s in record.stops if s.order_id in left and s.vehicle_id != broken]
        for s in moved:  # each stop the service gave another van was driven there
            assert s.status in (StopStatus.DONE, StopStatus.FAILED), s
        assert result.counts["breakdowns"] == 1
        assert result.counts.get("notifications", 0) > 0
        counted = Counter(s.status for s in record.stops)
        assert counted[StopStatus.DONE] > 0


def day_routes(day: ServiceDay) -> list[tuple[str, str]]:
    assert day.mirror is not None
    return list(day.mirror.route_ids.items())


def day_mirror(day: ServiceDay) -> Mirror:
    assert day.mirror is not None
    return day.mirror


def test_a_service_on_the_wall_clock_is_refused_for_another_day() -> None:
    now = dt.datetime.now(dt.UTC)
    clock = ServiceClock(simulated=False, speed=1.0, now=now, read_at=time.monotonic())
    zone = ZoneInfo("Europe/Helsinki")
    with pytest.raises(ServiceDriveError, match="wall clock"):
        clock.check_drivable(dt.date(2020, 1, 1), zone)
    clock.check_drivable(now.astimezone(zone).date(), zone)  # today at real speed: fine


def test_the_command_asks_for_what_driving_a_service_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "day.json")
    for args, where in (
        (["--service", "http://127.0.0.1:9"], "--token"),
        (["--service", "http://127.0.0.1:9", "--serve", "--token", "t"], "--service"),
        (["--serve", "--speed", "0"], "--speed"),
    ):
        assert main(["simulate", *args, "--orders", "5", "-o", out]) == 2
        assert f"{where}:" in capsys.readouterr().err


def test_a_private_service_writes_only_its_own_texts_to_its_file(tmp_path: Path) -> None:
    """Another service in the same process (tests, a second private service) logs
    its texts to ``lastmile.sms`` too; they stay out of this one's file."""
    texts = tmp_path / "texts.log"
    with private_service(start=START, speed=SPEED, sms_log=texts):
        logging.getLogger("lastmile.sms").info("SMS to +33100000000 [x]: another service")
        logging.getLogger("lastmile.sms.private-elsewhere").info("SMS to +331 [y]: and another")
    assert "+331" not in texts.read_text()


@pytest.mark.parametrize("on_time", [None, 0.5])
def test_the_plan_request_asks_for_a_robust_plan_when_the_day_says_so(
    on_time: float | None,
) -> None:
    from lastmile.simulate.http import Api, DayPlan, plan_and_dispatch

    posted: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/plans":
            posted.append(json.loads(request.content))
            return httpx.Response(202, json={"id": "p1"})
        if request.url.path == "/plans/p1/job":
            return httpx.Response(200, json={"status": "succeeded"})
        if request.url.path == "/plans/p1/dispatch":
            return httpx.Response(200, json={"routes": []})
        return httpx.Response(404, json={"detail": "not here"})

    spec = DayPlan(robust_on_time=on_time)
    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://svc") as client:
        out = plan_and_dispatch(Api(client, "t"), dt.date(2026, 5, 4), 3.0, spec.robust_on_time)
    assert out == {"routes": []}
    expected: dict[str, object] = {"date": "2026-05-04", "time_limit_s": 3.0}
    if on_time is not None:
        expected["robust"] = {"on_time": on_time}
    assert posted == [expected]


def test_a_day_refuses_a_robust_target_outside_0_and_1() -> None:
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(InputError, match="robust_on_time"):
            DayPlan(robust_on_time=bad)
