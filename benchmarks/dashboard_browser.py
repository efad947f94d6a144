"""The dispatcher's live page (/dashboard) on a 1,000-stop day, in Chromium.

1. The service (``lastmile.service.app:create_app`` under uvicorn, one worker, in a
   process of its own, SQLite) gets the day ``benchmarks/replan_service.py`` seeds:
   one depot, ``--vans`` vans with drivers on shift, ``--orders`` deliveries,
   planned by the service's job (``--plan-seconds``) and dispatched; half the routes
   started, what was due by now reported, a GPS fix each. The organisation's time
   zone is where it is now ``--at`` o'clock, so the plan is "today" there.
2. Headless Chromium (Debian's, through Playwright) signs in and opens /dashboard;
   printed: first paint and first contentful paint, and the time until the routes
   are drawn (the page's ``lastmile:routes-drawn`` mark: plan, routes, their stop
   events and ETAs read (``lastmile:data-read``), map and timeline drawn), all from
   the start of navigation.
3. Then GPS fixes are posted through the API at ``--rate`` per second for
   ``--duration`` seconds (one fix per request, round robin over the routes, from
   a thread pool, each fix stamped with the time it is sent). Four times a second
   the script reads the newest fix time the page shows and compares it with the
   newest fix sent by then: printed are how far behind the page is (p50, p95, max),
   how long after the last fix it shows that one, the rate achieved, and the
   page's long tasks (main thread busy over 50 ms) while the fixes arrived.

    python benchmarks/dashboard_browser.py [--orders 1000] [--vans 20] [--rate 50]
        [--duration 20] [--plan-seconds 30] [--at 11]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import itertools
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from replan_service import Api, bootstrap, day_where_it_is, seed_day, server_process, start_routes

CHROMIUM = os.environ.get("LASTMILE_CHROMIUM", "/usr/bin/chromium")


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--vans", type=int, default=20)
    p.add_argument("--plan-seconds", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=50.0, help="GPS fixes per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of fixes")
    p.add_argument("--at", type=int, default=11, help="local hour of the day (org's zone)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--live-view-ttl", type=float, default=30.0)
    return p.parse_args(argv)


class Poster:
    """Posts one fix per request at ``rate`` per second, round robin over ``routes``."""

    def __init__(self, base: str, token: str, routes: list[dict[str, Any]], rate: float) -> None:
        self.base, self.token, self.routes, self.rate = base, token, routes, rate
        self.newest_sent: dt.datetime | None = None
        self.sent = 0
        self.failed = 0
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            self._local.client = httpx.Client(
                base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
            )
        client: httpx.Client = self._local.client
        return client

    def _post(self, route: dict[str, Any], k: int) -> None:
        stops = [v for v in route["visits"] if v["lat"] is not None]
        v = stops[k % len(stops)]
        now = dt.datetime.now(dt.UTC)
        at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what the page keeps
        fix = {
            "event_id": f"bench-{uuid.uuid4()}",
            "at": at.isoformat(),
            "lon": v["lon"] + 0.0005,
            "lat": v["lat"] + 0.0005,
        }
        began = time.perf_counter()
        r = self._client().post(f"/routes/{route['id']}/pings", json={"pings": [fix]})
        spent = time.perf_counter() - began
        with self._lock:
            self.latencies.append(spent)
            if r.status_code == 200:
                self.sent += 1
                if self.newest_sent is None or at > self.newest_sent:
                    self.newest_sent = at
            else:
                self.failed += 1

    def run(self, duration: float) -> float:
        """Posts for ``duration`` seconds; returns the seconds it took."""
        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            futures = []
            for k in itertools.count():
                due = began + k / self.rate
                if due - began >= duration:
                    break
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                route = self.routes[k % len(self.routes)]
                futures.append(pool.submit(self._post, route, k // len(self.routes)))
            for f in futures:
                f.result()
        return time.perf_counter() - began


def shown_fix(page: Any) -> dt.datetime | None:
    at = page.evaluate("document.getElementById('kpi-newest-fix').dataset.at")
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    rng = random.Random(args.seed)
    day, now = day_where_it_is(args.at)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        email, password = bootstrap(url, day.timezone)
        with server_process(url, args, Path(folder) / "server.log") as client:
            base = str(client.base_url).rstrip("/")
            token = client.post("/auth/login", json={"email": email, "password": password}).json()[
                "access_token"
            ]
            api = Api(client, token)
            began = time.perf_counter()
            plan_id = seed_day(api, args, rng, day)
            started, done, failed = start_routes(api, plan_id, now, rng)
            plan = api.call("get", f"/plans/{plan_id}")
            routes = [r for r in plan["routes"] if r["visits"]]
            stops = sum(1 for r in routes for v in r["visits"] if v["order_id"])
            print(
                f"day {day.date} ({day.timezone}): {stops} stops on {len(routes)} routes, "
                f"{started} started, {done} reported ({failed} failed); "
                f"seeded in {time.perf_counter() - began:.0f} s; load {os.getloadavg()[0]:.1f}"
            )

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--headless", "--no-sandbox", "--disable-gpu"],
                )
                context = browser.new_context(
                    viewport={"width": 1400, "height": 1000}, base_url=base
                )
                page = context.new_page()
                page.goto("/login?next=/dashboard")
                page.fill("#email", email)
                page.fill("#password", password)
                page.click("button[type=submit]")
                page.wait_for_selector("body[data-live-ready=true]", timeout=300_000)
                # Measured again on a second load, the sign-in's redirect aside.
                page.reload()
                page.wait_for_selector("body[data-live-ready=true]", timeout=300_000)
                timings = page.evaluate(
                    """() => {
                        const paint = Object.fromEntries(performance.getEntriesByType('paint')
                            .map(e => [e.name, e.startTime]));
                        const drawn = performance.getEntriesByName('lastmile:routes-drawn')[0];
                        const read = performance.getEntriesByName('lastmile:data-read')[0];
                        const nav = performance.getEntriesByType('navigation')[0];
                        return {fp: paint['first-paint'], fcp: paint['first-contentful-paint'],
                                drawn: drawn ? drawn.startTime : null,
                                read: read ? read.startTime : null,
                                dom: nav.domContentLoadedEventEnd,
                                bars: document.querySelectorAll('#live-timeline .bar.stop').length};
                    }"""
                )
                print(
                    f"first paint {timings['fp']:.0f} ms, first contentful paint "
                    f"{timings['fcp']:.0f} ms, DOM ready {timings['dom']:.0f} ms, routes drawn "
                    f"{timings['drawn']:.0f} ms ({timings['bars']} stop bars; the API read by "
                    f"{timings['read']:.0f} ms, so {timings['drawn'] - timings['read']:.0f} ms "
                    "building the map and timeline)"
                )
                page.evaluate(
                    """() => { window.__long = [];
                        new PerformanceObserver(l => window.__long.push(
                            ...l.getEntries().map(e => e.duration)))
                          .observe({type: 'longtask', buffered: false}); }"""
                )

                work_before = page.evaluate("({...window.lastmileLiveWork})")
                poster = Poster(base, token, routes, args.rate)
                spent: list[float] = []
                thread = threading.Thread(target=lambda: spent.append(poster.run(args.duration)))
                thread.start()
                behind: list[float] = []
                while thread.is_alive():
                    time.sleep(0.25)
                    sent = poster.newest_sent
                    shown = shown_fix(page)
                    if sent is not None and shown is not None:
                        behind.append(max(0.0, (sent - shown).total_seconds()))
                thread.join()
                last = poster.newest_sent
                caught = time.perf_counter()
                while (shown := shown_fix(page)) is None or last is None or shown < last:
                    if time.perf_counter() - caught > 60:
                        break
                    time.sleep(0.02)
                catch_up = time.perf_counter() - caught
                long_tasks = page.evaluate("window.__long")
                work_after = page.evaluate("({...window.lastmileLiveWork})")
                browser.close()

            lat = sorted(poster.latencies)
            print(
                f"fixes: {poster.sent} accepted ({poster.failed} refused) in {spent[0]:.1f} s = "
                f"{poster.sent / spent[0]:.1f}/s; "
                f"request p50 {1000 * statistics.median(lat):.0f} ms, "
                f"p95 {1000 * lat[int(0.95 * (len(lat) - 1))]:.0f} ms"
            )
            if behind:
                behind.sort()
                print(
                    "page behind the newest fix sent "
                    f"(sampled every 0.25 s, {len(behind)} samples): "
                    f"p50 {1000 * statistics.median(behind):.0f} ms, "
                    f"p95 {1000 * behind[int(0.95 * (len(behind) - 1))]:.0f} ms, "
                    f"max {1000 * behind[-1]:.0f} ms"
                )
            print(
                f"last fix shown {1000 * catch_up:.0f} ms after the fixes stopped; "
                f"{len(long_tasks)} long tasks on the page's main thread "
                f"(longest {max(long_tasks, default=0):.0f} ms); load {os.getloadavg()[0]:.1f}"
            )
            work = {k: work_after[k] - work_before[k] for k in work_before}
            frames = max(1, work["frames"])
            print(
                f"the page's own work: {work['events']} live events handled in "
                f"{work['eventMs']:.0f} ms, {work['frames']} frames drawn in "
                f"{work['frameMs']:.0f} ms (mean {work['frameMs'] / frames:.2f} ms, longest "
                f"{work_after['longestFrameMs']:.1f} ms)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
