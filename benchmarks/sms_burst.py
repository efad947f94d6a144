"""A burst of texts through an HTTP gateway while webhooks wait on a slow receiver.

Queues ``--messages`` texts (one per order, as dispatching a day does) and
``--webhooks`` webhook deliveries to one receiver that takes ``--webhook-delay``
seconds to answer each call, then runs the notifier's two sending paths at once,
as the service does: the webhook pool (its loop on a thread of its own, starting
calls every 0.1 s) and the SMS loop (:meth:`Notifier.send_texts_once` until
nothing is due). The gateway is a local HTTP server (the generic HTTP gateway
talks to it, through the same address check as in production) that answers each
text in ``--gateway-latency`` seconds and refuses every ``--fail-every``-th
request with 503, so texts are also retried (back-off set to 0 here).

Counted at the gateway: each text's reference accepted (2xx) exactly once is
right; a reference never accepted is **lost**, one accepted twice or more is
**duplicated**. Printed: time from the first text sent to the last, texts/s,
attempts, lost, duplicated, webhook calls still pending or in flight when the
last text went, and the same burst with no webhooks pending (the peer, in the
same process), with the ratio of the two times.

    python benchmarks/sms_burst.py [--messages 1000] [--webhooks 200]
        [--webhook-delay 2] [--gateway-latency 0.005] [--fail-every 20]
        [--sms-workers 4] [--database-url sqlite:///...]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from lastmile.service import db
from lastmile.service.notifications.delivery import Senders
from lastmile.service.notifications.gateways import make_gateway
from lastmile.service.notifications.models import (
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from lastmile.service.notifications.outbox import install_outbox
from lastmile.service.notifications.queue import queue_sms
from lastmile.service.notifications.runtime import Notifier
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order
from lastmile.service.orgs.service import create_org


class Gateway:
    """Counts accepted references; refuses every ``fail_every``-th request."""

    def __init__(self, latency_s: float, fail_every: int) -> None:
        self.accepted: Counter[str] = Counter()
        self.requests = 0
        self.first = self.last = 0.0
        self.lock = threading.Lock()
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(latency_s)
                with gateway.lock:
                    gateway.requests += 1
                    n = gateway.requests
                    refuse = fail_every > 0 and n % fail_every == 0
                    if not refuse:
                        gateway.accepted[body["reference"]] += 1
                        now = time.perf_counter()
                        gateway.first = gateway.first or now
                        gateway.last = now
                data = json.dumps({"id": f"g{n}"}).encode()
                self.send_response(503 if refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SlowReceiver:
    """A webhook receiver that answers after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.calls = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.calls += 1
                time.sleep(delay_s)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _queue(sessions: Any, *, messages: int, webhooks: int, hook_url: str) -> list[str]:
    with sessions() as session:
        session.info["lastmile_outbox_off"] = True
        org = create_org(session, name="Burst", slug=f"burst-{uuid.uuid4().hex[:8]}")
        orders = [
            Order(org_id=org.id, kind="delivery", customer_phone=f"+336{k:08d}")
            for k in range(messages)
        ]
        session.add_all(orders)
        session.flush()
        refs = [
            str(
                queue_sms(
                    session, org_id=org.id, order_id=o.id, to=o.customer_phone, text=f"T{k}"
                ).id
            )
            for k, o in enumerate(orders)
        ]
        if webhooks:
            endpoint = WebhookEndpoint(org_id=org.id, url=hook_url, secret="whsec_x", events=[])
            session.add(endpoint)
            session.flush()
            session.add_all(
                WebhookDelivery(
                    org_id=org.id,
                    endpoint_id=endpoint.id,
                    event_id=uuid.uuid4(),
                    event_type="order.created",
                    payload={"n": k},
                )
                for k in range(webhooks)
            )
        session.commit()
    return refs


@contextlib.contextmanager
def _database(url: str, tmp: str, name: str) -> Iterator[str]:
    """A fresh database for one run: an SQLite file, or a PostgreSQL schema made for
    it and dropped after."""
    if not url:
        yield f"sqlite:///{Path(tmp) / f'{name}.db'}"
        return
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"lastmile_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={urllib.parse.quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def burst(args: argparse.Namespace, url: str, *, webhooks: int) -> dict[str, Any]:
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    gateway = Gateway(args.gateway_latency, args.fail_every)
    receiver = SlowReceiver(args.webhook_delay)
    settings = NotifySettings(
        sms_gateway="http",
        sms_http_url=gateway.url,
        sms_gateway_allow="127.0.0.1/32",
        webhook_allow="127.0.0.1/32",
        sms_workers=args.sms_workers,
        sms_backoff_s=0.0,
        sms_max_attempts=10,
        webhook_timeout_s=args.webhook_delay + 5,
        webhook_per_endpoint=args.webhook_per_endpoint,
        webhook_workers=args.webhook_per_endpoint,
    )
    notifier = Notifier(
        settings=settings,
        sessions=sessions,
        senders=Senders(email=None, sms=make_gateway(settings), http=httpx.Client()),
    )
    refs = _queue(sessions, messages=args.messages, webhooks=webhooks, hook_url=receiver.url)
    stop = threading.Event()

    def webhook_loop() -> None:
        while not stop.is_set():
            notifier.start_webhooks()
            stop.wait(0.1)

    hooks = threading.Thread(target=webhook_loop, daemon=True)
    hooks.start()
    time.sleep(0.3 if webhooks else 0.0)  # the webhook calls are under way first
    started = time.perf_counter()
    rounds = 0
    while True:
        rounds += 1
        notifier.send_texts_once()
        with sessions() as session:
            left = session.scalar(select(func.count()).where(OutboundMessage.status == "pending"))
        if not left or time.perf_counter() - started > args.timeout:
            break
    elapsed = time.perf_counter() - started
    answered = receiver.calls
    with sessions() as session:
        hooks_waiting = session.scalar(
            select(func.count()).where(WebhookDelivery.status == "pending")
        )
        attempts = session.scalar(select(func.sum(OutboundMessage.attempts)))
        statuses = Counter(session.scalars(select(OutboundMessage.status)))
    stop.set()
    hooks.join()
    assert notifier.pool is not None and notifier.sms_pool is not None
    notifier.pool.close()
    notifier.sms_pool.shutdown()
    notifier.senders.http.close()
    assert notifier.senders.sms is not None
    notifier.senders.sms.close()
    gateway.close()
    receiver.close()
    engine.dispose()
    lost = sum(1 for r in refs if gateway.accepted[r] == 0)
    duplicated = sum(1 for r in refs if gateway.accepted[r] > 1)
    return {
        "texts": len(refs),
        "seconds": elapsed,
        "rate": len(refs) / elapsed,
        "attempts": attempts,
        "refused_503": gateway.requests - sum(gateway.accepted.values()),
        "lost": lost,
        "duplicated": duplicated,
        "statuses": dict(statuses),
        "webhooks_queued": webhooks,
        "webhooks_still_pending": hooks_waiting,
        "webhook_calls_answered": answered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--webhook-delay", type=float, default=2.0)
    parser.add_argument("--webhook-per-endpoint", type=int, default=2)
    parser.add_argument("--gateway-latency", type=float, default=0.005)
    parser.add_argument("--fail-every", type=int, default=20)
    parser.add_argument("--sms-workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print("command: python benchmarks/sms_burst.py " + " ".join(sys.argv[1:]))
    print(f"database: {args.database_url.split('@')[-1] if args.database_url else 'SQLite'}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, Python "
        f"{platform.python_version()}"
    )
    install_outbox()
    # A refused attempt is logged as a warning; the counts below say what matters.
    logging.getLogger("lastmile.sms").setLevel(logging.ERROR)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, webhooks in (("with slow webhooks pending", args.webhooks), ("no webhooks", 0)):
            with _database(args.database_url, tmp, str(webhooks)) as url:
                results[name] = burst(args, url, webhooks=webhooks)
            r = results[name]
            print(
                f"{name:28s} {r['texts']} texts in {r['seconds']:.2f} s = {r['rate']:.0f}/s; "
                f"attempts {r['attempts']} ({r['refused_503']} refused with 503, retried); "
                f"lost {r['lost']}, duplicated {r['duplicated']}; statuses {r['statuses']}; "
                f"webhooks when the last text went: {r['webhook_calls_answered']} calls "
                f"received, {r['webhooks_still_pending']} of {r['webhooks_queued']} pending"
            )
    slow, alone = results["with slow webhooks pending"], results["no webhooks"]
    print(f"time with slow webhooks pending / without: {slow['seconds'] / alone['seconds']:.2f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bad = any(r["lost"] or r["duplicated"] for r in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
